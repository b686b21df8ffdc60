"""Preparing a run's data and turning a training outcome into reported numbers.

Shared by the one-at-a-time and the batched paths, so both mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.data import split_indices, standardized_parts
from nmi_jupyter.engine.diagnostics import varying_samples
from nmi_jupyter.engine.errors import InsufficientDataError
from nmi_jupyter.engine.memory import check_score_memory
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
    # diagnostics.varying_samples of "x_train", "x_val", "y_train", "y_val" (when counted)
    varying: dict[str, int] | None = None

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
    xs: np.ndarray,
    ys: np.ndarray,
    config: EstimateConfig,
    seed: int,
    device: torch.device,
    count_varying: bool = False,
) -> PreparedRun:
    """Split (seeded), standardise with training statistics, move to ``device``.

    ``seed`` drives the split, the initialisation and the minibatch order.
    ``count_varying`` also counts, per variable and partition, the samples off its most
    common value (for the degenerate-variable flag).  A ``batch_size`` whose score
    matrix would exceed the memory budget is refused first, before anything is
    allocated (:func:`~nmi_jupyter.engine.memory.check_score_memory`).
    """
    check_score_memory(config)
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
    varying: dict[str, int] = {}
    for name, data in (("x", xs), ("y", ys)):
        if count_varying:
            varying[f"{name}_train"] = varying_samples(data[train_idx])
            varying[f"{name}_val"] = varying_samples(data[val_idx])
        for part in standardized_parts(data, [train_idx, val_idx], config.standardize):
            tensors.append(torch.from_numpy(part).to(device))
    x_train, x_val, y_train, y_val = tensors
    return PreparedRun(
        TrainData(x_train, y_train, x_val, y_val), init_seed, shuffle_seed, varying or None
    )


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
