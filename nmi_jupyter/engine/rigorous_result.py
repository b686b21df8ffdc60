"""The result of a rigorous (bias-corrected) analysis: the runs, the gamma fit, the verdict."""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter.engine.errors import OptionError
from nmi_jupyter.engine.extrapolate import GammaFit, check_fit_options, fit_gamma_line
from nmi_jupyter.engine.linear_bound import LinearBound
from nmi_jupyter.engine.neighbours import NeighbourEstimate
from nmi_jupyter.engine.options_check import as_gamma_subset, as_gammas, describe_value
from nmi_jupyter.engine.results import (
    STOPPED_REASONS,
    History,
    SavedResult,
    check_settings,
    float_out,
    in_units,
    linear_from_dict,
    neighbours_from_dict,
    saved_fields,
)
from nmi_jupyter.engine.verdict import (
    Flag,
    control_estimate,
    rigorous_flags,
)

__all__ = ["RunRecord", "RigorousResult", "fit_runs", "critic_choice_line"]

_UNSET: Any = object()


@dataclass(frozen=True)
class RunRecord:
    """One run of a rigorous analysis: trained on chunk ``chunk`` of ``gamma`` chunks.

    ``partial``: the analysis was cancelled or interrupted while this run trained; its
    numbers are those of its best checkpoint so far (files saved before the field
    existed load as not partial).
    """

    gamma: int
    chunk: int
    repeat: int
    seed: int
    n_samples: int
    mi: float
    mi_val: float
    best_epoch: int
    epochs_run: int
    stop_reason: str
    elapsed: float
    history: History
    partial: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["mi"], d["mi_val"] = float_out(self.mi), float_out(self.mi_val)
        d["history"] = self.history.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        return cls(**saved_fields(cls, d, convert={"history": History.from_dict}))


