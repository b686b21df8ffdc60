"""The public calls.  The only module that wires data, models, training and results."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from nmi_jupyter import __version__
from nmi_jupyter.engine.config import EstimateConfig, check_option_names, make_config
from nmi_jupyter.engine.data import (
    MIN_VALIDATION,
    Standardizer,
    check_gammas,
    check_pair,
    gamma_chunks,
    split_indices,
)
from nmi_jupyter.engine.errors import InsufficientDataError, OptionError
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.extrapolate import (
    DEFAULT_CONFIDENCE_LEVEL,
    DEFAULT_DELTA_THRESHOLD,
    DEFAULT_MIN_GAMMA_POINTS,
    check_fit_options,
)
from nmi_jupyter.engine.results import EstimateResult, History
from nmi_jupyter.engine.rigorous_result import RigorousResult, RunRecord, fit_runs
from nmi_jupyter.engine.runtime import child_seeds, draw_seed, resolve_device, torch_threads
from nmi_jupyter.engine.train import TrainData, train_run
from nmi_jupyter.engine.units import from_nats

__all__ = ["estimate", "rigorous", "run_one"]

_RIGOROUS_OPTIONS = (
    "gammas",
    "repeats",
    "delta_threshold",
    "min_gamma_points",
    "confidence_level",
    "exclude",
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
    return run_one(xs, ys, config, config.seed, observer=observer, cancel=cancel)


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
    fit_request = {
        "exclude": sorted(int(g) for g in exclude) if exclude is not None else None,
        "use": None,
        "delta_threshold": delta_threshold,
        "min_gamma_points": min_gamma_points,
        "confidence_level": confidence_level,
    }
    check_fit_options(delta_threshold, min_gamma_points, confidence_level)
    xs, ys = check_pair(x, y)
    n = len(xs)
    _check_chunk_size(n, max(gamma_list), config)
    plan = gamma_chunks(n, gamma_list, config.split, np.random.default_rng(config.seed))
    device = str(resolve_device(config.device))
    runs: list[RunRecord] = []
    stop_reason = "completed"
    start = time.perf_counter()
    run_id = 0
    try:
        for gamma in gamma_list:
            for chunk, idx in enumerate(plan[gamma]):
                for repeat in range(repeats):
                    seed = int(
                        np.random.SeedSequence([config.seed, gamma, chunk, repeat]).generate_state(
                            1
                        )[0]
                    )
                    r = run_one(
                        xs[idx],
                        ys[idx],
                        config,
                        seed,
                        observer=observer,
                        cancel=cancel,
                        run_id=run_id,
                        gamma=gamma,
                        chunk=chunk,
                    )
                    run_id += 1
                    if r.stopped:
                        stop_reason = r.stop_reason
                        raise _Stop
                    runs.append(
                        RunRecord(
                            gamma=gamma,
                            chunk=chunk,
                            repeat=repeat,
                            seed=seed,
                            n_samples=len(idx),
                            mi=r.mi,
                            mi_val=r.mi_val,
                            best_epoch=r.best_epoch,
                            epochs_run=r.epochs_run,
                            stop_reason=r.stop_reason,
                            elapsed=r.elapsed,
                            history=r.history,
                        )
                    )
    except _Stop:
        pass
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    settings = {**config.to_dict(), "fit": fit_request}
    return RigorousResult(
        runs=tuple(runs),
        fit=fit_runs(tuple(runs), n, fit_request),
        units=config.units,
        n_samples=n,
        gammas=tuple(gamma_list),
        repeats=repeats,
        settings=settings,
        stop_reason=stop_reason,
        elapsed=time.perf_counter() - start,
        device=device,
        version=__version__,
    )


class _Stop(Exception):
    """Internal: a run was cancelled or interrupted; end the analysis."""


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


def run_one(
    xs: np.ndarray,
    ys: np.ndarray,
    config: EstimateConfig,
    seed: int,
    *,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    run_id: int = 0,
    gamma: int | None = None,
    chunk: int | None = None,
) -> EstimateResult:
    """One training run on checked (samples, features) arrays; ``seed`` drives the
    split, the initialisation and the minibatch order."""
    split_seed, init_seed, shuffle_seed = child_seeds(seed, 3)
    train_idx, val_idx = split_indices(
        len(xs), config.split, config.val_fraction, config.gap, np.random.default_rng(split_seed)
    )
    if len(train_idx) < config.batch_size:
        raise InsufficientDataError(
            f"Only {len(train_idx)} training samples remain after the validation split, fewer "
            f"than batch_size={config.batch_size}; use a smaller batch_size or more data."
        )
    device = resolve_device(config.device)
    data = _prepare(xs, ys, train_idx, val_idx, config.standardize, device)
    with torch_threads(config.threads, device) as threads:
        outcome = train_run(
            data,
            config,
            init_seed=init_seed,
            shuffle_seed=shuffle_seed,
            observer=observer,
            cancel=cancel,
            run_id=run_id,
            gamma=gamma,
            chunk=chunk,
        )
    units = config.units
    best = outcome.best_epoch
    return EstimateResult(
        mi=float(from_nats(outcome.train[best], units)) if best >= 0 else float("nan"),
        mi_val=float(from_nats(outcome.val[best], units)) if best >= 0 else float("nan"),
        units=units,
        best_epoch=best,
        stop_reason=outcome.stop_reason,
        history=History(
            train=from_nats(outcome.train, units),
            val=from_nats(outcome.val, units),
            val_smoothed=from_nats(outcome.val_smoothed, units),
        ),
        settings=config.to_dict(),
        n_train=len(train_idx),
        n_val=len(val_idx),
        x_dim=xs.shape[1],
        y_dim=ys.shape[1],
        elapsed=outcome.elapsed,
        device=str(device),
        threads=threads,
        version=__version__,
        critic=outcome.critic,
    )


def _prepare(
    xs: np.ndarray,
    ys: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    standardize: bool,
    device: torch.device,
) -> TrainData:
    """Standardise with training statistics and move float32 tensors to ``device``."""
    tensors = []
    for data in (xs, ys):
        fit = Standardizer.fit if standardize else lambda d: Standardizer.identity(d.shape[1])
        scaler = fit(data[train_idx])
        for idx in (train_idx, val_idx):
            tensors.append(torch.as_tensor(scaler(data[idx]), dtype=torch.float32, device=device))
    x_train, x_val, y_train, y_val = tensors
    return TrainData(x_train, y_train, x_val, y_val)
