"""The public calls ``sweep`` and ``dimensionality``: MI against settings, wired.

A sweep is a plan per grid point, trained by the one trainer
(:func:`~nmi_jupyter.engine.distribute.train`) and reduced point by point.  Points
whose settings differ only in ``embedding_dim`` (a dimensionality analysis's dims, an
``embedding_dim`` grid) train as one combined plan, each run with its own settings,
so the stacked trainer stacks them together (narrower embeddings zero-padded to the
widest); points that differ in other settings (lr, batch_size, hidden_dim: shapes
and optimiser settings the stacked trainer shares) train one group after another, in
grid order.  Within a point, the repeats (or a rigorous analysis's chunks, or a
dimensionality analysis's splits) stack, as in ``rigorous``.  Every grid value and
every point's config is checked before anything trains.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from nmi_jupyter.engine.data import as_samples, check_pair, copula_normal
from nmi_jupyter.engine.distribute import DEFAULT_RETRIES, check_executor, describe, train
from nmi_jupyter.engine.errors import InvalidDataError, OptionError, closest_option_hint
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.interrupts import deferred_interrupts
from nmi_jupyter.engine.options import (
    DEFAULT_EMBEDDING_DIMS,
    DEFAULT_SPLITS,
    DEFAULT_SWEEP_REPEATS,
    OPTIONS,
    RUN,
    analysis_options,
)
from nmi_jupyter.engine.options_check import describe_value
from nmi_jupyter.engine.plan import (
    Plan,
    View,
    check_chunk_size,
    combined,
    renumbered,
    repeats_plan,
    rigorous_plan,
    stack_key,
)
from nmi_jupyter.engine.reduce import reduce_rigorous, reduce_sweep_point
from nmi_jupyter.engine.run_state import analysis_stop
from nmi_jupyter.engine.runtime import draw_seed
from nmi_jupyter.engine.sweep_result import SweepPoint, SweepResult
from nmi_jupyter.engine.trainer import Trained
from nmi_jupyter.engine.verdict import PLATEAU_POINTS

__all__ = [
    "sweep",
    "dimensionality",
    "check_grid",
    "check_dims",
    "grid_points",
    "copula_marginals",
    "seeded",
    "rigorous_point",
    "SWEEPABLE",
    "train_checked",
]

SWEEP_OPTIONS = analysis_options("sweep")
DIMENSIONALITY_OPTIONS = analysis_options("dimensionality")
# Run options a grid may not hold: they do not change what is estimated.
_NOT_SWEPT = {
    "seed": "each point's runs already have their own seeds (use repeats)",
    "units": "units only change how numbers are reported",
    "device": "where runs train does not change the estimate",
    "threads": "threads do not change the estimate",
}
# Seed stream of the random halvings of X's channels (internal dimensionality).
HALVES_SEED_STREAM = 3000
SWEEPABLE = tuple(spec.name for spec in OPTIONS.values() if spec.scope == RUN)
# The runs of a dimensionality analysis, unless given (issue 19; measured in README,
# "Sweeps and dimensionality"): a hybrid critic, whose pair MLP carries InfoNCE's term in
# y alone without an extra embedding dimension, as a separable or bilinear critic
# cannot (they read one dimension too many); it learns the latent's dimensions in
# stages, plateau after plateau, so a larger lr and patience let it reach the last one.
DIMENSIONALITY_CRITIC = "hybrid"
HYBRID_DIMENSIONALITY_DEFAULTS = {"lr": 2e-3, "patience": 20}


def check_grid(grid: Any) -> dict[str, list[Any]]:
    """``grid`` checked: a non-empty mapping of run options to non-empty lists of
    distinct values, each value checked by its option's row of the table; returns
    ``{option: [plain values]}`` in the given order.  Raises :class:`OptionError`
    (an unknown key names the closest option)."""
    if not isinstance(grid, Mapping) or not grid:
        raise OptionError(
            "grid must be a dict of options to lists of values, e.g. "
            f'{{"embedding_dim": [1, 2, 4, 8]}}, not {describe_value(grid)}.'
        )
    out: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if key in _NOT_SWEPT:
            raise OptionError(f"{key} cannot be swept: {_NOT_SWEPT[key]}.")
        if key not in SWEEPABLE:
            where = " (an option of the analysis, not of its runs)" if key in OPTIONS else ""
            raise OptionError(
                f"grid key '{key}' is not an option of a training run{where}"
                f"{closest_option_hint(str(key), SWEEPABLE)}."
            )
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            raise OptionError(
                f"grid['{key}'] must be a list of values, e.g. [1, 2, 4], "
                f"not {describe_value(values)}."
            )
        checked = [OPTIONS[key].check(value) for value in values]
        if not checked:
            raise OptionError(f"grid['{key}'] is empty; give at least one value.")
        if len(set(map(repr, checked))) != len(checked):
            raise OptionError(f"grid['{key}'] holds a value twice: {checked}.")
        out[str(key)] = checked
    return out


def check_dims(values: Any) -> list[int]:
    """Embedding dims of a dimensionality analysis: distinct integers >= 1, sorted, more
    than :data:`~nmi_jupyter.engine.verdict.PLATEAU_POINTS` of them (the plateau is read
    from the largest three)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise OptionError(
            f"embedding_dims must be a list of integers such as range(1, 13), "
            f"not {describe_value(values)}."
        )
    dims = sorted({OPTIONS["embedding_dim"].check(v) for v in values})
    if len(dims) <= PLATEAU_POINTS:
        raise OptionError(
            f"embedding_dims needs at least {PLATEAU_POINTS + 1} distinct values (the plateau "
            f"is read from the largest {PLATEAU_POINTS}), not {describe_value(values)}."
        )
    return dims


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of ``grid``, the last key varying fastest."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def sweep(
    x: Any,
    y: Any,
    *,
    grid: Mapping[str, Any] | None = None,
    rigorous: bool = False,
    repeats: int | None = None,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> SweepResult:
    """MI at every point of a grid of settings: ``nmi.sweep(x, y, grid={"embedding_dim":
    [1, 2, 4, 8, 16]})``.

    Args:
        x, y: paired samples, as for :func:`~nmi_jupyter.estimate`.
        grid: ``{option: [values]}``: any option of a training run (not seed, units,
            device, threads); several keys give their cartesian product.  Every value
            and every point's settings are checked before anything trains.
            Consecutive points that differ only in ``embedding_dim`` train in one
            stack (so put ``embedding_dim`` last among several keys).
        rigorous: each point a full rigorous analysis (bias-corrected MI, interval,
            verdict) instead of repeated estimates.
        repeats: estimates per point, each with its own seed (default 3; the k-th run
            of every point has the same seed, so the same train/validation split);
            with ``rigorous``, runs per chunk (default 1).
        observer, cancel: as for :func:`~nmi_jupyter.rigorous`; run ids are unique
            across the whole sweep.  A stopped sweep keeps the finished points.
        **options: the other options of every run (``epochs``, ``estimator``, ...) and,
            with ``rigorous``, those of the analysis (``gammas``, ``control``, the fit's);
            ``batched``, ``executor``, ``retries`` say where the runs train.

    Returns:
        A :class:`~nmi_jupyter.SweepResult` (``to_frame()``: one row per point).
    """
    check_call(config, observer, cancel)
    check_option_names(options, SWEEP_OPTIONS)
    if grid is None:
        raise OptionError('nmi.sweep needs a grid, e.g. grid={"embedding_dim": [1, 2, 4, 8]}.')
    grid = check_grid(grid)
    rigorous = OPTIONS["rigorous"].check(rigorous)
    default = 1 if rigorous else DEFAULT_SWEEP_REPEATS
    repeats = OPTIONS["repeats"].check(default if repeats is None else repeats)
    clash = sorted(set(grid) & set(options))
    if clash:
        raise OptionError(f"{clash[0]} is both on the grid and given as an option; keep one.")
    run, checked = split_options(options, rigorous=rigorous, where=" to a sweep")
    base = seeded(make_config(config, **run))
    configs = [base.replace(**point) for point in grid_points(grid)]  # every point checked
    executor = checked.get("executor")
    check_executor(executor)
    # Windows stay 3-D when any point encodes them (mlp points flatten them in the critic).
    embedding = next((c.embedding for c in configs if c.embedding != "mlp"), "mlp")
    xs, ys = copula_marginals(*check_pair(x, y, embedding), base)
    n = len(xs)
    if rigorous:
        gammas = checked.get("gammas", list(OPTIONS["gammas"].default))
        for point_config in configs:
            check_chunk_size(n, max(gammas), point_config)
    train_options = {
        "executor": executor,
        "batched": checked.get("batched", True),
        "retries": checked.get("retries", DEFAULT_RETRIES),
    }
    start = time.perf_counter()

    def jobs() -> Iterator[tuple[Plan, Callable[[Plan, Any], SweepPoint]]]:
        first_id = 0
        for values, point_config in zip(grid_points(grid), configs, strict=True):
            if rigorous:
                control = checked.get("control", True)
                plan = renumbered(
                    rigorous_plan(n, gammas, repeats, control, point_config), first_id
                )
            else:
                plan = repeats_plan(point_config, [View()] * repeats, first_run_id=first_id)
            first_id += len(plan.runs)

            def reduce_point(plan: Plan, trained: Any, values: dict = values) -> SweepPoint:
                if rigorous:
                    return rigorous_point(plan, trained, values, n, gammas, repeats, checked)
                return reduce_sweep_point(plan, trained, values)

            yield plan, reduce_point

    points, stop_reason, device = _train_points(jobs(), xs, ys, train_options, observer, cancel)
    settings = {**base.to_dict(), "batched": train_options["batched"]}
    settings["executor"] = describe(executor)
    return SweepResult(
        grid=grid,
        points=tuple(points),
        units=base.units,
        rigorous=rigorous,
        repeats=repeats,
        settings=settings,
        n_samples=n,
        stop_reason=stop_reason,
        elapsed=time.perf_counter() - start,
        device=device,
        version=__version__,
    )