@dataclass(frozen=True)
class RigorousResult(SavedResult):
    """Bias-corrected MI from runs on gamma = 1..G equal chunks, extrapolated to gamma = 0.

    ``mi`` is the intercept of the weighted line MI(gamma) = I + a*gamma, in
    ``units``; ``mi_error`` and ``mi_error_pred`` are the half-widths of its
    confidence and prediction intervals at ``fit.confidence_level``.

    The interval adds to the textbook WLS error the dataset's own fluctuation
    (estimated from the chunk-to-chunk spread; ``fit.se_data``) and the model error
    of the extrapolation (the gap between the training-MI and validation-MI
    intercepts; ``fit.se_model``, ``fit.mi_val``), checked on ``benchmarks/accuracy``.
    Near InfoNCE's ceiling it is one-sided (``interval``, ``lower_bound_only``).

    The verdict: ``flags`` lists every finding (:class:`Flag`: a code and one
    sentence); ``is_reliable`` is False, with ``reasons`` in words, when any
    flag marks it unreliable: MI not linear in gamma even after dropping the
    largest gammas, too few gammas, the intercept leaning on gamma = 1, InfoNCE
    near its log(batch_size) ceiling, the training- and validation-MI
    extrapolations disagreeing, many diverged runs, the shuffled-pairs control
    finding MI where there is none, or an analysis stopped early.  ``warnings``
    (overfitting, small chunks, a few diverged runs) do not change the verdict.
    An unreliable result means the data are too few for this critic to reach
    its large-sample behaviour, or the critic is capped: collect more samples,
    use fewer/smaller gammas (``refit``), a smaller model, estimator='smile',
    or report the number as an upper estimate.
    """

    runs: tuple[RunRecord, ...]
    fit: GammaFit | None  # None when fewer than two gammas finished
    units: str
    n_samples: int
    gammas: tuple[int, ...]
    repeats: int
    settings: dict[str, Any]
    stop_reason: str  # "completed", "cancelled" or "interrupted"
    elapsed: float
    device: str
    threads: int = 1
    version: str = ""
    controls: tuple[RunRecord, ...] = ()  # shuffled-pairs control runs (truth: MI = 0)
    # The best feature pair's closed-form lower bound, in ``units`` (``linear.mi``;
    # ``linear.mi_nats`` in nats).
    linear: LinearBound | None = None
    # The nearest-neighbour (KSG) estimate of few-dimensional data, in ``units``, or None.
    neighbours: NeighbourEstimate | None = None

    def __post_init__(self) -> None:
        in_units(self)

    # ----- the numbers -----
    @property
    def mi(self) -> float:
        return self.fit.mi if self.fit else math.nan

    @property
    def mi_error(self) -> float:
        return self.fit.mi_error if self.fit else math.nan

    @property
    def mi_error_pred(self) -> float:
        return self.fit.mi_error_pred if self.fit else math.nan

    @property
    def lower_bound_only(self) -> bool:
        """True when InfoNCE ran into its log(batch_size) ceiling (the ``ceiling`` flag):
        the estimate is then capped below the truth, by an amount nothing in the runs
        measures, so only its lower end means anything."""
        return self._has_flag("ceiling")

    @property
    def interval(self) -> tuple[float, float]:
        """The confidence interval of the corrected MI (level ``fit.confidence_level``).

        One-sided, ``(low, inf)``, when :attr:`lower_bound_only`: on the accuracy suite
        InfoNCE estimates at their ceiling were 10-46 % low, far outside any two-sided
        interval the runs could give.
        """
        if not self.fit:
            return (math.nan, math.nan)
        return (self.fit.ci[0], math.inf) if self.lower_bound_only else self.fit.ci

    def mi_text(self, digits: int = 4) -> str:
        """The corrected MI with its error, for people: ``"2.0134 ± 0.0412 bits"``, or
        ``"6.2650 bits, at least 6.1638 (lower bound)"`` when :attr:`lower_bound_only`."""
        if self.lower_bound_only:
            return (
                f"{self.mi:.{digits}f} {self.units}, at least {self.interval[0]:.{digits}f} "
                "(lower bound)"
            )
        return f"{self.mi:.{digits}f} ± {self.mi_error:.{digits}f} {self.units}"

    @functools.cached_property
    def flags(self) -> tuple[Flag, ...]:
        """Every finding about this result, fit and runs, most serious first
        (:func:`~nmi_jupyter.engine.verdict.rigorous_flags`; computed once per result:
        a frozen result's flags cannot change, ``refit`` makes a new one)."""
        return rigorous_flags(self)

    @property
    def linear_mi(self) -> float:
        """The closed-form lower bound from the best feature pair, in ``units`` (NaN if
        not computed); see :mod:`nmi_jupyter.engine.linear_bound`."""
        return self.linear.mi if self.linear else math.nan

    @property
    def below_linear_bound(self) -> bool:
        """True when the estimate is flagged as well below :attr:`linear_mi`."""
        return self._has_flag("below_linear_bound")

    def linear_in_view(self, low: float, high: float) -> bool:
        """Whether a plot of MI from ``low`` to ``high`` should draw the linear lower
        bound: always when the estimate is flagged below it (the plot then stretches to
        reach it), otherwise only when it falls inside."""
        bound = self.linear_mi
        return math.isfinite(bound) and (self.below_linear_bound or low <= bound <= high)

    def _has_flag(self, code: str) -> bool:
        return any(f.code == code for f in self.flags)

    @property
    def control_mi(self) -> float:
        """MI the same pipeline finds between shuffled pairs (should be ~0); NaN if none ran."""
        return control_estimate(self.controls)

    @property
    def gammas_used(self) -> tuple[int, ...]:
        return self.fit.gammas_used if self.fit else ()

    @property
    def gammas_dropped(self) -> dict[int, str]:
        return dict(self.fit.dropped) if self.fit else {}

    @property
    def partial(self) -> bool:
        """True when the analysis did not run to its end (see :attr:`stopped`)."""
        return self.stop_reason != "completed"

    @property
    def stopped(self) -> bool:
        """True when the analysis was cancelled or interrupted, like
        ``EstimateResult.stopped``; the runs then training are kept with their best
        checkpoint so far (``RunRecord.partial``) and the result is flagged ``partial``."""
        return self.stop_reason in STOPPED_REASONS

    def gamma_means(self) -> dict[int, tuple[float, float, int]]:
        """Per gamma: (mean MI, standard error of the mean, number of finished runs)."""
        out = {}
        for g in sorted({r.gamma for r in self.runs}):
            values = np.array([r.mi for r in self.runs if r.gamma == g and math.isfinite(r.mi)])
            sem = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else math.nan
            out[g] = (float(values.mean()) if len(values) else math.nan, float(sem), len(values))
        return out

    # ----- refitting -----
    def refit(
        self,
        exclude=_UNSET,
        use=_UNSET,
        delta_threshold: float | None = None,
        min_gamma_points: int | None = None,
        confidence_level: float | None = None,
    ) -> RigorousResult:
        """A new result with the gamma fit redone, without retraining (milliseconds).

        ``exclude={9, 10}`` or ``use=range(1, 8)`` choose gammas by hand (manual
        mode); with neither, the automatic curvature test chooses.  Thresholds
        not given keep their current values.
        """
        request = dict(self.settings.get("fit", {}))
        if exclude is not _UNSET or use is not _UNSET:
            request["exclude"] = None if exclude is _UNSET else exclude
            request["use"] = None if use is _UNSET else use
        for name, value in (
            ("delta_threshold", delta_threshold),
            ("min_gamma_points", min_gamma_points),
            ("confidence_level", confidence_level),
        ):
            if value is not None:
                request[name] = value
        request = _fit_request(request, self.gammas)  # checked before anything is fitted
        return dataclasses.replace(
            self,
            fit=fit_runs(self.runs, self.n_samples, request),
            settings={**self.settings, "fit": request},
        )

    # ----- text -----
    def summary(self) -> str:
        """The corrected MI with its intervals, the verdict and the fit in a few lines."""
        u = self.units
        if self.fit is None:
            return f"Rigorous MI: no fit ({'; '.join(self.reasons)}); {len(self.runs)} runs."
        f = self.fit
        level = int(round(100 * f.confidence_level))
        verdict = "reliable" if self.is_reliable else "NOT reliable"
        lines = [
            f"Corrected MI: {self.mi_text()} ({level}% "
            + ("one-sided CI" if self.lower_bound_only else "CI")
            + f"; prediction ± {f.mi_error_pred:.4f}) - {verdict}",
            f"fit ({f.mode}): gammas {_ranges(f.gammas_used)} used"
            + (f", dropped {_dropped_text(f.dropped)}" if f.dropped else "")
            + f"; slope {f.slope:.4g} {u}/gamma, delta {f.delta:.3f}, R² {f.r2:.3f}",
            f"error budget (standard errors): fit {f.se_intercept:.4f}, dataset "
            f"{f.se_data:.4f}, train/validation gap {_finite_or_dash(f.se_model)} {u}",
            *([self.linear.describe(u)] if self.linear else []),
            *([self.neighbours.describe(u)] if self.neighbours else []),
            f"runs: {len(self.runs)}{_partial_text(self.runs)} on N = {self.n_samples} samples, "
            f"{self.settings['estimator']} / {self.settings['critic']}, {self.elapsed:.1f} s",
            *([self.critic_choice_text()] if self.critic_choice_text() else []),
        ]
        lines += [f"unreliable because {r}" for r in self.reasons]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def critic_choice_text(self) -> str:
        """One line on the critic search when it ran (``settings["critic_choice"]``: few
        samples per feature, the default critic memorised), else ""."""
        return critic_choice_line(self.settings.get("critic_choice"), self.units)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        verdict = "reliable" if self.is_reliable else "not reliable"
        return (
            f"<RigorousResult mi={self.mi_text()}, {verdict}, "
            f"{len(self.runs)} runs, {self.stop_reason}>"
        )

    def _repr_html_(self) -> str:
        """The summary as HTML, with the verdict and flags as badges (drawn by
        :mod:`nmi_jupyter.widgets.html`, plain HTML, imported when shown)."""
        from nmi_jupyter.widgets.html import rigorous_html

        return rigorous_html(self)

    def panel(self, on_change=None):
        """The interactive fit panel (ipywidgets + bqplot) for this result.

        Imported here, at call time, so the engine itself imports no Jupyter code.
        """
        from nmi_jupyter.widgets.fit_panel import FitPanel

        return FitPanel(self, on_change=on_change)

    # ----- plot -----
    def plot(self, ax=None):
        """MI against gamma: runs, per-gamma means ± s.e.m., dropped gammas in grey, the
        fit line with its confidence band to gamma = 0, and the corrected MI there.
        A secondary x axis shows samples per run.  Returns the Axes."""
        from nmi_jupyter.engine.plots import plot_gamma_fit

        return plot_gamma_fit(self, ax)

    # ----- plain data -----
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "rigorous",
            "runs": [r.to_dict() for r in self.runs],
            "controls": [r.to_dict() for r in self.controls],
            "linear": self.linear.to_dict() if self.linear else None,
            "neighbours": self.neighbours.to_dict() if self.neighbours else None,
            "flags": [f.to_dict() for f in self.flags],  # for readers; recomputed on load
            "fit": self.fit.to_dict() if self.fit else None,  # for readers; recomputed on load
            "units": self.units,
            "n_samples": self.n_samples,
            "gammas": list(self.gammas),
            "repeats": self.repeats,
            "settings": self.settings,
            "stop_reason": self.stop_reason,
            "elapsed": self.elapsed,
            "device": self.device,
            "threads": self.threads,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RigorousResult:
        """The result :meth:`to_dict` described, its fit and flags recomputed (see the
        format policy in :mod:`nmi_jupyter.engine.results`)."""
        fields = saved_fields(
            cls,
            d,
            convert={
                "runs": _run_records,
                "controls": _run_records,
                "linear": linear_from_dict,
                "neighbours": neighbours_from_dict,
                "gammas": lambda g: tuple(as_gammas(g)),
            },
            not_saved=("fit",),
        )
        settings = fields["settings"]
        check_settings(settings)
        settings["fit"] = _fit_request(settings.get("fit"), fields["gammas"])
        return cls(fit=fit_runs(fields["runs"], fields["n_samples"], settings["fit"]), **fields)


