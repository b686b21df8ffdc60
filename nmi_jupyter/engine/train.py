"""One run at a time: minibatch Adam on -bound, per-epoch evaluation of the curves.

What an epoch means (divergence, early stopping, checkpoints, events, stopping)
is :class:`~nmi_jupyter.engine.run_state.RunState`'s, shared with the stacked
trainer (:mod:`batched`); this module adds the step and the evaluation of one
``nn.Module``.  Emits events; never prints.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from nmi_jupyter.engine.bounds import bound_by_rows, get_bound, has_row_form
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.memory import eval_rows
from nmi_jupyter.engine.models import build_critic, eval_pair_bytes
from nmi_jupyter.engine.run_state import Checkpoint, RunState, TrainOutcome, train_subset_size
from nmi_jupyter.engine.runs import PreparedRun, TrainData
from nmi_jupyter.engine.runtime import seeded_init

__all__ = [
    "TrainData",
    "TrainOutcome",
    "train_run",
    "evaluate_bound",
    "block_bound",
    "train_subset_size",
]


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
    run: PreparedRun,
    config: EstimateConfig,
    *,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
) -> TrainOutcome:
    """Train one critic and return its histories and the restored best checkpoint.

    Stops between epochs when ``cancel`` is set, and on KeyboardInterrupt (the
    partial epoch is discarded); in both cases the best finished epoch is kept (see
    :meth:`RunState.finish` for an interrupt as the run ends).
    """
    data = run.data
    with seeded_init(run.init_seed):
        critic = build_critic(config, data.x_train.shape[1:], data.y_train.shape[1:])
    critic = critic.to(data.x_train.device)
    optimizer = _optimizer(critic, config)
    bound = get_bound(config.estimator, config.smile_clip)
    state = RunState(run, config, observer=observer)
    batch = config.batch_size
    reason = None
    try:
        state.started()
        while reason is None:
            if cancel is not None and cancel.cancelled:
                reason = "cancelled"
                break
            critic.train()
            for group in optimizer.param_groups:
                group["lr"] = config.lr * state.lr_scale
            perm = state.new_epoch()
            finite = True
            for b in range(state.n_batches):
                idx = perm[b * batch : (b + 1) * batch]
                loss = -bound(critic(data.x_train[idx], data.y_train[idx]))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if not torch.isfinite(loss):
                    finite = False
                    break
            critic.eval()
            curve = state.train_order[: state.curve_subset]
            train_mi = evaluate_bound(critic, bound, data.x_train, data.y_train, batch, curve)
            val_mi = evaluate_bound(critic, bound, data.x_val, data.y_val, batch, state.val_order)
            reason = state.end_epoch(train_mi, val_mi, finite, functools.partial(_copy, critic))
    except KeyboardInterrupt:
        reason = "interrupted"
    state.finish(
        reason, functools.partial(_evaluate_checkpoint, critic, bound, data, state, config)
    )
    return state.outcome(critic)


def _optimizer(critic: nn.Module, config: EstimateConfig) -> torch.optim.Optimizer:
    """Adam; AdamW (decoupled decay: every parameter shrinks by lr * weight_decay per
    step, whatever its gradient's scale) when ``weight_decay`` > 0."""
    if config.weight_decay > 0:
        decay = config.weight_decay
        return torch.optim.AdamW(critic.parameters(), lr=config.lr, weight_decay=decay)
    return torch.optim.Adam(critic.parameters(), lr=config.lr)


def _copy(critic: nn.Module) -> Checkpoint:
    return {k: v.detach().clone() for k, v in critic.state_dict().items()}


def _evaluate_checkpoint(
    critic: nn.Module,
    bound: Callable[[torch.Tensor], torch.Tensor],
    data: TrainData,
    state: RunState,
    config: EstimateConfig,
    checkpoint: Checkpoint,
) -> tuple[float, float]:
    """Restore ``checkpoint`` into ``critic`` and return its (training, validation) MI on
    the whole partitions, in blocks of ``eval_batch_size`` (the numbers reported)."""
    critic.load_state_dict(checkpoint)
    critic.eval()
    block = config.eval_batch_size
    return (
        evaluate_bound(critic, bound, data.x_train, data.y_train, block, state.train_order),
        evaluate_bound(critic, bound, data.x_val, data.y_val, block, state.val_order),
    )
