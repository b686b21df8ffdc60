"""Information units.  The engine computes in nats and reports in the user's units."""

from __future__ import annotations

import dataclasses
import math
from typing import TypeVar

import numpy as np

__all__ = ["NATS_PER_BIT", "from_nats", "to_nats", "NatsWithError"]

NATS_PER_BIT = math.log(2.0)


def from_nats(value, units: str):
    """Convert a value (or array) in nats to ``units`` ("bits" or "nats")."""
    return np.divide(value, NATS_PER_BIT) if units == "bits" else value


def to_nats(value, units: str):
    """Convert a value (or array) in ``units`` to nats."""
    return np.multiply(value, NATS_PER_BIT) if units == "bits" else value


_Value = TypeVar("_Value", bound="NatsWithError")


class NatsWithError:
    """For frozen dataclasses holding an MI ``mi_nats`` with its standard error
    ``se_nats`` in nats, reported in their ``units`` field (a result puts them in its
    own units; saved files keep nats)."""

    mi_nats: float
    se_nats: float
    units: str

    @property
    def mi(self) -> float:
        """The value in ``units``."""
        return float(from_nats(self.mi_nats, self.units))

    @property
    def se(self) -> float:
        """Its standard error in ``units``."""
        return float(from_nats(self.se_nats, self.units))

    def to_units(self: _Value, units: str) -> _Value:
        """The same value reported in ``units`` ("bits" or "nats")."""
        return dataclasses.replace(self, units=units)

    def in_units(self, units: str) -> tuple[float, float]:
        """(mi, se) in ``units``."""
        return float(from_nats(self.mi_nats, units)), float(from_nats(self.se_nats, units))