def _train_points(
    jobs: Iterable[tuple[Plan, Callable[[Plan, Any], SweepPoint]]],
    xs: np.ndarray,
    ys: np.ndarray,
    train_options: dict[str, Any],
    observer: Observer | None,
    cancel: CancelToken | None,
) -> tuple[list[SweepPoint], str, str]:
    """Train the points' plans and reduce each point (Ctrl-C held back while reducing).

    Consecutive points whose settings differ only in ``embedding_dim`` train as one
    plan (:func:`~nmi_jupyter.engine.plan.combined`), so the trainer stacks their runs
    together (narrower embeddings zero-padded); such groups train one after another.
    Only consecutive points share, so the runs still train in grid order, their ids in
    consecutive blocks per point (the live panel's ``PointMap`` reads points off them):
    a grid shares most with ``embedding_dim`` as its last key.  Returns the points (a
    stopped point is kept when it has runs; the groups after a stop are missing), why
    training ended ("completed", or the first stop reason) and the first device."""
    jobs = list(jobs)
    groups: list[list[int]] = []
    for i, (plan, _) in enumerate(jobs):
        if groups and stack_key(plan.config) == stack_key(jobs[groups[-1][0]][0].config):
            groups[-1].append(i)
        else:
            groups.append([i])
    points: dict[int, SweepPoint] = {}
    stop_reason, device = "completed", "none"
    for members in groups:
        plans = [jobs[i][0] for i in members]
        trained = train(combined(plans), xs, ys, observer=observer, cancel=cancel, **train_options)
        device = trained.device if device == "none" else device
        for i, part in zip(members, _per_plan(trained, plans), strict=True):
            with deferred_interrupts():
                point = jobs[i][1](jobs[i][0], part)
            if point.n_runs or part.stop_reason == "completed":
                points[i] = point
        if trained.stop_reason != "completed":
            stop_reason = trained.stop_reason
            break
    return [points[i] for i in sorted(points)], stop_reason, device


