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
from nmi_jupyter.engine.data import (
    MIN_VALIDATION,
    check_gammas,
    check_pair,
    gamma_chunks,
    master_order,
)
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
from nmi_jupyter.engine.train import TrainOutcome

__all__ = ["estimate", "rigorous", "RIGOROUS_OPTIONS"]

# Keyword options of rigorous() beyond the EstimateConfig ones (the magic accepts them too).
RIGOROUS_OPTIONS = (
    "gammas",
    "repeats",
    "delta_threshold",
    "min_gamma_points",
    "confidence_level",
    "exclude",
    "batched",
    "control",
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
        outcome = run.train(config, observer=observer, cancel=cancel)
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
    control: bool = True,
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
        control: also train a shuffled-pairs control (y permuted, true MI 0): one
            run on N/2 and two on N/4 samples, about 10 % extra training; if the
            control, extrapolated like the analysis, shows MI, the result is flagged.
        observer, cancel: as for :func:`estimate`; events carry ``gamma`` and ``chunk``.
        **options: estimate options, the same for every run.

    Returns:
        A :class:`RigorousResult`.  A cancelled or interrupted analysis keeps the
        finished runs, fits what it has and is marked partial.
    """
    check_option_names(options, RIGOROUS_OPTIONS)
    config = _seeded(make_config(config, **options))
    gamma_list = check_gammas(gammas)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise OptionError(f"repeats must be an integer >= 1, not {repeats!r}.")
    for name, flag in (("batched", batched), ("control", control)):
        if not isinstance(flag, bool):
            raise OptionError(f"{name} must be True or False, not {flag!r}.")
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
    order = master_order(n, config.split, np.random.default_rng(config.seed))
    slots = [
        _Slot(gamma, chunk, repeat, _run_seed(config.seed, gamma, chunk, repeat), idx)
        for gamma, chunks in gamma_chunks(order, gamma_list).items()
        for chunk, idx in enumerate(chunks)
        for repeat in range(repeats)
    ]
    y_for = {False: ys}
    if control and _chunk_trains(n // 4, config):
        # Pairs broken by a seeded permutation of y; chunks of N/2 and N/4 from
        # the first half of the master order (about 10 % extra training).
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 7]))
        y_for[True] = ys[rng.permutation(n)]
        half = gamma_chunks(order[: 2 * (n // 4)], [1, 2])
        slots += [
            _Slot(2 * g, c, 0, _run_seed(config.seed, 1000 + g, c, 0), idx, control=True)
            for g, chunks in half.items()
            for c, idx in enumerate(chunks)
        ]
    prepared = [
        prepare_run(xs[s.index], y_for[s.control][s.index], config, s.seed, device) for s in slots
    ]
    start = time.perf_counter()
    with torch_threads(config.threads, device) as threads:
        train = _train_batched if batched else _train_sequential
        outcomes = train(slots, prepared, config, observer, cancel)
    finished = [
        (slot, _record(slot, outcome, config.units))
        for slot, outcome in zip(slots, outcomes, strict=False)
        if outcome.stop_reason not in STOPPED_REASONS
    ]
    runs = tuple(record for slot, record in finished if not slot.control)
    controls = tuple(record for slot, record in finished if slot.control)
    stops = [o.stop_reason for o in outcomes if o.stop_reason in STOPPED_REASONS]
    return RigorousResult(
        runs=runs,
        fit=fit_runs(runs, n, fit_request),
        units=config.units,
        n_samples=n,
        gammas=tuple(gamma_list),
        repeats=repeats,
        settings={**config.to_dict(), "fit": fit_request, "batched": batched, "control": control},
        threads=threads,
        controls=controls,
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
    index: np.ndarray  # the chunk's sample indices
    control: bool = False

    @property
    def n_samples(self) -> int:
        return len(self.index)


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
        outcome = run.train(
            config,
            observer=observer,
            cancel=cancel,
            run_id=run_id,
            gamma=slot.gamma,
            chunk=slot.chunk,
            control=slot.control,
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
        RunSpec(
            run.data, run.init_seed, run.shuffle_seed, run_id, slot.gamma, slot.chunk, slot.control
        )
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


def _chunk_sizes(chunk: int, config: EstimateConfig) -> tuple[int, int]:
    """(training, validation) samples of a chunk of ``chunk`` samples."""
    n_val = max(int(round(chunk * config.val_fraction)), 1)
    return chunk - n_val - (config.gap if config.split == "blocked" else 0), n_val


def _chunk_trains(chunk: int, config: EstimateConfig) -> bool:
    n_train, n_val = _chunk_sizes(chunk, config)
    return n_val >= MIN_VALIDATION and n_train >= config.batch_size


def _check_chunk_size(n: int, max_gamma: int, config: EstimateConfig) -> None:
    """Fail before training when the smallest chunks cannot hold a batch and a validation set."""
    chunk = n // max_gamma
    n_train, n_val = _chunk_sizes(chunk, config)
    if not _chunk_trains(chunk, config):
        raise InsufficientDataError(
            f"With N = {n} samples, the gamma = {max_gamma} chunks hold {chunk} samples each: "
            f"{n_train} for training and {n_val} for validation, but a run needs at least "
            f"batch_size = {config.batch_size} and {MIN_VALIDATION}; use fewer gammas, a "
            "smaller batch_size or more data."
        )


def _seeded(config: EstimateConfig) -> EstimateConfig:
    return config if config.seed is not None else config.replace(seed=draw_seed())
