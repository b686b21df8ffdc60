"""MI against lag, ``nmi.lag``: its plan, its reducer and the public call.

``MI(x_t; y_{t+k})`` for every lag k: positive k pairs x with y k samples later (x
leads y), negative k pairs x with y earlier (y leads x).  Every lag sees the same x time
points, those for which ``t + k`` is a time point of y at every lag tried
(:func:`lag_rows`), so every lag has the same number of samples and the curve compares
like with like.  Each lag is one set of runs (``repeats`` estimates, or a rigorous
analysis) on views ``rows`` / ``y_rows = rows + k`` (:class:`~nmi_jupyter.engine.plan.View`);
all lags are in ONE plan, so the stacked trainer trains them together (their widths are
the same).  The split is blocked unless given (time series: the last block of the
common time points validates at every lag).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from nmi_jupyter import __version__
from nmi_jupyter.engine import critic_search
from nmi_jupyter.engine.config import (
    EstimateConfig,
    check_call,
    check_option_names,
    make_config,
    split_options,
    warn_random_split,
)
from nmi_jupyter.engine.data import check_pair
from nmi_jupyter.engine.distribute import check_executor
from nmi_jupyter.engine.errors import InsufficientDataError, InvalidDataError, OptionError
from nmi_jupyter.engine.events import CancelToken, Observer, tagged
from nmi_jupyter.engine.interrupts import deferred_interrupts
from nmi_jupyter.engine.lag_result import LagResult
from nmi_jupyter.engine.memory import check_score_memory
from nmi_jupyter.engine.options import (
    DEFAULT_LAGS,
    DEFAULT_SWEEP_REPEATS,
    OPTIONS,
    analysis_options,
)
from nmi_jupyter.engine.options_check import as_int, describe_value
from nmi_jupyter.engine.plan import (
    Plan,
    View,
    check_chunk_size,
    chunk_trains,
    renumbered,
    repeats_plan,
    rigorous_plan,
)
from nmi_jupyter.engine.reduce import reduce_sweep_point
from nmi_jupyter.engine.sweep import (
    copula_marginals,
    rigorous_point,
    seeded,
    train_checked,
)
from nmi_jupyter.engine.sweep_result import SweepPoint, SweepResult
from nmi_jupyter.engine.trainer import Trained

__all__ = ["lag", "check_lags", "lag_rows", "lagged_view", "lag_plan", "reduce_lag"]

LAG_OPTIONS = analysis_options("lag")
# Estimates per lag unless given: as a sweep's points, three give every lag an error
# bar, which the peak's interval reads (one run per lag gives none and a one_run
# warning at every lag).  Measured (benchmarks/lag_accuracy.py --cost, N = 5000, 11
# lags, 2 shared cores): 3 per lag took 2.0-3.0x the time of 1 (26-39 s against 13 s;
# the stacked trainer trains the extra runs alongside), the same peak lag and MI.
# The bar is the spread of training on the same samples (0.001-0.004 bits there), not
# the sampling error (seed to seed the peak MI moved by 0.03 bits): rigorous=True gives
# each lag an interval that includes it.
DEFAULT_LAG_REPEATS = DEFAULT_SWEEP_REPEATS
# Time series: the last block validates, unless the user says otherwise.
DEFAULT_LAG_SPLIT = "blocked"


def check_lags(values: Any) -> list[int]:
    """Lags of a lag analysis: integers (negative welcome), at least one; returned
    sorted and distinct as plain ints.  Raises :class:`OptionError` (one sentence)."""
    if isinstance(values, str | bytes | dict) or not isinstance(values, Iterable):
        raise OptionError(
            f"lags must be a list of integers such as range(-20, 21), not {describe_value(values)}."
        )
    lags = sorted({as_int("each lag", v) for v in values})
    if not lags:
        raise OptionError("lags is empty; give at least one lag, e.g. range(-20, 21).")
    return lags


def lag_rows(n: int, lags: Iterable[int]) -> np.ndarray:
    """The x time points valid at every lag: ``t`` with ``0 <= t + k < n`` for every k,
    the same for every lag (so each lag sees as many samples)."""
    lags = list(lags)
    first, last = max(0, -min(lags)), n - max(0, max(lags))
    if last <= first:
        raise InsufficientDataError(
            f"With {n} time points, lags from {min(lags)} to {max(lags)} leave no time point "
            "valid at every lag; use smaller lags or more data."
        )
    return np.arange(first, last)


def lagged_view(view: View, rows: np.ndarray, lag: int) -> View:
    """``view`` of the valid time points ``rows`` (its rows index into them), with y
    read ``lag`` samples later: x at ``rows[i]``, y at ``rows[j] + lag`` where the view
    pairs i with j (j = i unless it permutes the pairs, as a shuffled control does)."""
    x_rows = rows if view.rows is None else rows[view.rows]
    paired = view.rows if view.y_rows is None else view.y_rows
    y_rows = (rows if paired is None else rows[paired]) + lag
    return View(x_rows, y_rows, view.x_columns, view.y_columns)


def lag_plan(
    n: int,
    lags: list[int],
    config: EstimateConfig,
    repeats: int,
    *,
    gammas: list[int] | None = None,
    control: bool = True,
) -> tuple[Plan, int]:
    """All lags' runs in one plan, lag after lag, and the number of runs per lag.

    Each lag's runs are those of ``repeats_plan`` (``repeats`` estimates seeded as a
    sweep's, so the k-th run has the same seed at every lag) or, with ``gammas``, of
    ``rigorous_plan`` on the valid time points, every view shifted by the lag
    (:func:`lagged_view`).  Work units: one per lag (rigorous: one per lag and gamma)."""
    rows = lag_rows(n, lags)
    if gammas is None:
        inner = repeats_plan(config, [View()] * repeats)
    else:
        inner = rigorous_plan(len(rows), gammas, repeats, control, config)
    units = max(spec.unit for spec in inner.runs) + 1
    runs = [
        replace(
            spec,
            run_id=i * len(inner.runs) + k,
            view=lagged_view(spec.view, rows, lag),
            unit=i * units + spec.unit,
        )
        for i, lag in enumerate(lags)
        for k, spec in enumerate(inner.runs)
    ]
    return Plan(tuple(runs), config), len(inner.runs)


def reduce_lag(
    plan: Plan,
    trained: Trained,
    lags: list[int],
    per_lag: int,
    point_of: Any = None,
) -> list[SweepPoint]:
    """Each lag's runs (consecutive blocks of ``per_lag`` in ``plan``) reduced as a
    sweep point ``{"lag": k}``: by ``point_of(plan, trained, values)`` (the rigorous
    reducer) or as repeated estimates.  A lag whose runs did not start before training
    stopped is left out."""
    point_of = point_of or reduce_sweep_point
    points = []
    for i, lag in enumerate(lags):
        part = slice(i * per_lag, (i + 1) * per_lag)
        outcomes = trained.outcomes[part]
        if not outcomes:
            break
        point = point_of(
            replace(plan, runs=plan.runs[part]), replace(trained, outcomes=outcomes), {"lag": lag}
        )
        if point.n_runs or trained.stop_reason == "completed":
            points.append(point)
    return points


def lag(
    x: Any,
    y: Any,
    *,
    lags: Iterable[int] = DEFAULT_LAGS,
    rigorous: bool = False,
    repeats: int | None = None,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> LagResult:
    """MI against lag: ``MI(x_t; y_{t+k})`` for each k in ``lags``.  **Positive k: x
    leads y** (x at time t is paired with y k samples later); negative k: y leads x.

    x and y are time series with time along the rows (the same clock).  Every lag uses
    the same time points t of x, those valid at every lag tried (``n - max(k, 0) -
    max(-k, 0)`` over the extremes), so every lag sees the same number of samples.
    All lags train together as one plan (stacked).  The split is ``"blocked"`` unless
    given: the last 10 % of the common time points validate at every lag.

    Args:
        x, y: time series, one row per time point, the same number of rows.
        lags: integer lags in samples (default -20..20), at least one.
        rigorous: each lag a full rigorous analysis (bias-corrected MI, interval,
            verdict) instead of repeated estimates.
        repeats: estimates per lag, each with its own seed (default 3: an error bar per
            lag, the spread of training on the same samples, not the sampling error;
            ``rigorous=True`` gives that); with ``rigorous``, runs per chunk (default 1).
        observer, cancel: as for :func:`~nmi_jupyter.rigorous`; a stopped analysis
            keeps the lags that finished.
        **options: the options of every run (``epochs``, ``estimator``, ``split``, ...)
            and, with ``rigorous``, those of the analysis (``gammas``, ``control``, the
            fit's); ``batched``, ``executor``, ``retries`` say where the runs train.

    Returns:
        A :class:`~nmi_jupyter.LagResult`: ``peak_lag``, ``peak_lag_interval``,
        ``to_frame()`` (one row per lag), ``plot()``, ``panel()``.
    """
    check_call(config, observer, cancel)
    check_option_names(options, LAG_OPTIONS)
    lags = OPTIONS["lags"].check(lags)
    rigorous = OPTIONS["rigorous"].check(rigorous)
    default = 1 if rigorous else DEFAULT_LAG_REPEATS
    repeats = OPTIONS["repeats"].check(default if repeats is None else repeats)
    run, checked = split_options(options, rigorous=rigorous, where=" to nmi.lag")
    if config is None:
        run = {"split": DEFAULT_LAG_SPLIT, **run}
    if config is not None and config.split == "random" and "split" not in run:
        warn_random_split("nmi.lag")
    base = seeded(make_config(config, **run))
    executor = checked.get("executor")
    check_executor(executor)
    if y is None:
        raise InvalidDataError(
            "nmi.lag needs y, the second series, shifted against x at every lag; for the "
            "channels of one recording among themselves use nmi.pairwise(x)."
        )
    xs, ys = copula_marginals(*check_pair(x, y, base.embedding), base)
    n = len(xs)
    valid = len(lag_rows(n, lags))
    gammas = checked.get("gammas", list(OPTIONS["gammas"].default)) if rigorous else None
    largest = max(gammas) if gammas else 1
    if not chunk_trains(valid // largest, base):
        chunks = f" (gamma = {largest} chunks of {valid // largest})" if gammas else ""
        raise InsufficientDataError(
            f"With {n} time points and lags from {lags[0]} to {lags[-1]}, {valid} time points "
            f"are valid at every lag{chunks}: too few for batch_size = {base.batch_size} and "
            "a validation block; use fewer or smaller lags, a smaller batch_size or more data."
        )
    if gammas:
        check_chunk_size(valid, largest, base)
    check_score_memory(base)
    start = time.perf_counter()

    def scan(config: EstimateConfig, k: int = 0) -> critic_search.Scan:
        """Every lag trained with ``config``'s critic and reduced (candidate k of a
        critic search numbers its runs after the scans before it)."""
        plan, per_lag = lag_plan(
            n, lags, config, repeats, gammas=gammas, control=checked.get("control", True)
        )
        plan = renumbered(plan, k * len(plan.runs))
        trained, where = train_checked(plan, xs, ys, checked, tagged(observer, k), cancel)

        def lag_point(part: Plan, done: Trained, values: dict) -> SweepPoint:
            return rigorous_point(part, done, values, valid, gammas, repeats, checked)

        with deferred_interrupts():
            points = reduce_lag(plan, trained, lags, per_lag, lag_point if gammas else None)
        return critic_search.Scan(config, points, trained, where)

    done, record = critic_search.search_scan(
        scan(base),
        scan,
        enabled=bool(gammas) and checked.get("critic_search", False),
        n=valid,
        max_gamma=largest,
        features=max(int(np.prod(xs.shape[1:])), int(np.prod(ys.shape[1:]))),
        where="at the strongest lag",
    )
    settings = {**done.config.to_dict(), **done.where}
    if gammas:
        settings["critic_search"] = checked.get("critic_search", False)
    if record is not None:
        settings["critic_choice"] = record
    sweep = SweepResult(
        grid={"lag": lags},
        points=tuple(done.points),
        units=base.units,
        rigorous=rigorous,
        repeats=repeats,
        settings=settings,
        n_samples=valid,
        stop_reason=done.stop_reason,
        elapsed=time.perf_counter() - start,
        device=done.trained.device,
        version=__version__,
    )
    return LagResult(sweep=sweep, n_series=n)
