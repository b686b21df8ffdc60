"""One training run: minibatch Adam on -bound, per-epoch evaluation, smoothing,
early stopping, best-checkpoint restore.  Emits events; never prints."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from nmi_jupyter.engine.bounds import bound_by_rows, get_bound, has_row_form
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.divergence import curve_ranges, epoch_divergence
from nmi_jupyter.engine.early_stopping import EarlyStopping
from nmi_jupyter.engine.events import CancelToken, EpochEnded, Observer, RunEnded, RunStarted
from nmi_jupyter.engine.interrupts import call_quietly, deferred_interrupts
from nmi_jupyter.engine.memory import eval_rows
from nmi_jupyter.engine.models import build_critic, eval_pair_bytes
from nmi_jupyter.engine.results import STOPPED_REASONS
from nmi_jupyter.engine.runtime import seeded_init
from nmi_jupyter.engine.units import from_nats

__all__ = ["TrainData", "TrainOutcome", "train_run", "evaluate_bound", "block_bound"]


@dataclass(frozen=True)
class TrainData:
    """Prepared float32 tensors (already standardised, on the training device)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


@dataclass
class TrainOutcome:
    """Raw output of :func:`train_run`; every MI is in nats.

    The per-epoch curves ``train`` (on a fixed random subset of the training
    partition, see :func:`train_subset_size`) and ``val`` are evaluated in blocks of
    ``batch_size``, the training objective's scale; they steer early stopping.
    ``mi_train``/``mi_val``, the numbers reported, are evaluated once at the best
    checkpoint on the whole partitions in blocks of ``eval_batch_size``, which
    loosens InfoNCE's log(block) cap.
    """

    train: np.ndarray
    val: np.ndarray
    val_smoothed: np.ndarray
    best_epoch: int  # -1 when no epoch finished
    stop_reason: str
    elapsed: float
    mi_train: float
    mi_val: float
    critic: nn.Module | None = field(repr=False)  # restored best; None from the batched path
    # The analysis was interrupted as this run ended (its own stop_reason stands): the
    # caller stops after it.
    interrupted: bool = False

    @property
    def epochs_run(self) -> int:
        return len(self.val)


def train_subset_size(n_train: int, n_val: int, block: int) -> int:
    """Training samples evaluated each epoch for the training curve.

    Evaluating the whole training partition every epoch cost as much as training
    itself (measured: 8.6 of 20.8 s of a rigorous analysis); a fixed random subset
    as large as the validation set (at least one block) gives a curve as precise
    as the validation one.  The full partition is evaluated once, at the restored
    checkpoint.
    """
    return min(n_train, max(n_val, block))


