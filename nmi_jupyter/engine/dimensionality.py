"""How many dimensions the shared information has: the saturation rule and its result.

MI estimated with an embedding of width k rises with k and levels off once k reaches
the dimension of the shared latent (NeuralMI's protocol).  :func:`saturation` reads
that point off the curves, one per split, as a pure function of numbers;
:class:`DimensionalityResult` holds the curves, the reading and its verdict.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter.engine.results import SavedResult, float_out, saved_fields
from nmi_jupyter.engine.sweep_result import SweepResult
from nmi_jupyter.engine.verdict import (
    DIMENSION_FRACTION,
    DIMENSION_Z,
    PLATEAU_POINTS,
    Flag,
    dimensionality_flags,
    partition_sizes,
)

__all__ = ["Saturation", "saturation", "DimensionalityResult"]


@dataclass(frozen=True)
class Saturation:
    """A reading of MI-against-embedding-dimension curves.

    ``dimension``: the saturation point of the mean curve, None when no plateau was
    reached; ``per_split``: each curve's own saturation point (None where it has none);
    ``plateau``/``plateau_error``: the mean MI of the largest dims and its standard
    error; ``reached``: whether the mean curve levels off within the dims tried.
    """

    dimension: int | None
    per_split: tuple[int | None, ...]
    plateau: float
    plateau_error: float
    reached: bool
    threshold: float  # the MI a dimension must reach to count as saturated

    @property
    def dimension_range(self) -> tuple[int, int] | None:
        """(lowest, highest) per-split saturation point: the reading's uncertainty."""
        found = [d for d in self.per_split if d is not None]
        return (min(found), max(found)) if found else None


def saturation(dims: Sequence[int], curves: np.ndarray) -> Saturation:
    """The saturation point of MI against embedding dimension.

    The rule (constants in :mod:`~nmi_jupyter.engine.verdict`): the plateau P is the
    mean MI of the :data:`PLATEAU_POINTS` largest dims (mean over splits); the dimension
    is the smallest k whose mean MI m(k) reaches ``P - tol`` with
    ``tol = max(DIMENSION_Z * sqrt(se(k)² + se(P)²), (1 - DIMENSION_FRACTION) * P)``:
    within two combined standard errors of the plateau, but never asking for more than
    95 % of it.  Why both terms: the spread of the splits says how far apart two values
    must be to differ at all (a noisy curve cannot pin the knee down finer than its
    noise); the 5 % band says that a curve which stays within a few per cent of its
    plateau has saturated (wider embeddings overfit a little and sit a few per cent
    below the knee).  The band must stay under the share of the weakest latent
    direction: with six directions of roughly equal strength the last one carries
    12-15 % of the shared information, and a 10 % band read such latents as 5
    (issue 19).  The plateau counts as reached when the dimension is at most
    the smallest of the plateau dims and the mean curve rises by less than ``tol``
    across them; otherwise the data cannot tell (``dimension`` None).  Each split's
    curve is read alike with the 5 % band alone, and their range is the uncertainty.

    Args:
        dims: the embedding dims, increasing, at least :data:`PLATEAU_POINTS` + 1.
        curves: (splits, len(dims)) MI, NaN where a run gave no value.
    """
    dims = [int(d) for d in dims]
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    with np.errstate(all="ignore"):
        counts = np.sum(np.isfinite(curves), axis=0)
        mean = np.nanmean(np.where(counts > 0, curves, 0.0), axis=0)
        mean[counts == 0] = np.nan
        se = np.nanstd(curves, axis=0, ddof=1) / np.sqrt(counts)
    se = np.where(counts > 1, se, 0.0)
    top = slice(len(dims) - PLATEAU_POINTS, len(dims))
    plateau = float(np.nanmean(mean[top]))
    plateau_se = float(np.sqrt(np.nansum(se[top] ** 2)) / PLATEAU_POINTS)
    tol = np.maximum(
        DIMENSION_Z * np.sqrt(se**2 + plateau_se**2), (1 - DIMENSION_FRACTION) * abs(plateau)
    )
    dimension = _first_reaching(dims, mean, plateau - tol)
    rise = np.nanmax(mean[top]) - mean[top][0] if np.isfinite(mean[top][0]) else math.inf
    reached = dimension is not None and dimension <= dims[top.start] and rise <= tol[top.start]
    per_split = tuple(_curve_saturation(dims, curve, top) for curve in curves)
    return Saturation(
        dimension=dimension if reached else None,
        per_split=per_split,
        plateau=plateau,
        plateau_error=plateau_se,
        reached=bool(reached),
        threshold=float(plateau - tol[top.start]) if math.isfinite(plateau) else math.nan,
    )


def _first_reaching(dims: list[int], values: np.ndarray, threshold: Any) -> int | None:
    reaching = np.isfinite(values) & (values >= threshold)
    return dims[int(np.argmax(reaching))] if reaching.any() else None


def _curve_saturation(dims: list[int], curve: np.ndarray, top: slice) -> int | None:
    if not np.isfinite(curve[top]).any():
        return None
    plateau = float(np.nanmean(curve[top]))
    found = _first_reaching(dims, curve, plateau - (1 - DIMENSION_FRACTION) * abs(plateau))
    return found if found is not None and found <= dims[top.start] else None


