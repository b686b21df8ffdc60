"""A run's data, ready to train: its view of the data split, standardised and on the device.

Shared by the one-run and the stacked trainers, so both mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.data import split_indices, standardized_parts
from nmi_jupyter.engine.errors import InsufficientDataError
from nmi_jupyter.engine.memory import check_score_memory
from nmi_jupyter.engine.plan import RunSpec
from nmi_jupyter.engine.results import History
from nmi_jupyter.engine.runtime import child_seeds
from nmi_jupyter.engine.units import from_nats
from nmi_jupyter.engine.verdict import varying_samples

if TYPE_CHECKING:
    from nmi_jupyter.engine.run_state import TrainOutcome

__all__ = [
    "TrainData",
    "PreparedRun",
    "prepare_run",
    "prepare_view",
    "reported_mi",
    "reported_history",
]


@dataclass(frozen=True)
class TrainData:
    """Prepared float32 tensors (already standardised, on the training device)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to train: standardised float32 tensors on the device, its seeds, its
    plan record ``spec`` (whose tags label its events) and the settings it was prepared
    with (``config``; None: the trainer's)."""

    data: TrainData
    init_seed: int
    shuffle_seed: int
    # verdict.varying_samples of "x_train", "x_val", "y_train", "y_val" (when counted)
    varying: dict[str, int] | None = None
    spec: RunSpec = field(default_factory=lambda: RunSpec(run_id=0, seed=0))
    config: EstimateConfig | None = None

    @property
    def n_train(self) -> int:
        return len(self.data.x_train)

    @property
    def n_val(self) -> int:
        return len(self.data.x_val)


def prepare_view(
    spec: RunSpec,
    xs: np.ndarray,
    ys: np.ndarray,
    config: EstimateConfig,
    device: torch.device,
    count_varying: bool = False,
) -> PreparedRun:
    """The run ``spec`` of a plan on the data ``xs``, ``ys`` (all samples): its view,
    prepared by :func:`prepare_run` with its seed and ``config`` (its settings)."""
    run = prepare_run(*spec.view.apply(xs, ys), config, spec.seed, device, count_varying)
    return PreparedRun(run.data, run.init_seed, run.shuffle_seed, run.varying, spec, config)


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
            flat = data.reshape(len(data), -1)  # windows: each (time, channel) a feature
            varying[f"{name}_train"] = varying_samples(flat[train_idx])
            varying[f"{name}_val"] = varying_samples(flat[val_idx])
        for part in standardized_parts(data, [train_idx, val_idx], config.standardize):
            tensors.append(torch.from_numpy(part).to(device))
    x_train, x_val, y_train, y_val = tensors
    data = TrainData(x_train, y_train, x_val, y_val)
    return PreparedRun(data, init_seed, shuffle_seed, varying or None, RunSpec(0, seed))


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