@torch.no_grad()
def evaluate_bound(
    critic: nn.Module,
    bound: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    block_size: int,
    order: torch.Tensor | None = None,
) -> float:
    """The bound on a whole set (samples ``order`` of it, all if None), in nats: the
    size-weighted mean over near-equal blocks of about ``block_size`` samples.  A block
    whose score matrix would exceed ``memory.SCORE_MEMORY_BUDGET`` is scored a few rows
    at a time (same value), so memory stays bounded for any ``block_size``."""
    positions = torch.arange(len(x), device=x.device) if order is None else order
    n = len(positions)
    pair = eval_pair_bytes(dict(critic.named_parameters()))
    total = 0.0
    for idx in positions.tensor_split(max(n // block_size, 1)):
        rows_of = functools.partial(_critic_rows, critic, x[idx], y[idx])
        total += float(block_bound(bound, rows_of, len(idx), pair)) * len(idx)
    return total / n


def _critic_rows(
    critic: nn.Module, x: torch.Tensor, y: torch.Tensor, start: int, stop: int
) -> torch.Tensor:
    return critic(x[start:stop], y)


def block_bound(
    bound: Callable[[torch.Tensor], torch.Tensor],
    rows_of: Callable[[int, int], torch.Tensor],
    n: int,
    pair_bytes: int,
    stack: int = 1,
) -> torch.Tensor:
    """``bound`` of the (..., n, n) score matrix whose rows ``start:stop`` ``rows_of``
    scores: whole when ``stack`` such matrices (``pair_bytes`` per pair) fit the memory
    budget, else a budget's worth of rows at a time (the same value)."""
    rows = eval_rows(n, n, pair_bytes, stack)
    if rows < n and has_row_form(bound):
        return bound_by_rows(bound, rows_of, n, rows)
    return bound(rows_of(0, n))


def train_run(
    data: TrainData,
    config: EstimateConfig,
    *,
    init_seed: int,
    shuffle_seed: int,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    run_id: int = 0,
    gamma: int | None = None,
    chunk: int | None = None,
    control: bool = False,
) -> TrainOutcome:
    """Train one critic and return its histories and the restored best checkpoint.

    Stops between epochs when ``cancel`` is set, and on KeyboardInterrupt (the
    partial epoch is discarded); in both cases the best finished epoch is kept.
    Ctrl-C is held back while that checkpoint is evaluated; one arriving then, or a
    KeyboardInterrupt from the observer at ``RunEnded``, keeps the run as it is and
    sets ``interrupted`` so that the caller stops after it.
    """
    device = data.x_train.device
    units = config.units
    tags = {"run_id": run_id, "gamma": gamma, "chunk": chunk, "control": control}
    emit = observer or (lambda event: None)

    with seeded_init(init_seed):
        critic = build_critic(config, data.x_train.shape[1], data.y_train.shape[1]).to(device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=config.lr)
    bound = get_bound(config.estimator, config.smile_clip)
    shuffler = torch.Generator().manual_seed(shuffle_seed)
    # Evaluation blocks use one fixed random order per set, so blocks mix the whole
    # set (not neighbouring samples) and the curve moves only with the model.
    train_order = torch.randperm(len(data.x_train), generator=shuffler).to(device)
    val_order = torch.randperm(len(data.x_val), generator=shuffler).to(device)
    stopper = EarlyStopping(
        config.patience, config.min_improvement, config.median_window, config.gaussian_sigma
    )
    n_train, batch = len(data.x_train), config.batch_size
    n_batches = n_train // batch  # the incomplete last batch is dropped (reshuffled each epoch)
    curve_block = config.batch_size
    train_subset = train_subset_size(n_train, len(data.x_val), curve_block)
    train_range, val_range = curve_ranges(
        config.estimator, curve_block, n_train, train_subset, len(data.x_val)
    )

    train_hist: list[float] = []
    val_hist: list[float] = []
    smoothed = np.empty(0)
    checkpoints: dict[int, dict[str, torch.Tensor]] = {}
    best_epoch, stop_reason = -1, "max_epochs"
    start = time.perf_counter()
    try:
        emit(
            RunStarted(
                n_train=n_train,
                n_val=len(data.x_val),
                max_epochs=config.epochs,
                patience=config.patience,
                units=units,
                **tags,
            )
        )
        for epoch in range(config.epochs):
            if cancel is not None and cancel.cancelled:
                stop_reason = "cancelled"
                break
            critic.train()
            perm = torch.randperm(n_train, generator=shuffler).to(device)
            finite = True
            for b in range(n_batches):
                idx = perm[b * batch : (b + 1) * batch]
                loss = -bound(critic(data.x_train[idx], data.y_train[idx]))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if not torch.isfinite(loss):
                    finite = False
                    break
            critic.eval()
            train_mi = evaluate_bound(
                critic, bound, data.x_train, data.y_train, curve_block, train_order[:train_subset]
            )
            val_mi = evaluate_bound(critic, bound, data.x_val, data.y_val, curve_block, val_order)
            if not finite or epoch_divergence(
                [*train_hist, train_mi], [*val_hist, val_mi], train_range, val_range
            ):
                stop_reason = "diverged"
                break
            decision = stopper.update(val_mi)
            state = {k: v.detach().clone() for k, v in critic.state_dict().items()}
            # Commit the epoch in one short step so an interrupt cannot leave the
            # histories, the checkpoints and the best epoch out of step.
            checkpoints[epoch] = state
            train_hist.append(train_mi)
            val_hist.append(val_mi)
            smoothed, best_epoch = decision.smoothed, decision.best_epoch
            for old in [e for e in checkpoints if e not in decision.keep]:
                del checkpoints[old]
            emit(
                EpochEnded(
                    epoch=epoch,
                    train_mi=float(from_nats(train_mi, units)),
                    val_mi=float(from_nats(val_mi, units)),
                    val_smoothed=tuple(float(v) for v in from_nats(smoothed, units)),
                    best_epoch=best_epoch,
                    epochs_since_best=decision.epochs_since_best,
                    elapsed=time.perf_counter() - start,
                    units=units,
                    **tags,
                )
            )
            if decision.stop:
                stop_reason = "early_stopping"
                break
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    stopping = stop_reason in STOPPED_REASONS
    # The best checkpoint so far is evaluated with Ctrl-C held back, so a (second)
    # interrupt cannot lose the run; one that arrives now stops the analysis after it.
    with deferred_interrupts() as held:
        mi_train = mi_val = math.nan
        if best_epoch in checkpoints:
            critic.load_state_dict(checkpoints[best_epoch])
            critic.eval()
            block = config.eval_batch_size
            mi_train = evaluate_bound(critic, bound, data.x_train, data.y_train, block, train_order)
            mi_val = evaluate_bound(critic, bound, data.x_val, data.y_val, block, val_order)
    elapsed = time.perf_counter() - start
    ended = RunEnded(
        mi=float(from_nats(mi_train, units)),
        mi_val=float(from_nats(mi_val, units)),
        best_epoch=best_epoch,
        epochs_run=len(val_hist),
        stop_reason=stop_reason,
        elapsed=elapsed,
        units=units,
        **tags,
    )
    # An observer that raises KeyboardInterrupt now keeps this run and stops after it.
    late = call_quietly(emit, ended) or held.interrupted
    return TrainOutcome(
        np.array(train_hist),
        np.array(val_hist),
        smoothed,
        best_epoch,
        stop_reason,
        elapsed,
        mi_train,
        mi_val,
        critic,
        interrupted=late and not stopping,
    )
