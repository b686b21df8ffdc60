"""Information units.  The engine computes in nats and reports in the user's units."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["NATS_PER_BIT", "from_nats", "to_nats"]

NATS_PER_BIT = math.log(2.0)


def from_nats(value, units: str):
    """Convert a value (or array) in nats to ``units`` ("bits" or "nats")."""
    return np.divide(value, NATS_PER_BIT) if units == "bits" else value


def to_nats(value, units: str):
    """Convert a value (or array) in ``units`` to nats."""
    return np.multiply(value, NATS_PER_BIT) if units == "bits" else value
