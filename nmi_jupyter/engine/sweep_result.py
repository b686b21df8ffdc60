"""The result of a sweep: MI at every point of a grid of settings, each with its verdict."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter.engine.results import SavedResult, float_out, saved_fields
from nmi_jupyter.engine.rigorous_result import RigorousResult, RunRecord
from nmi_jupyter.engine.verdict import (
    Flag,
    Verdict,
    most_serious_first,
    sweep_flags,
    sweep_point_flags,
)

__all__ = ["SweepPoint", "SweepResult", "point_label", "points_fields"]


def point_label(values: dict[str, Any]) -> str:
    """``embedding_dim=4, lr=0.001``: a grid point in words."""
    return ", ".join(f"{key}={value}" for key, value in values.items())


@dataclass(frozen=True)
class SweepPoint(Verdict):
    """One grid point: its setting ``values`` (grid key -> value), and either its
    ``runs`` (repeated estimates on all samples, their own seeds) or, in a rigorous
    sweep, its ``rigorous`` analysis.  ``settings``: every option of its runs."""

    values: dict[str, Any]
    units: str
    settings: dict[str, Any]
    runs: tuple[RunRecord, ...] = ()
    rigorous: RigorousResult | None = None

    @property
    def _counting(self) -> np.ndarray:
        ok = [r.mi for r in self.runs if r.stop_reason not in ("diverged", "failed")]
        values = np.asarray(ok, dtype=float)
        return values[np.isfinite(values)]

    @property
    def mi(self) -> float:
        """The corrected MI (rigorous) or the mean of the runs that gave a value."""
        if self.rigorous is not None:
            return self.rigorous.mi
        values = self._counting
        return float(values.mean()) if len(values) else math.nan

    @property
    def mi_error(self) -> float:
        """Half-width of the rigorous interval, or the standard error of the mean of the
        runs (NaN with fewer than two)."""
        if self.rigorous is not None:
            return self.rigorous.mi_error
        values = self._counting
        return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan

    @property
    def mi_se(self) -> float:
        """The standard error of ``mi``: the rigorous fit's (statistical and model error
        together, the error behind its interval at any confidence level), or the
        standard error of the mean of the runs (``mi_error``; NaN with fewer than two)."""
        if self.rigorous is not None:
            return self.rigorous.fit.se_interval if self.rigorous.fit else math.nan
        return self.mi_error

    @property
    def n_runs(self) -> int:
        """Runs that gave a value (all runs of the rigorous analysis)."""
        if self.rigorous is not None:
            return len(self.rigorous.runs)
        return len(self._counting)

    @functools.cached_property
    def flags(self) -> tuple[Flag, ...]:
        if self.rigorous is not None:
            return self.rigorous.flags
        return sweep_point_flags(self.runs, self.settings, self.units)

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": dict(self.values),
            "units": self.units,
            "settings": dict(self.settings),
            "runs": [r.to_dict() for r in self.runs],
            "rigorous": self.rigorous.to_dict() if self.rigorous is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepPoint:
        return cls(
            **saved_fields(
                cls,
                d,
                convert={
                    "runs": lambda runs: tuple(RunRecord.from_dict(r) for r in runs),
                    "rigorous": lambda r: None if r is None else RigorousResult.from_dict(r),
                },
            )
        )


def points_fields(result: Any) -> dict[str, Any]:
    """The saved fields a result of grid points shares (a sweep, a pairwise map): its
    points, units, settings, how it ended, where it ran, and its flags (for readers;
    recomputed on load)."""
    return {
        "points": [p.to_dict() for p in result.points],
        "units": result.units,
        "rigorous": result.rigorous,
        "repeats": result.repeats,
        "settings": dict(result.settings),
        "n_samples": result.n_samples,
        "stop_reason": result.stop_reason,
        "elapsed": float_out(result.elapsed),
        "device": result.device,
        "version": result.version,
        "flags": [f.to_dict() for f in result.flags],
    }


@dataclass(frozen=True)
class SweepResult(SavedResult):
    """MI against one or more settings (``nmi.sweep``): one :class:`SweepPoint` per point
    of the cartesian product of ``grid`` (in the grid's order, the last key fastest).

    ``points`` holds the points that finished (fewer when the sweep was stopped:
    ``stop_reason`` cancelled or interrupted, flagged ``partial``).  Each point is
    ``repeats`` estimates with their own seeds (``mi`` their mean, ``mi_error`` its
    standard error) or, with ``rigorous``, a bias-corrected analysis (its corrected MI,
    interval and verdict).  ``flags``: the sweep's own (``partial``) and every point's,
    each sentence led by the point's setting; ``is_reliable`` is False when any is
    unreliable; ``to_frame()`` gives each point's own verdict.
    """

    grid: dict[str, list[Any]]
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

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.grid)

    @property
    def planned(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    @property
    def mi(self) -> np.ndarray:
        """MI of every finished point, in point order."""
        return np.array([p.mi for p in self.points], dtype=float)

    @property
    def mi_error(self) -> np.ndarray:
        return np.array([p.mi_error for p in self.points], dtype=float)

    @property
    def mi_se(self) -> np.ndarray:
        """The standard error of every finished point's MI (:attr:`SweepPoint.mi_se`)."""
        return np.array([p.mi_se for p in self.points], dtype=float)

    @property
    def stopped(self) -> bool:
        return self.stop_reason != "completed"

    @functools.cached_property
    def flags(self) -> tuple[Flag, ...]:
        flags = list(sweep_flags(len(self.points), self.planned, self.stop_reason))
        for point in self.points:
            where = point_label(point.values)
            flags += [Flag(f.code, f"at {where}: {f.message}", f.unreliable) for f in point.flags]
        return most_serious_first(flags)

    # ----- tables -----
    def to_frame(self):
        """One row per finished grid point (pandas): the grid keys, ``mi``, ``mi_error``,
        ``n_runs``, ``verdict`` ("reliable"/"unreliable"), ``is_reliable``, ``reasons``
        (the point's unreliable flags' sentences joined by "; ") and ``flags`` (codes)."""
        import pandas as pd

        rows = [
            {
                **point.values,
                "mi": point.mi,
                "mi_error": point.mi_error,
                "n_runs": point.n_runs,
                "verdict": "reliable" if point.is_reliable else "unreliable",
                "is_reliable": point.is_reliable,
                "reasons": "; ".join(point.reasons),
                "flags": ", ".join(f.code for f in point.flags),
            }
            for point in self.points
        ]
        columns = [*self.keys, "mi", "mi_error", "n_runs", "verdict", "is_reliable"]
        return pd.DataFrame(rows, columns=[*columns, "reasons", "flags"])

    def runs_frame(self):
        """One row per trained run (pandas): the grid keys, then the run's labels and
        numbers (``repeat``, ``seed``, ``mi``, ``mi_val``, ``best_epoch``, ``epochs_run``,
        ``stop_reason``, ...; a rigorous sweep's runs also carry ``gamma`` and ``chunk``)."""
        import pandas as pd

        rows = []
        for point in self.points:
            runs = point.rigorous.runs if point.rigorous is not None else point.runs
            for run in runs:
                record = {k: v for k, v in run.to_dict().items() if k != "history"}
                rows.append({**point.values, **record})
        return pd.DataFrame(rows)

    # ----- text -----
    def summary(self) -> str:
        s = self.settings
        what = (
            "a rigorous analysis"
            if self.rigorous
            else f"{self.repeats} estimate{'s' if self.repeats != 1 else ''}"
        )
        lines = [
            f"sweep of {', '.join(self.keys)}: {len(self.points)} of {self.planned} points, "
            f"each {what} ({s['estimator']} bound, {s['critic']} critic, "
            f"N = {self.n_samples}, {self.elapsed:.1f} s on {self.device})",
        ]
        for point in self.points:
            error = f" ± {point.mi_error:.3f}" if math.isfinite(point.mi_error) else ""
            verdict = "" if point.is_reliable else "  NOT reliable"
            lines.append(
                f"  {point_label(point.values)}: {point.mi:.3f}{error} {self.units}{verdict}"
            )
        lines += self.verdict_lines()
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        verdict = "reliable" if self.is_reliable else "not reliable"
        return (
            f"<SweepResult {', '.join(self.keys)}: {len(self.points)} of {self.planned} "
            f"points, {self.units}, {verdict}>"
        )

    def _repr_html_(self) -> str:
        from nmi_jupyter.widgets.html import sweep_html

        return sweep_html(self)

    def panel(self):
        """MI against the swept setting with error bars (bqplot; a static picture where
        widgets do not render)."""
        from nmi_jupyter.widgets.sweep_panel import sweep_panel

        return sweep_panel(self)

    def plot(self, ax=None):
        """MI against the first grid key with error bars, one line per value of the
        second key (matplotlib; further keys are separate lines too).  Returns the Axes."""
        from nmi_jupyter.engine.sweep_plots import plot_sweep

        return plot_sweep(self, ax=ax)

    # ----- plain-data round trip -----
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "sweep",
            "grid": {k: list(v) for k, v in self.grid.items()},
            **points_fields(self),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepResult:
        return cls(
            **saved_fields(
                cls,
                d,
                convert={
                    "grid": lambda g: {str(k): list(v) for k, v in dict(g).items()},
                    "points": lambda ps: tuple(SweepPoint.from_dict(p) for p in ps),
                    "rigorous": bool,
                },
            )
        )