def _per_plan(trained: Trained, plans: list[Plan]) -> Iterator[Trained]:
    """The outcomes of a :func:`combined` plan's training, cut back into its ``plans``:
    each plan's outcomes (fewer when training stopped) and failures; its stop reason
    "completed" when every run of it ended as it would have alone, else the whole's."""
    start = 0
    for plan in plans:
        outcomes = trained.outcomes[start : start + len(plan.runs)]
        start += len(plan.runs)
        ids = {run.run_id for run in plan.runs}
        whole = len(outcomes) == len(plan.runs) and None not in outcomes
        yield Trained(
            outcomes=outcomes,
            stop_reason=analysis_stop(outcomes) if whole else trained.stop_reason,
            device=trained.device,
            threads=trained.threads,
            failures={k: why for k, why in trained.failures.items() if k in ids},
        )


def rigorous_point(
    plan: Plan,
    trained: Trained,
    values: dict[str, Any],
    n: int,
    gammas: list[int],
    repeats: int,
    checked: dict[str, Any],
) -> SweepPoint:
    """One point of a grid (a grid value, a lag) trained as a rigorous analysis: its
    runs reduced and fitted under the analysis' fit request, as a :class:`SweepPoint`
    labelled ``values``."""
    fit_request = fit_request_of(checked)
    settings = {**plan.config.to_dict(), "fit": fit_request}
    result = reduce_rigorous(
        plan,
        trained,
        n_samples=n,
        gammas=tuple(gammas),
        repeats=repeats,
        fit_request=fit_request,
        settings=settings,
        linear=None,
        elapsed=0.0,
    )
    return SweepPoint(
        values=dict(values), units=plan.config.units, settings=settings, rigorous=result
    )