def fit_runs(
    runs: tuple[RunRecord, ...], n_samples: int, request: dict[str, Any]
) -> GammaFit | None:
    """The gamma fit of finished runs under a fit request (exclude/use and thresholds)."""
    # Diverged runs are left out (and flagged by verdict.unstable_flag).
    finished = [r for r in runs if math.isfinite(r.mi) and r.stop_reason != "diverged"]
    if len({r.gamma for r in finished}) < 2:
        return None
    return fit_gamma_line(
        [r.gamma for r in finished],
        [r.mi for r in finished],
        mi_val=[r.mi_val for r in finished],
        exclude=request.get("exclude"),
        use=request.get("use"),
        delta_threshold=request["delta_threshold"],
        min_gamma_points=request["min_gamma_points"],
        confidence_level=request["confidence_level"],
        n_samples=n_samples,
    )


def critic_choice_line(search: dict[str, Any] | None, units: str) -> str:
    """The critic search's line of a summary (see ``engine.critic_search``; ``search``:
    the record saved in ``settings["critic_choice"]``), "" when no search ran."""
    if not search:
        return ""
    tried = [
        f"{_options_text(c['options'])}: "
        + (
            f"{_number(c['mi'])} {units}, gap {_number(c['gap'])}"
            if c.get("stop_reason", "completed") == "completed"
            else f"{c['stop_reason']} before it finished"
        )
        for c in search["candidates"]
    ]
    chosen = search["candidates"][search["chosen"]]
    return (
        f"critic chosen from the data ({_options_text(chosen['options'])}): "
        f"{search['reason']}; tried (corrected MI, training minus validation intercept) "
        + "; ".join(tried)
    )


