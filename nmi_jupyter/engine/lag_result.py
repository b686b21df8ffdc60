"""The result of ``nmi.lag``: MI against lag, its peak and the peak's uncertainty.

A thin wrapper of a :class:`~nmi_jupyter.engine.sweep_result.SweepResult` whose one grid
key is ``lag``: each lag is a sweep point (repeated estimates or a rigorous analysis,
with its own verdict); this class adds the peak, its interval and their flags.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter.engine.results import SavedResult, float_out, saved_fields
from nmi_jupyter.engine.rigorous_result import critic_choice_line
from nmi_jupyter.engine.sweep_result import SweepResult, point_label
from nmi_jupyter.engine.verdict import (
    LAG_PEAK_Z,
    Flag,
    critic_chosen_flags,
    lag_flags,
    most_serious_first,
    sweep_flags,
)

__all__ = ["LagResult", "PeakReading", "peak_reading", "plot_lag", "LAG_AXIS_LABEL"]

#: The lag axis of every picture says which way the lag runs.
LAG_AXIS_LABEL = "lag k (samples; k > 0: x leads y)"


@dataclass(frozen=True)
class PeakReading:
    """Where MI against lag peaks: ``peak_lag`` (None without a finite MI), the MI there,
    and ``within``: every lag whose MI is within the peak's error of the peak."""

    peak_lag: int | None
    peak_mi: float
    within: tuple[int, ...]

    @property
    def interval(self) -> tuple[int, int] | None:
        return (min(self.within), max(self.within)) if self.within else None


def peak_reading(lags: Sequence[int], mi: Sequence[float], se: Sequence[float]) -> PeakReading:
    """The peak of a lag curve and its uncertainty, a pure function of numbers.

    ``peak_lag`` is the lag of the largest finite MI (the smallest such lag on a tie).
    The lags within the peak's error are the contiguous run of lags around the peak for
    which ``mi[k] >= mi[peak] - LAG_PEAK_Z *
    sqrt(se[peak]^2 + se[k]^2)``: the two values do not differ by two combined standard
    errors, so the data cannot say that k is not the peak.  A NaN error (a single run)
    counts as 0, so with one run per lag only the peak itself is within (and each such
    lag carries the ``one_run`` warning).  Why this rule and not a bootstrap over
    repeats: the repeats are few (3 by default), a bootstrap over three values can only
    reshuffle those three, and the standard errors already summarise them; the rule is
    the one the dimensionality reading uses for its plateau (two combined standard
    errors).  The repeats of ``nmi.lag`` train on the same samples, so their errors
    measure the training's spread, not the sampling error: the interval is narrow; with
    ``rigorous=True`` each lag's ``se`` is the standard error behind its interval
    (:attr:`SweepPoint.mi_se`), not the half-width, so the rule stays two standard
    errors at any ``confidence_level``.
    """
    lags = [int(k) for k in lags]
    mi = np.asarray(mi, dtype=float)
    se = np.nan_to_num(np.asarray(se, dtype=float), nan=0.0)
    finite = np.isfinite(mi)
    if not finite.any():
        return PeakReading(None, math.nan, ())
    top = int(np.argmax(np.where(finite, mi, -np.inf)))
    tolerance = LAG_PEAK_Z * np.sqrt(se[top] ** 2 + se**2)
    ok = finite & (mi >= mi[top] - tolerance)
    lo = hi = top  # the contiguous run of lags around the peak (a second, separate peak
    while lo > 0 and ok[lo - 1]:  # elsewhere does not widen the interval)
        lo -= 1
    while hi < len(lags) - 1 and ok[hi + 1]:
        hi += 1
    return PeakReading(lags[top], float(mi[top]), tuple(lags[lo : hi + 1]))