@dataclass(frozen=True)
class DimensionalityResult(SavedResult):
    """MI against the embedding dimension and the dimension where it saturates
    (``nmi.dimensionality``).

    ``mode``: "interaction" (MI(X;Y), one curve per seeded train/validation split) or
    "internal" (MI between two random halves of X's channels, one curve per split of
    the channels).  ``sweep`` holds every run (its grid: ``embedding_dim``; a run's
    ``repeat`` is its split).  ``dimension`` is the saturation point
    (:func:`saturation` says the rule), None when the data cannot tell (flagged);
    ``dimension_range`` the lowest and highest per-split saturation points.
    """

    mode: str
    sweep: SweepResult
    splits: int
    x_dim: int
    y_dim: int

    @property
    def embedding_dims(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.sweep.grid["embedding_dim"])

    @property
    def units(self) -> str:
        return self.sweep.units

    @property
    def settings(self) -> dict[str, Any]:
        return self.sweep.settings

    @property
    def curves(self) -> np.ndarray:
        """(splits, finished dims) MI, NaN where a run gave no value."""
        out = np.full((self.splits, len(self.sweep.points)), np.nan)
        for j, point in enumerate(self.sweep.points):
            for run in point.runs:
                if run.stop_reason not in ("diverged", "failed") and run.repeat < self.splits:
                    out[run.repeat, j] = run.mi
        return out

    @property
    def dims_done(self) -> tuple[int, ...]:
        return tuple(int(p.values["embedding_dim"]) for p in self.sweep.points)

    @functools.cached_property
    def reading(self) -> Saturation:
        dims = self.dims_done
        if len(dims) <= PLATEAU_POINTS:
            nan = math.nan
            return Saturation(None, (None,) * self.splits, nan, nan, False, nan)
        return saturation(dims, self.curves)

    @property
    def dimension(self) -> int | None:
        return self.reading.dimension

    @property
    def dimension_range(self) -> tuple[int, int] | None:
        return self.reading.dimension_range

    @property
    def plateau(self) -> float:
        return self.reading.plateau

    @functools.cached_property
    def flags(self) -> tuple[Flag, ...]:
        n_train = partition_sizes(self.sweep.n_samples, self.settings)[0]
        own = dimensionality_flags(
            dimension=self.dimension,
            reached=self.reading.reached,
            plateau=self.plateau,
            per_split=self.reading.per_split,
            largest_dims=self.dims_done[-PLATEAU_POINTS:],
            settings=self.settings,
            n_train=n_train,
            units=self.units,
        )
        partial = tuple(f for f in self.sweep.flags if f.code == "partial")
        return own + partial

    def to_frame(self):
        """One row per embedding dimension (pandas): ``embedding_dim``, ``mi`` (mean over
        splits), ``mi_error`` (its standard error), ``n_runs``, ``saturated`` (at or past
        the dimension), then ``split_0``, ``split_1``, ... (each curve)."""
        frame = self.sweep.to_frame()[["embedding_dim", "mi", "mi_error", "n_runs"]].copy()
        dimension = self.dimension
        frame["saturated"] = [dimension is not None and d >= dimension for d in self.dims_done]
        for s, curve in enumerate(self.curves):
            frame[f"split_{s}"] = curve
        return frame

    def summary(self) -> str:
        what = (
            "MI(X;Y)" if self.mode == "interaction" else "MI between random halves of X's channels"
        )
        lines = [
            f"dimensionality ({self.mode}): {what} against embedding_dim "
            f"{_dims_text(self.embedding_dims)}, {self.splits} splits",
        ]
        if self.dimension is None:
            lines.append("dimension: the data cannot tell (see the flags)")
        else:
            low, high = self.dimension_range or (self.dimension, self.dimension)
            lines.append(
                f"dimension: {self.dimension} (splits: {low}-{high}); plateau "
                f"{self.plateau:.3f} ± {self.reading.plateau_error:.3f} {self.units}"
            )
        for d, mi, err in zip(self.dims_done, self.sweep.mi, self.sweep.mi_error, strict=True):
            lines.append(f"  embedding_dim={d}: {mi:.3f} ± {err:.3f} {self.units}")
        lines += self.verdict_lines()
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"<DimensionalityResult {self.mode}: dimension {self.dimension} "
            f"(range {self.dimension_range}), plateau {self.plateau:.3f} {self.units}, "
            f"{'reliable' if self.is_reliable else 'not reliable'}>"
        )

    def _repr_html_(self) -> str:
        from nmi_jupyter.widgets.html import dimensionality_html

        return dimensionality_html(self)

    def panel(self):
        from nmi_jupyter.widgets.sweep_panel import sweep_panel

        return sweep_panel(self)

    def plot(self, ax=None):
        """Mean MI against embedding_dim with error bars, each split's curve faint, the
        dimension marked (a vertical line) and the plateau band.  Returns the Axes."""
        from nmi_jupyter.engine.sweep_plots import plot_dimensionality

        return plot_dimensionality(self, ax=ax)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "dimensionality",
            "mode": self.mode,
            "sweep": self.sweep.to_dict(),
            "splits": self.splits,
            "x_dim": self.x_dim,
            "y_dim": self.y_dim,
            "dimension": self.dimension,  # for readers; recomputed on load
            "plateau": float_out(self.plateau),
            "flags": [f.to_dict() for f in self.flags],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DimensionalityResult:
        return cls(**saved_fields(cls, d, convert={"sweep": SweepResult.from_dict}))


def _dims_text(dims: tuple[int, ...]) -> str:
    if len(dims) > 2 and list(dims) == list(range(dims[0], dims[-1] + 1)):
        return f"{dims[0]}-{dims[-1]}"
    return ", ".join(map(str, dims))