def _options_text(options: dict[str, Any]) -> str:
    return (
        ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in options.items())
        or "the default critic"
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _partial_text(runs: tuple[RunRecord, ...]) -> str:
    cut = sum(r.partial for r in runs)
    return f" ({cut} partial: stopped before they finished)" if cut else ""


def _finite_or_dash(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "-"


def _run_records(records: Any) -> tuple[RunRecord, ...]:
    if not isinstance(records, list):
        raise ValueError(f"runs should be a list, not {describe_value(records)}")
    return tuple(RunRecord.from_dict(r) for r in records)


def _fit_request(request: Any, gammas: tuple[int, ...]) -> dict[str, Any]:
    """A fit request (``exclude``/``use`` and the thresholds) checked against the
    analysis' ``gammas`` and converted to plain values; raises :class:`OptionError`."""
    if not isinstance(request, dict):
        raise OptionError(f"the fit settings are {describe_value(request)}, not a record")
    exclude, use = request.get("exclude"), request.get("use")
    if exclude is not None and use is not None:
        raise OptionError("Give either exclude= or use=, not both.")
    given = {k: request[k] for k in ("delta_threshold", "min_gamma_points", "confidence_level")}
    checked = check_fit_options(**given)
    return {
        **request,
        **dict(zip(given, checked, strict=True)),
        "exclude": None if exclude is None else as_gamma_subset("exclude", exclude, gammas),
        "use": None if use is None else as_gamma_subset("use", use, gammas),
    }


def _ranges(values: tuple[int, ...]) -> str:
    if not values:
        return "none"
    if list(values) == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}-{values[-1]}"
    return ", ".join(map(str, values))


def _dropped_text(dropped: dict[int, str]) -> str:
    return ", ".join(f"{g} ({why})" for g, why in sorted(dropped.items()))
