"""The public call ``pairwise``: MI for every pair of channels, as one plan.

Every pair is one or more runs whose :class:`~nmi_jupyter.engine.plan.View` picks one
column of x (``x_columns``) and one of y (``y_columns``; within x, another column of
x).  All pairs' runs are ONE plan with the same input widths (1 and 1), so the
batched trainer stacks them: 28 pairs of 8 channels train as one vectorised model,
not 28 models one after another.  The reducer groups the trained runs by pair (read
from their views) into one :class:`~nmi_jupyter.engine.sweep_result.SweepPoint` per
pair: repeated estimates, or with ``rigorous=True`` a full rigorous analysis.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from nmi_jupyter import __version__
from nmi_jupyter.engine.config import (
    EstimateConfig,
    check_call,
    check_option_names,
    fit_request_of,
    make_config,
    split_options,
)
from nmi_jupyter.engine.data import as_samples, check_pair
from nmi_jupyter.engine.distribute import check_executor
from nmi_jupyter.engine.errors import InvalidDataError, OptionError
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.interrupts import deferred_interrupts
from nmi_jupyter.engine.options import DEFAULT_PAIRWISE_REPEATS, OPTIONS, analysis_options
from nmi_jupyter.engine.pairwise_result import PairwiseResult, pair_values
from nmi_jupyter.engine.plan import (
    Plan,
    RunSpec,
    View,
    check_chunk_size,
    repeats_plan,
    rigorous_plan,
)
from nmi_jupyter.engine.reduce import reduce_sweep_point
from nmi_jupyter.engine.sweep import copula_marginals, rigorous_point, seeded, train_checked
from nmi_jupyter.engine.sweep_result import SweepPoint
from nmi_jupyter.engine.trainer import Trained

__all__ = [
    "pairwise",
    "channel_pairs",
    "pairwise_plan",
    "reduce_pairwise",
    "PAIRS_PER_UNIT",
    "PAIRWISE_NETWORK",
]

PAIRWISE_OPTIONS = analysis_options("pairwise")
# Pairs per work unit on an executor (repeated estimates): enough runs for the batched
# trainer to stack on each worker, enough units to spread over a few workers.
PAIRS_PER_UNIT = 8
# The critic of every pair unless the call names its own sizes (or gives ``config``): one
# channel per side needs less than estimate's default (hidden 64 x 2, embedding 64), and
# the embedding width sets most of a batched step's cost.  Measured against closed forms
# (seeds 0-2): Gaussian pairs as accurate as with the default; a squared pair (1.15 bits)
# as accurate (the third narrow layer restores it, 32 x 2 lost 0.04 bits more); Student-t
# pairs (df 3, 1 and 1.5 bits) 0.035 bits lower; a batched map 0.6 of the CPU time.
PAIRWISE_NETWORK = {"hidden_dim": 32, "n_layers": 3, "embedding_dim": 16}


def channel_pairs(x_channels: int, y_channels: int | None = None) -> list[tuple[int, int]]:
    """The pairs (i, j) of a pairwise map: i < j within x's ``x_channels`` columns when
    ``y_channels`` is None, else every x column with every y column (row-major)."""
    if y_channels is None:
        return [(i, j) for i in range(x_channels) for j in range(i + 1, x_channels)]
    return [(i, j) for i in range(x_channels) for j in range(y_channels)]


def pairwise_plan(
    pairs: list[tuple[int, int]],
    config: EstimateConfig,
    *,
    repeats: int,
    rigorous: bool = False,
    n: int | None = None,
    gammas: list[int] | None = None,
    control: bool = True,
) -> Plan:
    """One plan holding every pair's runs; run k of pair (i, j) sees column i of x and
    column j of y (``View.x_columns``/``y_columns``).

    Repeated estimates: ``repeats`` runs per pair, the k-th with the same seed at every
    pair (the same split and minibatch order, so pairs differ by their data only), one
    work unit per :data:`PAIRS_PER_UNIT` pairs.  ``rigorous``: each pair's runs are
    :func:`~nmi_jupyter.engine.plan.rigorous_plan`'s on ``n`` samples (same chunks and
    seeds at every pair), one unit per pair and gamma.  Run ids are unique across pairs.
    """
    runs: list[RunSpec] = []
    for p, (i, j) in enumerate(pairs):
        columns = {"x_columns": (i,), "y_columns": (j,)}
        if rigorous:
            assert n is not None and gammas is not None
            one = rigorous_plan(n, gammas, repeats, control, config)
            per_pair = len(gammas) + 1
            runs += [
                replace(
                    run,
                    run_id=len(runs) + k,
                    view=replace(run.view, **columns),
                    unit=p * per_pair + run.unit,
                )
                for k, run in enumerate(one.runs)
            ]
        else:
            one = repeats_plan(config, [View(**columns)] * repeats, first_run_id=len(runs))
            runs += [replace(run, unit=p // PAIRS_PER_UNIT) for run in one.runs]
    return Plan(tuple(runs), config)


def pair_of(run: RunSpec) -> tuple[int, int]:
    """The (x column, y column) a run of a pairwise plan sees."""
    view = run.view
    assert view.x_columns is not None and view.y_columns is not None
    return view.x_columns[0], view.y_columns[0]


def reduce_pairwise(
    plan: Plan,
    trained: Trained,
    pairs: list[tuple[int, int]],
    *,
    rigorous: bool = False,
    n: int = 0,
    gammas: tuple[int, ...] = (),
    repeats: int = 1,
    checked: dict[str, Any] | None = None,
) -> tuple[SweepPoint, ...]:
    """One :class:`SweepPoint` per pair that trained (values ``{"x": i, "y": j}``), in
    ``pairs`` order: the records of its runs, or its rigorous analysis.  Pairs with no
    outcome (training stopped before them) are left out."""
    by_pair: dict[tuple[int, int], tuple[list[RunSpec], list]] = {}
    for spec, outcome in zip(plan.runs, trained.outcomes, strict=False):
        specs, outcomes = by_pair.setdefault(pair_of(spec), ([], []))
        specs.append(spec)
        outcomes.append(outcome)
    points = []
    for pair in pairs:
        if pair not in by_pair:
            continue
        specs, outcomes = by_pair[pair]
        sub_plan = replace(plan, runs=tuple(specs))
        sub = replace(trained, outcomes=outcomes)
        values = pair_values(*pair)
        if rigorous:
            point = rigorous_point(sub_plan, sub, values, n, list(gammas), repeats, checked or {})
        else:
            point = reduce_sweep_point(sub_plan, sub, values)
        if point.n_runs or trained.stop_reason == "completed":
            points.append(point)
    return tuple(points)


def pairwise(
    x: Any,
    y: Any = None,
    *,
    rigorous: bool = False,
    repeats: int | None = None,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> PairwiseResult:
    """MI between every pair of channels (columns): ``nmi.pairwise(x).matrix``.

    Without ``y``: every pair i < j of x's channels (``.matrix`` symmetric, NaN on the
    diagonal).  With ``y``: every x channel with every y channel (``.matrix`` rows x's
    channels, columns y's).  All pairs' runs are one plan trained batched (one
    vectorised model for all pairs; ``benchmarks/pairwise_speed.py`` measures the
    gain against one ``nmi.estimate`` per pair).

    Args:
        x, y: samples in rows, channels in columns (a DataFrame's column names label
            the channels).
        rigorous: each pair a rigorous analysis (bias-corrected MI, interval, the fit
            in the panel): about 58 runs per pair instead of one.
        repeats: estimates per pair, each with its own seed (the same seeds at every
            pair).  Default 1: a map is a screen over many pairs, and one run per pair
            keeps its cost that of one estimate per pair; the pairs then have no error
            bar (a warning says so), so use ``repeats >= 2`` for a standard error per
            pair, ``rigorous=True`` for a bias-corrected interval, or
            ``nmi.permutation_test`` on a pair that matters.  With ``rigorous``: runs
            per chunk (default 1).
        observer, cancel: as for :func:`~nmi_jupyter.rigorous`; a stopped map keeps the
            pairs that finished.
        **options: the options of every run (``epochs``, ``estimator``, ...), with
            ``rigorous`` those of the analysis (``gammas``, ``control``, the fit's), and
            ``batched``, ``executor``, ``retries``.  The network of a pair defaults to
            :data:`PAIRWISE_NETWORK` (``hidden_dim`` 32, ``n_layers`` 3,
            ``embedding_dim`` 16: two single channels need less than ``nmi.estimate``'s
            64 x 2 and 64); name any of them to change it.

    Returns:
        A :class:`~nmi_jupyter.PairwiseResult`.
    """
    check_call(config, observer, cancel)
    check_option_names(options, PAIRWISE_OPTIONS)
    rigorous = OPTIONS["rigorous"].check(rigorous)
    default = 1 if rigorous else DEFAULT_PAIRWISE_REPEATS
    repeats = OPTIONS["repeats"].check(default if repeats is None else repeats)
    run, checked = split_options(options, rigorous=rigorous, where=" to nmi.pairwise")
    network = PAIRWISE_NETWORK if config is None else {}
    config = seeded(make_config(config, **{**network, **run}))
    if config.embedding != "mlp":
        raise OptionError(
            f"A pairwise map pairs single channels, which the {config.embedding} encoder "
            "cannot read as windows; use embedding='mlp'."
        )
    executor = checked.get("executor")
    check_executor(executor)
    within = y is None
    for name, data in (("x", x), ("y", y)):
        if data is not None and np.ndim(data) > 2:
            raise InvalidDataError(
                f"A pairwise map pairs columns: give {name} as (samples, channels), not an "
                f"array of shape {np.shape(data)}."
            )
    if within:
        xs = as_samples(x, "x")
        if xs.shape[1] < 2:
            raise InvalidDataError(
                f"A pairwise map within x needs at least 2 channels (columns), not "
                f"{xs.shape[1]}; give y to pair x's channels with y's."
            )
        xs, _ = copula_marginals(xs, xs[:, :1], config)
        ys = xs
        pairs = channel_pairs(xs.shape[1])
    else:
        xs, ys = copula_marginals(*check_pair(x, y), config)
        pairs = channel_pairs(xs.shape[1], ys.shape[1])
    n = len(xs)
    gammas = checked.get("gammas", list(OPTIONS["gammas"].default))
    if rigorous:
        check_chunk_size(n, max(gammas), config)
    plan = pairwise_plan(
        pairs,
        config,
        repeats=repeats,
        rigorous=rigorous,
        n=n,
        gammas=gammas,
        control=checked.get("control", True),
    )
    start = time.perf_counter()
    trained, where = train_checked(plan, xs, ys, checked, observer, cancel)
    with deferred_interrupts():
        points = reduce_pairwise(
            plan,
            trained,
            pairs,
            rigorous=rigorous,
            n=n,
            gammas=tuple(gammas),
            repeats=repeats,
            checked=checked,
        )
    settings = {**config.to_dict(), **where}
    if rigorous:
        settings["fit"] = fit_request_of(checked)
        settings["control"] = checked.get("control", True)
    x_names = _channel_names(x, xs.shape[1], "x")
    return PairwiseResult(
        within=within,
        x_names=x_names,
        y_names=x_names if within else _channel_names(y, ys.shape[1], "y"),
        points=points,
        units=config.units,
        rigorous=rigorous,
        repeats=repeats,
        settings=settings,
        n_samples=n,
        stop_reason=trained.stop_reason,
        elapsed=time.perf_counter() - start,
        device=trained.device,
        version=__version__,
    )


def _channel_names(data: Any, channels: int, prefix: str) -> tuple[str, ...]:
    """A DataFrame's column names, else ``x0``, ``x1``, ... (``y0``, ... for y)."""
    columns = getattr(data, "columns", None)
    if columns is not None and len(columns) == channels:
        return tuple(str(c) for c in columns)
    return tuple(f"{prefix}{k}" for k in range(channels))
