"""The public calls.  The only module that wires data, models, training and results."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nmi_jupyter import __version__
from nmi_jupyter.engine.config import EstimateConfig, make_config
from nmi_jupyter.engine.data import Standardizer, check_pair, split_indices
from nmi_jupyter.engine.errors import InsufficientDataError
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.results import EstimateResult, History
from nmi_jupyter.engine.runtime import child_seeds, draw_seed, resolve_device, torch_threads
from nmi_jupyter.engine.train import TrainData, train_run
from nmi_jupyter.engine.units import from_nats

__all__ = ["estimate"]


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
    config = make_config(config, **options)
    if config.seed is None:
        config = config.replace(seed=draw_seed())
    xs, ys = check_pair(x, y)
    split_seed, init_seed, shuffle_seed = child_seeds(config.seed, 3)
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
