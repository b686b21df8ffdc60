"""The result of a pairwise map: MI for every pair of channels, each with its verdict."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter.engine.errors import OptionError
from nmi_jupyter.engine.results import SavedResult, saved_fields
from nmi_jupyter.engine.sweep_result import SweepPoint, points_fields
from nmi_jupyter.engine.verdict import Flag, pairwise_flags, summarised_flags

__all__ = ["PairwiseResult", "pair_values", "summarised_flags"]

# Pairs listed by summary(), largest MI first.
_SUMMARY_PAIRS = 10


def pair_values(i: int, j: int) -> dict[str, int]:
    """A pair's label, as its :class:`SweepPoint` holds it: ``{"x": i, "y": j}``."""
    return {"x": int(i), "y": int(j)}


@dataclass(frozen=True)
class PairwiseResult(SavedResult):
    """MI for every pair of channels (``nmi.pairwise``).

    ``within``: the pairs i < j of x's channels (``matrix`` symmetric, NaN diagonal);
    otherwise every x channel with every y channel (``matrix`` rows x, columns y).
    ``points``: one :class:`SweepPoint` per pair that finished (values ``{"x": i,
    "y": j}``): ``repeats`` estimates, or with ``rigorous`` a rigorous analysis.
    ``flags``: each code once, counting the pairs that have it; ``to_frame()`` gives
    every pair's own verdict.
    """

    within: bool
    x_names: tuple[str, ...]
    y_names: tuple[str, ...]
    points: tuple[SweepPoint, ...]
    units: str
    rigorous: bool
    repeats: int
    settings: dict[str, Any]
    n_samples: int
    stop_reason: str
    elapsed: float
    device: str
    version: str = ""

    # ----- the pairs -----
    @property
    def pairs(self) -> list[tuple[int, int]]:
        """(x channel, y channel) of every finished pair, in training order."""
        return [(int(p.values["x"]), int(p.values["y"])) for p in self.points]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.x_names), len(self.y_names)

    @property
    def planned(self) -> int:
        cx, cy = self.shape
        return cx * (cx - 1) // 2 if self.within else cx * cy

    @property
    def stopped(self) -> bool:
        return self.stop_reason != "completed"

    def label(self, i: int, j: int) -> str:
        """``x0-x3``: a pair in words."""
        return f"{self.x_names[i]}-{self.y_names[j]}"

    def point(self, i: int, j: int) -> SweepPoint:
        """The pair (i, j) (either order within x).  Raises :class:`OptionError` for a
        pair that is not in the map."""
        for a, b in ((i, j), (j, i)) if self.within else ((i, j),):
            for p in self.points:
                if p.values["x"] == a and p.values["y"] == b:
                    return p
        raise OptionError(f"The map has no pair ({i}, {j}).")

    def _matrix(self, values: np.ndarray) -> np.ndarray:
        out = np.full(self.shape, np.nan)
        for value, (i, j) in zip(values, self.pairs, strict=True):
            out[i, j] = value
            if self.within:
                out[j, i] = value
        return out

    @property
    def matrix(self) -> np.ndarray:
        """MI of every pair (numpy, ``units``): (x channels, x channels) symmetric with a
        NaN diagonal within x, else (x channels, y channels); NaN where a pair has no
        value."""
        return self._matrix(np.array([p.mi for p in self.points], dtype=float))

    @property
    def errors(self) -> np.ndarray:
        """Each pair's error (the standard error of its runs' mean, or the half-width of
        its rigorous interval), shaped as :attr:`matrix`; NaN with one run per pair."""
        return self._matrix(np.array([p.mi_error for p in self.points], dtype=float))

    @functools.cached_property
    def flags(self) -> tuple[Flag, ...]:
        return pairwise_flags(self)

    # ----- tables and text -----
    def to_frame(self):
        """One row per finished pair (pandas): ``x``, ``y`` (channel indices),
        ``x_name``, ``y_name``, ``mi``, ``mi_error``, ``n_runs``, ``verdict``,
        ``is_reliable``, ``reasons`` and ``flags`` (the pair's own)."""
        import pandas as pd

        rows = [
            {
                "x": i,
                "y": j,
                "x_name": self.x_names[i],
                "y_name": self.y_names[j],
                "mi": p.mi,
                "mi_error": p.mi_error,
                "n_runs": p.n_runs,
                "verdict": "reliable" if p.is_reliable else "unreliable",
                "is_reliable": p.is_reliable,
                "reasons": "; ".join(p.reasons),
                "flags": ", ".join(f.code for f in p.flags),
            }
            for (i, j), p in zip(self.pairs, self.points, strict=True)
        ]
        columns = ["x", "y", "x_name", "y_name", "mi", "mi_error", "n_runs", "verdict"]
        return pd.DataFrame(rows, columns=[*columns, "is_reliable", "reasons", "flags"])

    def summary(self) -> str:
        s = self.settings
        what = (
            "a rigorous analysis"
            if self.rigorous
            else (f"{self.repeats} estimate{'s' if self.repeats != 1 else ''}")
        )
        scope = (
            f"{len(self.x_names)} channels of x"
            if self.within
            else f"{len(self.x_names)} x channels by {len(self.y_names)} y channels"
        )
        lines = [
            f"pairwise MI of {scope}: {len(self.points)} of {self.planned} pairs, each {what} "
            f"({s['estimator']} bound, N = {self.n_samples}, {self.elapsed:.1f} s on "
            f"{self.device})",
        ]
        order = sorted(
            range(len(self.points)),
            key=lambda k: -self.points[k].mi if math.isfinite(self.points[k].mi) else math.inf,
        )
        if len(order) > _SUMMARY_PAIRS:
            lines.append(f"largest {_SUMMARY_PAIRS}:")
        for k in order[:_SUMMARY_PAIRS]:
            p = self.points[k]
            error = f" ± {p.mi_error:.3f}" if math.isfinite(p.mi_error) else ""
            verdict = "" if p.is_reliable else "  NOT reliable"
            lines.append(f"  {self.label(*self.pairs[k])}: {p.mi:.3f}{error} {self.units}{verdict}")
        lines += self.verdict_lines()
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<PairwiseResult {len(self.points)} of {self.planned} pairs, {self.units}, "
            f"{self.verdict_word}>"
        )

    def _repr_html_(self) -> str:
        from nmi_jupyter.widgets.html import _summary_html

        return _summary_html("pairwise", self)

    def panel(self):
        """The heatmap (bqplot); clicking a cell shows that pair's training curves (and
        its fit when rigorous)."""
        from nmi_jupyter.widgets.pairwise_panel import PairwisePanel

        return PairwisePanel(self)

    def plot(self, ax=None):
        """The MI matrix as a heatmap with a colour bar (matplotlib).  Returns the Axes."""
        from nmi_jupyter.engine.pairwise_plots import plot_pairwise

        return plot_pairwise(self, ax=ax)

    # ----- plain-data round trip -----
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "pairwise",
            "within": self.within,
            "x_names": list(self.x_names),
            "y_names": list(self.y_names),
            **points_fields(self),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairwiseResult:
        return cls(
            **saved_fields(
                cls,
                d,
                convert={
                    "x_names": lambda names: tuple(str(n) for n in names),
                    "y_names": lambda names: tuple(str(n) for n in names),
                    "points": lambda ps: tuple(SweepPoint.from_dict(p) for p in ps),
                    "within": bool,
                    "rigorous": bool,
                },
            )
        )
