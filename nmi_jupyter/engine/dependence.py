"""The public calls ``conditional`` and ``transfer``: MI differences trained as one plan.

Both are differences of two MI terms, I(X;Y|Z) = I([X,Z];Y) - I(Z;Y).  One plan holds
every term: the rows of a rigorous analysis (or of repeated estimates) are laid out
once (:func:`~nmi_jupyter.engine.plan.rigorous_plan`), and each term repeats them with
its own columns (:func:`terms_plan`), so the terms' runs see the same samples, the same
splits and the same seeds; the difference is fitted paired, chunk by chunk
(:mod:`~nmi_jupyter.engine.dependence_result`).  The terms' runs are laid out term
after term, so each term's runs share a stack in the batched trainer.

A transfer entropy is such a difference for each direction, on lag-embedded series:
the past ``history`` samples of x and y against the sample ``horizon`` steps later
(:func:`lag_embedding`, from :func:`~nmi_jupyter.engine.timeseries.windows`), four
terms in one plan, split in blocks (time order).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from nmi_jupyter import __version__
from nmi_jupyter.engine import critic_search
from nmi_jupyter.engine.config import (
    WHERE_OPTIONS,
    EstimateConfig,
    check_call,
    check_option_names,
    fit_request_of,
    make_config,
    split_options,
    warn_random_split,
)
from nmi_jupyter.engine.data import as_samples, check_pair, copula_normal
from nmi_jupyter.engine.dependence_result import ConditionalResult, TransferResult
from nmi_jupyter.engine.distribute import check_executor
from nmi_jupyter.engine.errors import InsufficientDataError, InvalidDataError, OptionError
from nmi_jupyter.engine.events import CancelToken, Observer, tagged
from nmi_jupyter.engine.interrupts import deferred_interrupts
from nmi_jupyter.engine.options import OPTIONS, analysis_options
from nmi_jupyter.engine.plan import (
    Plan,
    View,
    check_chunk_size,
    renumbered,
    repeats_plan,
    rigorous_plan,
)
from nmi_jupyter.engine.reduce import reduce_sweep_point
from nmi_jupyter.engine.sweep import rigorous_point, seeded, train_checked
from nmi_jupyter.engine.sweep_result import SweepPoint
from nmi_jupyter.engine.timeseries import windows
from nmi_jupyter.engine.trainer import Trained

__all__ = [
    "conditional",
    "transfer",
    "terms_plan",
    "lag_embedding",
    "reduce_terms",
    "CONDITIONAL_OPTIONS",
    "TRANSFER_OPTIONS",
]

CONDITIONAL_OPTIONS = analysis_options("conditional")
TRANSFER_OPTIONS = analysis_options("transfer")
TRANSFER_TERMS = ("I([X_past,Y_past];Y_future)", "I(Y_past;Y_future)")
TRANSFER_TERMS_YX = ("I([Y_past,X_past];X_future)", "I(X_past;X_future)")

Columns = tuple[tuple[int, ...] | None, tuple[int, ...] | None]


def terms_plan(base: Plan, terms: Sequence[Columns]) -> Plan:
    """``base``'s runs repeated once per term, term after term, each run's view given the
    term's (x_columns, y_columns): the same rows, seeds and labels in every term.  Run ids
    follow on; work units are per term and base unit (so a unit's runs stack)."""
    n_runs = len(base.runs)
    n_units = max((r.unit for r in base.runs), default=0) + 1
    runs = tuple(
        replace(
            run,
            run_id=k * n_runs + i,
            unit=k * n_units + run.unit,
            view=replace(run.view, x_columns=x_columns, y_columns=y_columns),
        )
        for k, (x_columns, y_columns) in enumerate(terms)
        for i, run in enumerate(base.runs)
    )
    return replace(base, runs=runs)


def reduce_terms(
    plan: Plan,
    trained: Trained,
    n_terms: int,
    *,
    rigorous: bool,
    n_samples: int,
    gammas: tuple[int, ...],
    repeats: int,
    checked: dict[str, Any],
) -> list[SweepPoint]:
    """Each term of a :func:`terms_plan` as a :class:`SweepPoint`: its rigorous analysis
    (controls and fit included) or its repeated estimates.  Pure: outcomes -> records."""
    size = len(plan.runs) // n_terms
    points = []
    for k in range(n_terms):
        part = replace(plan, runs=plan.runs[k * size : (k + 1) * size])
        outcomes = trained.outcomes[k * size : (k + 1) * size]
        sub = replace(trained, outcomes=list(outcomes))
        if rigorous:
            points.append(
                rigorous_point(part, sub, {"term": k}, n_samples, list(gammas), repeats, checked)
            )
        else:
            points.append(reduce_sweep_point(part, sub, {"term": k}))
    return points


def _refuse_encoders(config) -> None:
    if config.embedding != "mlp":
        raise OptionError(
            f"embedding='{config.embedding}' is not available for conditional MI and transfer "
            "entropy yet (their terms join variables column-wise); use embedding='mlp'."
        )


# Options a plain (not rigorous) conditional or transfer analysis reads.
PLAIN_OPTIONS = (*WHERE_OPTIONS, "repeats")


def conditional(
    x: Any,
    y: Any,
    z: Any = None,
    *,
    rigorous: bool = True,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> ConditionalResult:
    """Conditional MI I(X;Y|Z) = I([X,Z];Y) - I(Z;Y): what X tells about Y beyond Z.

    Both terms are trained in one plan on the same rows with the same seeds; with
    ``rigorous`` (default) each is a bias-corrected rigorous analysis, and the difference
    is the intercept of the gamma line through the paired per-chunk differences, with
    its interval from that fit (the terms' shared errors cancel; see
    :class:`~nmi_jupyter.ConditionalResult`).  ``rigorous=False`` trains ``repeats``
    estimates per term on all samples (the difference's error needs repeats >= 2).

    Args:
        x, y, z: samples in rows, the same number of rows each.
        rigorous: bias-corrected terms (default) or repeated estimates.
        observer, cancel: as for :func:`~nmi_jupyter.rigorous`.
        **options: the options of every run, and those of ``rigorous()`` (gammas,
            repeats, the fit's, control, batched, executor, retries).

    Returns:
        A :class:`~nmi_jupyter.ConditionalResult`: ``.mi``, ``.mi_error``, ``.interval``,
        ``.joint`` and ``.marginal`` (the two terms), the verdict (``negative`` when the
        difference is below 0 beyond its error).
    """
    check_call(config, observer, cancel)
    check_option_names(options, CONDITIONAL_OPTIONS)
    rigorous = OPTIONS["rigorous"].check(rigorous)
    run_opts, checked = split_options(options, rigorous=rigorous, plain=PLAIN_OPTIONS)
    config = seeded(make_config(config, **run_opts))
    check_executor(checked.get("executor"))
    _refuse_encoders(config)
    if z is None:
        raise OptionError(
            "nmi.conditional needs z, the variable to condition on: nmi.conditional(x, y, z) "
            "(in the magic: --z NAME on the line or z = NAME in the body)."
        )
    if y is None:
        raise InvalidDataError("nmi.conditional needs y: nmi.conditional(x, y, z) gives I(X;Y|Z).")
    xs, ys = check_pair(x, y)
    zs = as_samples(z, "z")
    if len(zs) != len(xs):
        raise InvalidDataError(
            "z must have the same number of samples (rows) as x and y, "
            f"but x has {len(xs)} and z has {len(zs)}."
        )
    if config.copula:
        xs, ys, zs = copula_normal(xs), copula_normal(ys), copula_normal(zs)
    xz = np.hstack([xs, zs])
    z_columns = tuple(range(xs.shape[1], xz.shape[1]))
    terms: list[Columns] = [(None, None), (z_columns, None)]
    result, points = _run_terms(
        xz, ys, terms, rigorous, checked, config, observer, cancel, search=True
    )
    return _conditional_result(points, *result)


def transfer(
    x: Any,
    y: Any,
    *,
    history: int = 1,
    horizon: int = 1,
    both: bool = True,
    rigorous: bool = True,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> TransferResult:
    """Transfer entropy TE(X->Y) = I([X_past, Y_past]; Y_future) - I(Y_past; Y_future).

    x and y are time series (rows in time order, the same length).  The past is the last
    ``history`` samples up to time t, the future the sample at t + ``horizon``.  With
    ``both`` (default) TE(Y->X) is trained too, all four terms in one plan, and
    ``directionality`` compares them.  The split is ``blocked`` (time order, the last
    block validates) with a ``gap`` of history + horizon - 1 rows (rows closer than that
    share samples, so the validation block would see its neighbours) unless ``split`` /
    ``gap`` are given; with ``rigorous`` the gamma chunks are contiguous blocks of time.

    Args:
        x, y: time series, one row per time point (1-D: one channel).
        history: past samples of each series (>= 1).
        horizon: how far ahead the future sample lies (>= 1).
        both: also TE(Y->X).
        rigorous, observer, cancel, **options: as for :func:`conditional`.

    Returns:
        A :class:`~nmi_jupyter.TransferResult`: ``.te_xy``, ``.te_yx`` with intervals,
        ``.directionality``, each direction's :class:`ConditionalResult` (``.xy``, ``.yx``).
    """
    check_call(config, observer, cancel)
    check_option_names(options, TRANSFER_OPTIONS)
    history = OPTIONS["history"].check(history)
    horizon = OPTIONS["horizon"].check(horizon)
    both = OPTIONS["both"].check(both)
    rigorous = OPTIONS["rigorous"].check(rigorous)
    run_opts, checked = split_options(options, rigorous=rigorous, plain=PLAIN_OPTIONS)
    if config is None:  # time order; rows closer than history + horizon share samples
        run_opts = {"split": "blocked", "gap": history + horizon - 1, **run_opts}
    elif config.split == "random" and "split" not in run_opts:
        warn_random_split("nmi.transfer")
    config = seeded(make_config(config, **run_opts))
    check_executor(checked.get("executor"))
    _refuse_encoders(config)
    if y is None:
        raise InvalidDataError(
            "nmi.transfer needs y, the second time series: nmi.transfer(x, y) gives the "
            "transfer entropy between x and y."
        )
    xs, ys = check_pair(x, y)
    if config.copula:
        xs, ys = copula_normal(xs), copula_normal(ys)
    past, future = lag_embedding(xs, ys, history, horizon)
    cx, cy = xs.shape[1], ys.shape[1]
    x_past = tuple(range(history * cx))
    y_past = tuple(range(history * cx, history * (cx + cy)))
    y_future, x_future = tuple(range(cy)), tuple(range(cy, cy + cx))
    terms: list[Columns] = [(None, y_future), (y_past, y_future)]
    if both:
        terms += [(None, x_future), (x_past, x_future)]
    # joint terms first, then the marginal ones: equal widths train in one stack
    order = [0, 2, 1, 3] if both else [0, 1]
    common, points = _run_terms(
        past, future, [terms[k] for k in order], rigorous, checked, config, observer, cancel
    )
    by_term = dict(zip(order, points, strict=True))
    xy = _conditional_result([by_term[0], by_term[1]], *common, labels=TRANSFER_TERMS)
    yx = (
        _conditional_result([by_term[2], by_term[3]], *common, labels=TRANSFER_TERMS_YX)
        if both
        else None
    )
    settings, stop_reason, elapsed, device, n = common
    return TransferResult(
        xy=xy,
        yx=yx,
        history=history,
        horizon=horizon,
        units=config.units,
        n_samples=n,
        settings={**settings, "history": history, "horizon": horizon, "both": both},
        stop_reason=stop_reason,
        elapsed=elapsed,
        device=device,
        version=__version__,
    )


def lag_embedding(
    xs: np.ndarray, ys: np.ndarray, history: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """The pasts and futures of two time series (T, cx) and (T, cy), one row per time t
    from ``history - 1`` to ``T - 1 - horizon``: ``past`` = [x_{t-history+1..t} (oldest
    first, each sample's channels together), y_{t-history+1..t}], shape
    (n, history*(cx+cy)); ``future`` = [y_{t+horizon}, x_{t+horizon}], shape (n, cy+cx).
    Raises :class:`InsufficientDataError` when no row remains."""
    t = len(xs)
    n = t - history - horizon + 1
    if n < 2:
        raise InsufficientDataError(
            f"A transfer entropy with history {history} and horizon {horizon} needs more "
            f"than {history + horizon} time points; the series have {t}."
        )

    def pasts(a: np.ndarray) -> np.ndarray:
        # (n, history, channels) windows, oldest sample first, flattened per row
        return windows(a[: history - 1 + n], history).reshape(n, -1)

    past = np.hstack([pasts(xs), pasts(ys)])
    start = history - 1 + horizon
    future = np.hstack([ys[start : start + n], xs[start : start + n]])
    return np.ascontiguousarray(past), np.ascontiguousarray(future)


def _run_terms(
    xs: np.ndarray,
    ys: np.ndarray,
    terms: list[Columns],
    rigorous: bool,
    checked: dict[str, Any],
    config: EstimateConfig,
    observer: Observer | None,
    cancel: CancelToken | None,
    *,
    search: bool = False,
) -> tuple[tuple[dict[str, Any], str, float, str, int], list[SweepPoint]]:
    """Plan, train and reduce the terms on (xs, ys).  Returns ((settings, stop reason,
    elapsed, device, N), one SweepPoint per term).  ``search``: the analysis runs the
    critic search (conditional MI; transfer entropy does not: on a 10-pair VAR seen
    through 100 channels per series the kept critics were further off, 6.4 % mean error
    against 3.4 % on seeds 0-5, docs/research/showcase.md)."""
    n = len(xs)
    repeats = checked.get("repeats", OPTIONS["repeats"].default)
    gammas = tuple(checked.get("gammas", OPTIONS["gammas"].default))
    fit_request = fit_request_of(checked)
    check_chunk_size(n, max(gammas) if rigorous else 1, config)
    start = time.perf_counter()

    def train_terms(config: EstimateConfig, k: int = 0) -> critic_search.Scan:
        """Every term trained with ``config``'s critic and reduced (candidate k of a
        critic search numbers its runs after the trainings before it)."""
        if rigorous:
            base = rigorous_plan(n, gammas, repeats, checked.get("control", True), config)
        else:
            base = repeats_plan(config, [View()] * repeats)
        plan = terms_plan(base, terms)
        plan = renumbered(plan, k * len(plan.runs))
        trained, where = train_checked(plan, xs, ys, checked, tagged(observer, k), cancel)
        with deferred_interrupts():
            points = reduce_terms(
                plan,
                trained,
                len(terms),
                rigorous=rigorous,
                n_samples=n,
                gammas=gammas,
                repeats=repeats,
                checked=checked,
            )
        return critic_search.Scan(config, points, trained, where)

    done, record = critic_search.search_scan(
        train_terms(config),
        train_terms,
        enabled=search and rigorous and checked.get("critic_search", False),
        n=n,
        max_gamma=max(gammas),
        features=max(xs.shape[1], ys.shape[1]),
        where="at the largest term",
    )
    settings = {
        **done.config.to_dict(),
        "fit": fit_request,
        "gammas": list(gammas),
        "repeats": repeats,
        "batched": done.where["batched"],
        "control": checked.get("control", True),
        "executor": done.where["executor"],
    }
    if search and rigorous:
        settings["critic_search"] = checked.get("critic_search", False)
    if record is not None:
        settings["critic_choice"] = record
    elapsed = time.perf_counter() - start
    return (settings, done.stop_reason, elapsed, done.trained.device, n), done.points


def _conditional_result(
    points: list[SweepPoint],
    settings: dict[str, Any],
    stop_reason: str,
    elapsed: float,
    device: str,
    n: int,
    *,
    labels: tuple[str, str] | None = None,
) -> ConditionalResult:
    rigorous = points[0].rigorous is not None
    extra = {} if labels is None else {"labels": labels}
    return ConditionalResult(
        joint_point=points[0],
        marginal_point=points[1],
        units=settings["units"],
        rigorous=rigorous,
        n_samples=n,
        settings=settings,
        stop_reason=stop_reason,
        elapsed=elapsed,
        device=device,
        version=__version__,
        **extra,
    )