@dataclass(frozen=True)
class LagResult(SavedResult):
    """MI against lag (``nmi.lag``): ``MI(x_t; y_{t+k})``; **positive k: x leads y**.

    ``sweep`` holds every lag as a point (grid key ``lag``; ``n_samples`` the time
    points every lag used, the same for all); ``n_series`` the length of the series.
    ``peak_lag`` is the lag of the largest MI; ``peak_lag_interval`` the lowest and
    highest lag whose MI is within the peak's error of the peak (:func:`peak_reading`
    says the rule).  ``flags``: the peak's own (at the edge of the lags tried; no
    information at any lag) and every lag's, each led by its lag.
    """

    sweep: SweepResult
    n_series: int

    # ----- numbers -----
    @property
    def lags(self) -> tuple[int, ...]:
        """The lags asked for."""
        return tuple(int(k) for k in self.sweep.grid["lag"])

    @property
    def lags_done(self) -> tuple[int, ...]:
        """The lags that finished (all, unless the analysis was stopped)."""
        return tuple(int(p.values["lag"]) for p in self.sweep.points)

    @property
    def mi(self) -> np.ndarray:
        """MI at every finished lag, in lag order."""
        return self.sweep.mi

    @property
    def mi_error(self) -> np.ndarray:
        return self.sweep.mi_error

    @property
    def units(self) -> str:
        return self.sweep.units

    @property
    def settings(self) -> dict[str, Any]:
        return self.sweep.settings

    @property
    def n_samples(self) -> int:
        """Time points every lag used."""
        return self.sweep.n_samples

    @property
    def stopped(self) -> bool:
        return self.sweep.stopped

    @functools.cached_property
    def reading(self) -> PeakReading:
        return peak_reading(self.lags_done, self.mi, self.sweep.mi_se)

    @property
    def peak_lag(self) -> int | None:
        """The lag with the largest MI (positive: x leads y); None without any MI."""
        return self.reading.peak_lag

    @property
    def peak_mi(self) -> float:
        return self.reading.peak_mi

    @property
    def peak_lag_interval(self) -> tuple[int, int] | None:
        """(lowest, highest) lag whose MI is within the peak's error of the peak."""
        return self.reading.interval

    @property
    def peak_lags(self) -> tuple[int, ...]:
        """Every lag whose MI is within the peak's error of the peak."""
        return self.reading.within

    @functools.cached_property
    def flags(self) -> tuple[Flag, ...]:
        """The peak's findings (:func:`~nmi_jupyter.engine.verdict.lag_flags`), the
        analysis' (stopped, failed), and every lag's, led by its lag.  The verdict is the
        peak reading's: a lag whose MI lies below the peak by more than their combined
        error (outside ``peak_lag_interval``) cannot be the peak, so its own unreliable
        findings are kept as warnings here (its row in ``to_frame()`` keeps its verdict).
        Without that, the noise flags of lags with no MI at all (a shuffled control or
        two extrapolations 0.03 bits apart near 0) made most rigorous scans of clean
        data unreliable while their peak was right."""
        own = lag_flags(
            lags=self.lags, peak_lag=self.peak_lag, peak_mi=self.peak_mi, units=self.units
        )
        sweep = self.sweep
        flags = list(own) + list(sweep_flags(len(sweep.points), sweep.planned, sweep.stop_reason))
        flags += critic_chosen_flags(sweep.settings)
        near = set(self.reading.within)
        for point in sweep.points:
            where = point_label(point.values)
            counts = self.peak_lag is None or int(point.values["lag"]) in near
            for f in point.flags:
                if counts or not f.unreliable:
                    flags.append(Flag(f.code, f"at {where}: {f.message}", f.unreliable))
                else:
                    flags.append(
                        Flag(
                            f.code,
                            f"at {where} (below the peak by more than their error, so not "
                            f"the peak's verdict): {f.message}",
                            False,
                        )
                    )
        return most_serious_first(tuple(flags))

    # ----- tables -----
    def to_frame(self):
        """One row per finished lag (pandas): ``lag``, ``mi``, ``mi_error``, ``n_runs``,
        ``verdict``, ``is_reliable``, ``reasons``, ``flags`` (the lag's own verdict),
        ``peak`` (True at ``peak_lag``) and ``within_peak_error``."""
        frame = self.sweep.to_frame()
        frame["peak"] = [k == self.peak_lag for k in self.lags_done]
        frame["within_peak_error"] = [k in self.peak_lags for k in self.lags_done]
        return frame

    def runs_frame(self):
        """One row per trained run (pandas), its lag first."""
        return self.sweep.runs_frame()

    # ----- text -----
    def summary(self) -> str:
        s = self.settings
        what = (
            "a rigorous analysis"
            if self.sweep.rigorous
            else f"{self.sweep.repeats} estimate{'s' if self.sweep.repeats != 1 else ''}"
        )
        lines = [
            f"MI(x_t; y_t+k) against lag k (positive k: x leads y): {len(self.lags_done)} of "
            f"{len(self.lags)} lags, {self.lags[0]} to {self.lags[-1]}, each {what} "
            f"({s['estimator']} bound, {s['split']} split, N = {self.n_samples} time points "
            f"at every lag of {self.n_series}, {self.sweep.elapsed:.1f} s on {self.sweep.device})",
        ]
        if self.peak_lag is None:
            lines.append("peak: no lag gave a value")
        else:
            low, high = self.peak_lag_interval or (self.peak_lag, self.peak_lag)
            lead = (
                "x leads y"
                if self.peak_lag > 0
                else "y leads x"
                if self.peak_lag < 0
                else "no lead"
            )
            lines.append(
                f"peak lag: {self.peak_lag} ({lead}), MI {self.peak_mi:.3f} {self.units}; "
                f"lags within its error: {low} to {high}"
            )
        for point in self.sweep.points:
            error = f" ± {point.mi_error:.3f}" if math.isfinite(point.mi_error) else ""
            verdict = "" if point.is_reliable else "  NOT reliable"
            lines.append(
                f"  lag {point.values['lag']:>4}: {point.mi:.3f}{error} {self.units}{verdict}"
            )
        if self.critic_choice_text():
            lines.append(self.critic_choice_text())
        lines += self.verdict_lines()
        return "\n".join(lines)

    def critic_choice_text(self) -> str:
        """One line on the critic search when it ran (a rigorous scan with few samples per
        feature whose default critic memorised at the strongest lag), else ""."""
        return critic_choice_line(self.settings.get("critic_choice"), self.units)

    def __repr__(self) -> str:
        return (
            f"<LagResult peak_lag {self.peak_lag} (interval {self.peak_lag_interval}), "
            f"{len(self.lags_done)} of {len(self.lags)} lags, {self.units}, "
            f"{self.verdict_word}>"
        )

    def _repr_html_(self) -> str:
        from nmi_jupyter.widgets.html import _summary_html

        return _summary_html("lag", self)

    def panel(self):
        """MI against lag with error bars and the peak marked (bqplot; a static picture
        where widgets do not render)."""
        from nmi_jupyter.widgets.sweep_panel import sweep_panel

        return sweep_panel(self)

    def plot(self, ax=None, truth=None):
        """MI against lag with error bars, the peak a dashed line, the lags within its
        error shaded; ``truth`` (MI at each of ``lags``) drawn grey.  Returns the Axes."""
        return plot_lag(self, ax=ax, truth=truth)

    # ----- plain-data round trip -----
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "lag",
            "sweep": self.sweep.to_dict(),
            "n_series": self.n_series,
            "peak_lag": self.peak_lag,  # for readers; recomputed on load
            "peak_lag_interval": list(self.peak_lag_interval or ()),
            "peak_mi": float_out(self.peak_mi),
            "flags": [f.to_dict() for f in self.flags],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LagResult:
        return cls(**saved_fields(cls, d, convert={"sweep": SweepResult.from_dict}))


