"""Preparing a run's data and turning a training outcome into reported numbers.

Shared by the one-at-a-time and the batched paths, so both mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.data import Standardizer, split_indices
from nmi_jupyter.engine.errors import InsufficientDataError
from nmi_jupyter.engine.results import History
from nmi_jupyter.engine.runtime import child_seeds
from nmi_jupyter.engine.train import TrainData, TrainOutcome, train_run
from nmi_jupyter.engine.units import from_nats

__all__ = ["PreparedRun", "prepare_run", "reported_mi", "reported_history"]


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to train: standardised float32 tensors on the device, and its seeds."""

    data: TrainData
    init_seed: int
    shuffle_seed: int

    @property
    def n_train(self) -> int:
        return len(self.data.x_train)

    @property
    def n_val(self) -> int:
        return len(self.data.x_val)

    def train(self, config: EstimateConfig, **kwargs) -> TrainOutcome:
        """Train this run one-at-a-time (:func:`train_run`); ``kwargs`` are observer,
        cancel and the event tags."""
        return train_run(
            self.data, config, init_seed=self.init_seed, shuffle_seed=self.shuffle_seed, **kwargs
        )


def prepare_run(
    xs: np.ndarray, ys: np.ndarray, config: EstimateConfig, seed: int, device: torch.device
) -> PreparedRun:
    """Split (seeded), standardise with training statistics, move to ``device``.

    ``seed`` drives the split, the initialisation and the minibatch order.
    """
    split_seed, init_seed, shuffle_seed = child_seeds(seed, 3)
    train_idx, val_idx = split_indices(
        len(xs), config.split, config.val_fraction, config.gap, np.random.default_rng(split_seed)
    )
    if len(train_idx) < config.batch_size:
        raise InsufficientDataError(
            f"Only {len(train_idx)} training samples remain after the validation split, fewer "
            f"than batch_size={config.batch_size}; use a smaller batch_size or more data."
        )
    tensors = []
    for data in (xs, ys):
        train = data[train_idx]
        scaler = (
            Standardizer.fit(train) if config.standardize else Standardizer.identity(data.shape[1])
        )
        for part in (train, data[val_idx]):
            tensors.append(torch.as_tensor(scaler(part), dtype=torch.float32, device=device))
    x_train, x_val, y_train, y_val = tensors
    return PreparedRun(TrainData(x_train, y_train, x_val, y_val), init_seed, shuffle_seed)


def reported_mi(outcome: TrainOutcome, units: str) -> tuple[float, float]:
    """(MI, validation MI) at the best checkpoint, in ``units``; NaN if no epoch finished."""
    return float(from_nats(outcome.mi_train, units)), float(from_nats(outcome.mi_val, units))


def reported_history(outcome: TrainOutcome, units: str) -> History:
    """The per-epoch curves in ``units``."""
    return History(
        train=from_nats(outcome.train, units),
        val=from_nats(outcome.val, units),
        val_smoothed=from_nats(outcome.val_smoothed, units),
    )
