"""The result of a permutation test: the observed MI, the null distribution, the p-value."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter.engine.results import SavedResult, float_out, saved_fields
from nmi_jupyter.engine.rigorous_result import RunRecord
from nmi_jupyter.engine.verdict import Flag, permutation_flags, run_counts

__all__ = ["PermutationResult", "p_value", "permutation_flags"]


def p_value(observed: float, null: np.ndarray) -> float:
    """``(1 + #{null >= observed}) / (1 + len(null))``: the permutation p-value with the
    +1 correction (the observed statistic counts as one draw of the null, so p is never
    0 and is exact, not anti-conservative, when the statistics are exchangeable).  NaN
    when ``observed`` is not a number or there is no null value."""
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    if not math.isfinite(observed) or len(null) == 0:
        return math.nan
    return float((1 + np.sum(null >= observed)) / (1 + len(null)))


@dataclass(frozen=True)
class PermutationResult(SavedResult):
    """A permutation test of "X and Y share no information" (``nmi.permutation_test``).

    ``observed``: the run on the paired samples (None if it never trained);
    ``null_runs``: the runs on null pairs (``null_kind``: permute, circular or block,
    with ``block_size``), each trained exactly as the observed run.  ``mi``, ``null``
    (the null runs' MI) and ``p_value`` in ``units``; ``permutations`` the null runs
    planned.
    """

    observed: RunRecord | None
    null_runs: tuple[RunRecord, ...]
    permutations: int
    null_kind: str
    block_size: int
    units: str
    settings: dict[str, Any]
    n_samples: int
    stop_reason: str
    elapsed: float
    device: str
    version: str = ""

    @property
    def mi(self) -> float:
        """The observed MI (the training partition at the best checkpoint, as
        ``nmi.estimate`` reports it); NaN when the observed run gave none."""
        return self.observed.mi if self.observed is not None else math.nan

    @property
    def null(self) -> np.ndarray:
        """The MI of every null run that gave a value, in run order."""
        return np.array([r.mi for r in self.null_runs if run_counts(r)], dtype=float)

    @property
    def p_value(self) -> float:
        """``(1 + #{null >= mi}) / (1 + len(null))`` (see :func:`p_value`); NaN when the
        observed run diverged or failed (flag ``observed_failed``)."""
        if self.observed is None or not run_counts(self.observed):
            return math.nan
        return p_value(self.mi, self.null)

    @property
    def min_p_value(self) -> float:
        """The smallest p-value the null runs that gave a value allow: 1 / (len(null) + 1)."""
        return 1.0 / (len(self.null) + 1)

    @property
    def stopped(self) -> bool:
        return self.stop_reason != "completed"

    @functools.cached_property
    def flags(self) -> tuple[Flag, ...]:
        return permutation_flags(self)

    def to_frame(self):
        """One row per run (pandas): ``run`` ("observed" or "null"), ``repeat``, ``seed``,
        ``mi``, ``mi_val``, ``best_epoch``, ``epochs_run``, ``stop_reason``."""
        import pandas as pd

        runs = ([self.observed] if self.observed is not None else []) + list(self.null_runs)
        keys = ("repeat", "seed", "mi", "mi_val", "best_epoch", "epochs_run", "stop_reason")
        rows = [
            {
                "run": "observed" if r is self.observed else "null",
                **{k: getattr(r, k) for k in keys},
            }
            for r in runs
        ]
        return pd.DataFrame(rows, columns=["run", *keys])

    def summary(self) -> str:
        s = self.settings
        null = self.null
        what = {
            "permute": "permuted pairs",
            "circular": f"circular shifts of y by at least {self.block_size} samples",
            "block": f"blocks of {self.block_size} samples of y permuted",
        }[self.null_kind]
        lines = [
            f"permutation test: observed MI against {len(null)} null runs ({what}; "
            f"{s['estimator']} bound, N = {self.n_samples}, {self.elapsed:.1f} s on "
            f"{self.device})",
            f"observed MI: {self.mi:.3f} {self.units}",
        ]
        if len(null):
            q = np.quantile(null, [0.5, 0.95])
            lines.append(
                f"null MI: median {q[0]:.3f}, 95th percentile {q[1]:.3f}, max "
                f"{null.max():.3f} {self.units}"
            )
        p = self.p_value
        if math.isfinite(p):
            floor = (
                "  (the smallest this many permutations allow)"
                if (p <= self.min_p_value + 1e-12)
                else ""
            )
            lines.append(f"p-value: {p:.4g}{floor}")
        else:
            lines.append("p-value: none (see the flags)")
        lines += self.verdict_lines()
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<PermutationResult MI {self.mi:.3f} {self.units}, p = {self.p_value:.4g} "
            f"({len(self.null)} null runs), "
            f"{self.verdict_word}>"
        )

    def _repr_html_(self) -> str:
        from nmi_jupyter.widgets.html import _summary_html

        return _summary_html("permutation test", self)

    def plot(self, ax=None):
        """The null MI as a histogram with the observed MI as a vertical line and the
        p-value in the title (matplotlib).  Returns the Axes."""
        from nmi_jupyter.engine.pairwise_plots import plot_permutation

        return plot_permutation(self, ax=ax)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "permutation_test",
            "observed": self.observed.to_dict() if self.observed is not None else None,
            "null_runs": [r.to_dict() for r in self.null_runs],
            "permutations": self.permutations,
            "null_kind": self.null_kind,
            "block_size": self.block_size,
            "units": self.units,
            "settings": dict(self.settings),
            "n_samples": self.n_samples,
            "stop_reason": self.stop_reason,
            "elapsed": float_out(self.elapsed),
            "device": self.device,
            "version": self.version,
            "mi": float_out(self.mi),  # for readers; recomputed on load
            "p_value": float_out(self.p_value),
            "flags": [f.to_dict() for f in self.flags],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PermutationResult:
        return cls(
            **saved_fields(
                cls,
                d,
                convert={
                    "observed": lambda r: None if r is None else RunRecord.from_dict(r),
                    "null_runs": lambda rs: tuple(RunRecord.from_dict(r) for r in rs),
                },
            )
        )