def dimensionality(
    x: Any,
    y: Any = None,
    *,
    embedding_dims: Iterable[int] = DEFAULT_EMBEDDING_DIMS,
    splits: int = DEFAULT_SPLITS,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
):
    """How many dimensions the shared information has: MI against the embedding
    dimension, read for its saturation point.

    With ``y``: the interaction dimensionality, MI(X;Y) for each embedding_dim, one
    curve per seeded train/validation split.  Without ``y``: the internal
    dimensionality of one population, MI between two random halves of X's channels
    (columns), one curve per random halving (needs at least 2 channels).

    The runs use ``critic="hybrid"`` (each side squeezed through an embedding of the
    swept width, then an MLP scoring the pair of embeddings) with ``lr=2e-3`` and
    ``patience=20`` unless given: a separable or bilinear critic needs one embedding
    dimension more than the latent for the term in y alone of InfoNCE's optimal
    critic, so its curve keeps rising one dimension past the latent and reads one too
    many (measured: 3 for a 2-dimensional latent, where the hybrid critic reads 2;
    README, "Sweeps and dimensionality").  Give ``critic=...`` to override (then lr and
    patience keep their usual defaults), or a ``config`` (used as it is).

    ``.dimension`` is the smallest embedding_dim whose mean MI reaches the plateau of
    the largest dims within max(two combined standard errors, 5 % of the plateau)
    (:func:`~nmi_jupyter.engine.dimensionality.saturation` defends the rule);
    ``.dimension_range`` the spread of the splits' own readings.  When the curve still
    rises at the largest dims the data cannot tell: ``.dimension`` is None, flagged
    ``no_plateau``.  A plateau near InfoNCE's log(batch_size) ceiling is flagged
    ``ceiling`` (the flat part may be the cap): use estimator="smile" or a larger
    batch_size.

    Args:
        x, y: samples in rows; y None for the internal dimensionality.
        embedding_dims: at least four distinct dims (default 1..12).
        splits: curves (>= 2), each with its own seed.
        observer, cancel: as for :func:`sweep`.
        **options: the options of every run (not embedding_dim, which is swept), and
            ``batched``, ``executor``, ``retries``.

    Returns:
        A :class:`~nmi_jupyter.DimensionalityResult`.
    """
    from nmi_jupyter.engine.dimensionality import DimensionalityResult

    check_call(config, observer, cancel)
    check_option_names(options, DIMENSIONALITY_OPTIONS)
    if "embedding_dim" in options:
        raise OptionError(
            "embedding_dim is what a dimensionality analysis varies; give embedding_dims."
        )
    dims = OPTIONS["embedding_dims"].check(embedding_dims)
    splits = OPTIONS["splits"].check(splits)
    run, checked = split_options(options)
    run = _dimensionality_run_options(config, run)
    base = seeded(make_config(config, **run))
    configs = [base.replace(embedding_dim=d) for d in dims]
    check_executor(checked.get("executor"))
    if y is None:
        if base.embedding != "mlp":
            raise OptionError(
                "The internal dimensionality splits X's features into two halves, which "
                f"the {base.embedding} encoder cannot read as windows; use embedding='mlp'."
            )
        xs = as_samples(x, "x")
        if xs.shape[1] < 2:
            raise InvalidDataError(
                "The internal dimensionality splits X's channels into two halves, so X needs "
                f"at least 2 columns, not {xs.shape[1]}; give y for the interaction "
                "dimensionality."
            )
        xs, _ = copula_marginals(xs, xs[:, :1], base)
        ys = xs
        views = _channel_halves(xs.shape[1], splits, base.seed)
        x_dim, y_dim = len(views[0].x_columns), len(views[0].y_columns)
    else:
        xs, ys = copula_marginals(*check_pair(x, y, base.embedding), base)
        views = [View()] * splits
        x_dim, y_dim = int(np.prod(xs.shape[1:])), int(np.prod(ys.shape[1:]))
    train_options = {
        "executor": checked.get("executor"),
        "batched": checked.get("batched", True),
        "retries": checked.get("retries", DEFAULT_RETRIES),
    }
    start = time.perf_counter()
    jobs = [
        (
            repeats_plan(point_config, views, first_run_id=k * splits),
            lambda plan, trained, dim=dim: reduce_sweep_point(
                plan, trained, {"embedding_dim": dim}
            ),
        )
        for k, (dim, point_config) in enumerate(zip(dims, configs, strict=True))
    ]
    points, stop_reason, device = _train_points(jobs, xs, ys, train_options, observer, cancel)
    settings = {**base.to_dict(), "batched": train_options["batched"]}
    settings["executor"] = describe(train_options["executor"])
    result = SweepResult(
        grid={"embedding_dim": dims},
        points=tuple(points),
        units=base.units,
        rigorous=False,
        repeats=splits,
        settings=settings,
        n_samples=len(xs),
        stop_reason=stop_reason,
        elapsed=time.perf_counter() - start,
        device=device,
        version=__version__,
    )
    mode = "internal" if y is None else "interaction"
    return DimensionalityResult(mode=mode, sweep=result, splits=splits, x_dim=x_dim, y_dim=y_dim)