def plot_lag(result: LagResult, ax=None, truth=None):
    """matplotlib: MI against lag (error bars, unreliable lags hollow), the peak a dashed
    vertical line, the lags within its error shaded, ``truth`` grey.  Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    lags = np.array(result.lags_done, dtype=float)
    mi, err = result.mi, result.mi_error
    if truth is not None:
        ax.plot(result.lags, truth, color="0.6", lw=1.5, label="truth")
    ax.errorbar(lags, mi, yerr=np.nan_to_num(err), color="C0", marker="o", capsize=3, label="MI")
    bad = [i for i, p in enumerate(result.sweep.points) if not p.is_reliable]
    if bad:
        ax.plot(lags[bad], mi[bad], "o", mfc="white", mec="C0", zorder=3)
    if result.peak_lag is not None:
        low, high = result.peak_lag_interval or (result.peak_lag, result.peak_lag)
        ax.axvline(
            result.peak_lag, color="C3", ls="--", lw=1.2, label=f"peak lag {result.peak_lag}"
        )
        if high > low:
            ax.axvspan(low - 0.5, high + 0.5, color="C3", alpha=0.08)
    ax.set_xlabel(LAG_AXIS_LABEL)
    ax.set_ylabel(f"MI ({result.units})")
    ax.set_title("MI(x_t; y_t+k) against lag" + (" (rigorous)" if result.sweep.rigorous else ""))
    ax.legend(loc="upper right", fontsize="small")
    return ax
