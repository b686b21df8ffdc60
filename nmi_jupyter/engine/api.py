"""The public calls.  The only module that wires data, models, training and results."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter import __version__
from nmi_jupyter.engine.batched import RunSpec, max_stack, train_batched
from nmi_jupyter.engine.config import EstimateConfig, check_option_names, make_config
from nmi_jupyter.engine.data import MIN_VALIDATION, check_gammas, check_pair, gamma_chunks
from nmi_jupyter.engine.errors import InsufficientDataError, OptionError
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.extrapolate import (
    DEFAULT_CONFIDENCE_LEVEL,
    DEFAULT_DELTA_THRESHOLD,
    DEFAULT_MIN_GAMMA_POINTS,
    check_fit_options,
)
from nmi_jupyter.engine.results import STOPPED_REASONS, EstimateResult
from nmi_jupyter.engine.rigorous_result import RigorousResult, RunRecord, fit_runs
from nmi_jupyter.engine.runs import PreparedRun, prepare_run, reported_history, reported_mi
from nmi_jupyter.engine.runtime import draw_seed, resolve_device, torch_threads
from nmi_jupyter.engine.train import TrainOutcome, train_run

__all__ = ["estimate", "rigorous"]

_RIGOROUS_OPTIONS = (
    "gammas",
    "repeats",
    "delta_threshold",
    "min_gamma_points",
    "confidence_level",
    "exclude",
    "batched",
)


def estimate(
    x: Any,
    y: Any,
    *,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> EstimateResult:
    """Estimate I(X;Y) with one neural critic training run.

    Args:
        x, y: paired samples, one row per sample: numpy arrays, torch tensors,
            pandas objects or lists.  1-D means one feature; (N, a, b, ...) is
            flattened to (N, a*b*...).
        observer: called with each :mod:`~nmi_jupyter.engine.events` event.
        cancel: a :class:`CancelToken`; setting it stops training between epochs.
        config: a prepared :class:`EstimateConfig`; ``options`` override it.
        **options: any :class:`EstimateConfig` field (estimator, critic, epochs,
            batch_size, lr, patience, hidden_dim, n_layers, embedding_dim, split,
            units, seed, device, threads, ...).

    Returns:
        An :class:`EstimateResult`; ``result.mi`` is in ``units`` (bits by default).
        A cancelled or interrupted run returns what it had, ``result.stopped`` True.

    Raises:
        NeuralMIError: a sentence naming what is wrong with the data or options.
    """
    config = _seeded(make_config(config, **options))
    xs, ys = check_pair(x, y)
    device = resolve_device(config.device)
    run = prepare_run(xs, ys, config, config.seed, device)
    with torch_threads(config.threads, device) as threads:
        outcome = train_run(
            run.data,
            config,
            init_seed=run.init_seed,
            shuffle_seed=run.shuffle_seed,
            observer=observer,
            cancel=cancel,
        )
    mi, mi_val = reported_mi(outcome, config.units)
    return EstimateResult(
        mi=mi,
        mi_val=mi_val,
        units=config.units,
        best_epoch=outcome.best_epoch,
        stop_reason=outcome.stop_reason,
        history=reported_history(outcome, config.units),
        settings=config.to_dict(),
        n_train=run.n_train,
        n_val=run.n_val,
        x_dim=xs.shape[1],
        y_dim=ys.shape[1],
        elapsed=outcome.elapsed,
        device=str(device),
        threads=threads,
        version=__version__,
        critic=outcome.critic,
    )


def rigorous(
    x: Any,
    y: Any,
    *,
    gammas: Iterable[int] = range(1, 11),
    repeats: int = 1,
    delta_threshold: float = DEFAULT_DELTA_THRESHOLD,
    min_gamma_points: int = DEFAULT_MIN_GAMMA_POINTS,
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL,
    exclude: Iterable[int] | None = None,
    batched: bool = True,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> RigorousResult:
    """Bias-corrected MI: train on gamma equal chunks for each gamma, extrapolate to gamma = 0.

    One master order of the samples (a seeded permutation; the time order when
    ``split="blocked"``) is cut into ``gamma`` equal chunks for each gamma, and one
    ordinary estimate run (``repeats`` runs) is trained on each chunk: 55 runs for
    gamma = 1..10.  The per-run MI is fitted by weighted least squares against
    gamma and extrapolated to infinite data (see :func:`fit_gamma_line`).

    Args:
        x, y: paired samples, as for :func:`estimate`.
        gammas: the subsampling factors (distinct integers >= 1).
        repeats: runs per chunk, each with its own seed.
        delta_threshold, min_gamma_points, confidence_level: the fit (see
            ``RigorousResult``); ``exclude`` drops gammas by hand.
        batched: train all runs at once as one vectorised model (default, much
            faster); False trains them one after another (same seeds, same meaning).
        observer, cancel: as for :func:`estimate`; events carry ``gamma`` and ``chunk``.
        **options: estimate options, the same for every run.

    Returns:
        A :class:`RigorousResult`.  A cancelled or interrupted analysis keeps the
        finished runs, fits what it has and is marked partial.
    """
    check_option_names(options, _RIGOROUS_OPTIONS)
    config = _seeded(make_config(config, **options))
    gamma_list = check_gammas(gammas)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise OptionError(f"repeats must be an integer >= 1, not {repeats!r}.")
    if not isinstance(batched, bool):
        raise OptionError(f"batched must be True or False, not {batched!r}.")
    check_fit_options(delta_threshold, min_gamma_points, confidence_level)
    fit_request = {
        "exclude": sorted(int(g) for g in exclude) if exclude is not None else None,
        "use": None,
        "delta_threshold": delta_threshold,
        "min_gamma_points": min_gamma_points,
        "confidence_level": confidence_level,
    }
    xs, ys = check_pair(x, y)
    n = len(xs)
    _check_chunk_size(n, max(gamma_list), config)
    device = resolve_device(config.device)
    plan = gamma_chunks(n, gamma_list, config.split, np.random.default_rng(config.seed))
    slots = [
        _Slot(gamma, chunk, repeat, _run_seed(config.seed, gamma, chunk, repeat), len(idx))
        for gamma in gamma_list
        for chunk, idx in enumerate(plan[gamma])
        for repeat in range(repeats)
    ]
    prepared = [
        prepare_run(xs[plan[s.gamma][s.chunk]], ys[plan[s.gamma][s.chunk]], config, s.seed, device)
        for s in slots
    ]
    start = time.perf_counter()
    with torch_threads(config.threads, device, batched) as threads:
        train = _train_batched if batched else _train_sequential
        outcomes = train(slots, prepared, config, observer, cancel)
    runs = tuple(
        _record(slot, outcome, config.units)
        for slot, outcome in zip(slots, outcomes, strict=False)
        if outcome.stop_reason not in STOPPED_REASONS
    )
    stops = [o.stop_reason for o in outcomes if o.stop_reason in STOPPED_REASONS]
    return RigorousResult(
        runs=runs,
        fit=fit_runs(runs, n, fit_request),
        units=config.units,
        n_samples=n,
        gammas=tuple(gamma_list),
        repeats=repeats,
        settings={**config.to_dict(), "fit": fit_request, "batched": batched},
        threads=threads,
        stop_reason=stops[0] if stops else "completed",
        elapsed=time.perf_counter() - start,
        device=str(device),
        version=__version__,
    )


@dataclass(frozen=True)
class _Slot:
    """Where a run of a rigorous analysis sits: its gamma, chunk, repeat and seed."""

    gamma: int
    chunk: int
    repeat: int
    seed: int
    n_samples: int


def _run_seed(seed: int, gamma: int, chunk: int, repeat: int) -> int:
    return int(np.random.SeedSequence([seed, gamma, chunk, repeat]).generate_state(1)[0])


def _train_sequential(
    slots: list[_Slot],
    prepared: list[PreparedRun],
    config: EstimateConfig,
    observer: Observer | None,
    cancel: CancelToken | None,
) -> list[TrainOutcome]:
    """One run after another; stops at the first cancelled or interrupted run."""
    outcomes = []
    for run_id, (slot, run) in enumerate(zip(slots, prepared, strict=True)):
        outcome = train_run(
            run.data,
            config,
            init_seed=run.init_seed,
            shuffle_seed=run.shuffle_seed,
            observer=observer,
            cancel=cancel,
            run_id=run_id,
            gamma=slot.gamma,
            chunk=slot.chunk,
        )
        outcomes.append(outcome)
        if outcome.stop_reason in STOPPED_REASONS:
            break
    return outcomes


def _train_batched(
    slots: list[_Slot],
    prepared: list[PreparedRun],
    config: EstimateConfig,
    observer: Observer | None,
    cancel: CancelToken | None,
) -> list[TrainOutcome]:
    """All runs as stacked models, in as few stacks as memory allows."""
    specs = [
        RunSpec(run.data, run.init_seed, run.shuffle_seed, run_id, slot.gamma, slot.chunk)
        for run_id, (slot, run) in enumerate(zip(slots, prepared, strict=True))
    ]
    size = max_stack(config, config.batch_size)
    outcomes: list[TrainOutcome] = []
    for k in range(0, len(specs), size):
        outcomes += train_batched(specs[k : k + size], config, observer=observer, cancel=cancel)
        if any(o.stop_reason in STOPPED_REASONS for o in outcomes):
            break
    return outcomes


def _record(slot: _Slot, outcome: TrainOutcome, units: str) -> RunRecord:
    mi, mi_val = reported_mi(outcome, units)
    return RunRecord(
        gamma=slot.gamma,
        chunk=slot.chunk,
        repeat=slot.repeat,
        seed=slot.seed,
        n_samples=slot.n_samples,
        mi=mi,
        mi_val=mi_val,
        best_epoch=outcome.best_epoch,
        epochs_run=len(outcome.val),
        stop_reason=outcome.stop_reason,
        elapsed=outcome.elapsed,
        history=reported_history(outcome, units),
    )


def _check_chunk_size(n: int, max_gamma: int, config: EstimateConfig) -> None:
    """Fail before training when the smallest chunks cannot hold a batch and a validation set."""
    chunk = n // max_gamma
    n_val = max(int(round(chunk * config.val_fraction)), 1)
    n_train = chunk - n_val - (config.gap if config.split == "blocked" else 0)
    if n_val < MIN_VALIDATION or n_train < config.batch_size:
        raise InsufficientDataError(
            f"With N = {n} samples, the gamma = {max_gamma} chunks hold {chunk} samples each: "
            f"{n_train} for training and {n_val} for validation, but a run needs at least "
            f"batch_size = {config.batch_size} and {MIN_VALIDATION}; use fewer gammas, a "
            "smaller batch_size or more data."
        )


def _seeded(config: EstimateConfig) -> EstimateConfig:
    return config if config.seed is not None else config.replace(seed=draw_seed())