def _dimensionality_run_options(
    config: EstimateConfig | None, given: dict[str, Any]
) -> dict[str, Any]:
    """The run options of a dimensionality analysis: ``given`` (and a ``config``'s
    fields) win; otherwise the hybrid critic, and with it its lr and patience."""
    if config is not None:
        return given
    run = {"critic": DIMENSIONALITY_CRITIC, **given}
    if run["critic"] == "hybrid":
        run = {**HYBRID_DIMENSIONALITY_DEFAULTS, **run}
    return run


def _channel_halves(channels: int, splits: int, seed: int) -> list[View]:
    """``splits`` random halvings of ``channels`` columns (seeded by ``seed``): x the
    first half, y the rest (one more when odd); the same widths for every split, so the
    runs of every embedding_dim stack together."""
    half = channels // 2
    views = []
    for s in range(splits):
        stream = np.random.SeedSequence([seed, HALVES_SEED_STREAM, s])
        order = np.random.default_rng(stream).permutation(channels)
        views.append(
            View(
                x_columns=tuple(sorted(map(int, order[:half]))),
                y_columns=tuple(sorted(map(int, order[half:]))),
            )
        )
    return views


def copula_marginals(
    xs: np.ndarray, ys: np.ndarray, config: EstimateConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The arrays the critics see: rank-Gaussianised when ``copula``, before any split
    or view, so every run of an analysis sees the same transform."""
    return (copula_normal(xs), copula_normal(ys)) if config.copula else (xs, ys)


def train_checked(
    plan: Plan,
    xs: np.ndarray,
    ys: np.ndarray,
    checked: dict[str, Any],
    observer: Observer | None,
    cancel: CancelToken | None,
) -> tuple[Trained, dict[str, Any]]:
    """Train ``plan`` as an analysis' checked options say (``batched``, default True;
    ``executor``; ``retries``).  Returns the trained runs and the settings that say where
    they trained (``{"batched": ..., "executor": <its description>}``)."""
    batched = checked.get("batched", True)
    executor = checked.get("executor")
    trained = train(
        plan,
        xs,
        ys,
        executor=executor,
        batched=batched,
        retries=checked.get("retries", DEFAULT_RETRIES),
        observer=observer,
        cancel=cancel,
    )
    return trained, {"batched": batched, "executor": describe(executor)}


def seeded(config: EstimateConfig) -> EstimateConfig:
    """``config`` with a seed: its own, or one drawn now (so an analysis' runs and its
    saved settings share it)."""
    return config if config.seed is not None else config.replace(seed=draw_seed())
