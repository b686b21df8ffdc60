"""Many training runs at once, as one vectorised model.

The K critics of an analysis are stacked (``torch.func.stack_module_state``) and
evaluated with ``vmap``, so one step trains every active run on its own
minibatch with a few large batched matmuls instead of K small ones.  Each run
keeps its own data, minibatch order, optimiser state (Adam is elementwise, so a
stacked Adam is exactly K independent ones), early-stopping state and best
checkpoint.  Runs advance in lockstep, one minibatch per step; a run with less
data finishes its epochs in fewer steps, and a run that stops is removed from
the stack so it costs nothing more.  Semantics follow :func:`train.train_run`,
with the same seeds giving the same initialisation and minibatch order.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from nmi_jupyter.engine.bounds import get_bound
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.divergence import ValueRange, curve_ranges, epoch_divergence
from nmi_jupyter.engine.early_stopping import EarlyStopping
from nmi_jupyter.engine.events import CancelToken, EpochEnded, Observer, RunEnded, RunStarted
from nmi_jupyter.engine.interrupts import call_quietly, deferred_interrupts
from nmi_jupyter.engine.models import build_critic, eval_pair_bytes, stacked_scores
from nmi_jupyter.engine.runtime import seeded_init
from nmi_jupyter.engine.train import TrainData, TrainOutcome, block_bound, train_subset_size
from nmi_jupyter.engine.units import from_nats

__all__ = ["RunSpec", "train_batched", "StackedAdam", "max_stack"]

_BETAS = (0.9, 0.999)
_EPS = 1e-8
# Activation memory one stack may use; concat critics build (K, B, B, hidden).
_MEMORY_BUDGET = 256 * 2**20


@dataclass(frozen=True)
class RunSpec:
    """One run of a batched analysis: its prepared data, seeds and event tags."""

    data: TrainData
    init_seed: int
    shuffle_seed: int
    run_id: int = 0
    gamma: int | None = None
    chunk: int | None = None
    control: bool = False


def max_stack(config: EstimateConfig, block: int) -> int:
    """How many runs fit in one stack when scoring ``block`` x ``block`` pairs."""
    width = config.hidden_dim if config.critic == "concat" else 1
    per_run = block * block * width * 4 * 4  # float32, about four live copies with autograd
    return max(1, _MEMORY_BUDGET // per_run)


class StackedAdam:
    """Adam on stacked parameters (leading dim = run), numerically as ``torch.optim.Adam``
    applied to each run separately.  Runs can be dropped with :meth:`keep`."""

    def __init__(self, params: list[torch.Tensor], lr: float) -> None:
        self.lr = lr
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.steps = 0

    @torch.no_grad()
    def step(self, params: list[torch.Tensor], grads: Sequence[torch.Tensor]) -> None:
        self.steps += 1
        beta1, beta2 = _BETAS
        step_size = self.lr / (1 - beta1**self.steps)
        bias2_sqrt = math.sqrt(1 - beta2**self.steps)
        # The same arithmetic as torch.optim.Adam, as multi-tensor (foreach) kernels.
        grads = list(grads)
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1 - beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, bias2_sqrt)
        torch._foreach_add_(denom, _EPS)
        torch._foreach_addcdiv_(params, self.exp_avg, denom, value=-step_size)

    def keep(self, slots: torch.Tensor) -> None:
        self.exp_avg = [m[slots] for m in self.exp_avg]
        self.exp_avg_sq = [v[slots] for v in self.exp_avg_sq]


@dataclass
class _Run:
    """Mutable training state of one run inside the stack."""

    spec: RunSpec
    train_offset: int
    val_offset: int
    shuffler: torch.Generator
    train_order: torch.Tensor
    val_order: torch.Tensor
    stopper: EarlyStopping
    n_batches: int
    ranges: tuple[ValueRange, ValueRange]  # of the training and validation curves
    perm: torch.Tensor = field(default=None)
    pos: int = 0
    epoch: int = 0
    train_hist: list[float] = field(default_factory=list)
    val_hist: list[float] = field(default_factory=list)
    smoothed: np.ndarray = field(default_factory=lambda: np.empty(0))
    checkpoints: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    best_epoch: int = -1
    stop_reason: str = ""
    elapsed: float = 0.0
    mi_train: float = math.nan
    mi_val: float = math.nan

    @property
    def n_train(self) -> int:
        return len(self.spec.data.x_train)

    @property
    def n_val(self) -> int:
        return len(self.spec.data.x_val)

    def new_epoch(self, device: torch.device) -> None:
        self.perm = torch.randperm(self.n_train, generator=self.shuffler).to(device)
        self.perm += self.train_offset
        self.pos = 0

    def tags(self) -> dict:
        spec = self.spec
        return {
            "run_id": spec.run_id,
            "gamma": spec.gamma,
            "chunk": spec.chunk,
            "control": spec.control,
        }


def train_batched(
    specs: Sequence[RunSpec],
    config: EstimateConfig,
    *,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
) -> list[TrainOutcome]:
    """Train every run of ``specs`` together; one :class:`TrainOutcome` per spec, in order.

    Every run has the same input widths and device.  On cancel or
    KeyboardInterrupt the runs still training end as "cancelled"/"interrupted",
    each with the numbers of its best checkpoint so far (NaN without a finished
    epoch); finished runs are unaffected.
    """
    emit = observer or (lambda event: None)
    first = specs[0].data
    device = first.x_train.device
    units = config.units
    bound = get_bound(config.estimator, config.smile_clip)
    batch = config.batch_size
    critics = []
    for spec in specs:
        with seeded_init(spec.init_seed):
            critics.append(
                build_critic(config, first.x_train.shape[1], first.y_train.shape[1]).to(device)
            )
    params, buffers = stack_module_state(critics)
    names = list(params)
    base = copy.deepcopy(critics[0]).to("meta")
    del critics

    direct = stacked_scores(config)
    if direct is not None:

        def scores_of(p, b, x, y):
            return direct(p, x, y)
    else:

        def one_critic(p, b, x, y):
            return functional_call(base, (p, b), (x, y))

        scores_of = vmap(one_critic)
    x_train = torch.cat([s.data.x_train for s in specs])
    y_train = torch.cat([s.data.y_train for s in specs])
    x_val = torch.cat([s.data.x_val for s in specs])
    y_val = torch.cat([s.data.y_val for s in specs])

    runs: list[_Run] = []
    t_off = v_off = 0
    for spec in specs:
        shuffler = torch.Generator().manual_seed(spec.shuffle_seed)
        n_tr, n_va = len(spec.data.x_train), len(spec.data.x_val)
        run = _Run(
            spec=spec,
            train_offset=t_off,
            val_offset=v_off,
            shuffler=shuffler,
            train_order=torch.randperm(n_tr, generator=shuffler).to(device) + t_off,
            val_order=torch.randperm(n_va, generator=shuffler).to(device) + v_off,
            stopper=EarlyStopping(
                config.patience,
                config.min_improvement,
                config.median_window,
                config.gaussian_sigma,
            ),
            n_batches=n_tr // batch,
            ranges=curve_ranges(
                config.estimator, batch, n_tr, train_subset_size(n_tr, n_va, batch), n_va
            ),
        )
        t_off, v_off = t_off + n_tr, v_off + n_va
        runs.append(run)

    active = list(runs)  # slot i of the stacked parameters belongs to active[i]
    optimizer = StackedAdam([params[n] for n in names], config.lr)
    finite = torch.ones(len(active), dtype=torch.bool, device=device)
    start = time.perf_counter()

    def evaluate(group: list[_Run], slots: list[int]) -> list[tuple[float, float]]:
        with torch.no_grad():
            sub = {n: params[n][slots] for n in names}
            m = train_subset_size(group[0].n_train, group[0].n_val, batch)
            train = _evaluate_stack(
                scores_of,
                bound,
                sub,
                buffers,
                x_train,
                y_train,
                torch.stack([r.train_order[:m] for r in group]),
                batch,
            )
            val = _evaluate_stack(
                scores_of,
                bound,
                sub,
                buffers,
                x_val,
                y_val,
                torch.stack([r.val_order for r in group]),
                batch,
            )
        return list(zip(train, val, strict=True))

    def finish(run: _Run, reason: str, notify: Observer = emit) -> None:
        best = run.best_epoch
        if best in run.checkpoints:  # the numbers reported: whole partitions, large blocks
            block = config.eval_batch_size
            with torch.no_grad():
                state = {n: v.unsqueeze(0) for n, v in run.checkpoints[best].items()}
                run.mi_train = _evaluate_stack(
                    scores_of, bound, state, buffers, x_train, y_train, run.train_order[None], block
                )[0]
                run.mi_val = _evaluate_stack(
                    scores_of, bound, state, buffers, x_val, y_val, run.val_order[None], block
                )[0]
        run.elapsed = time.perf_counter() - start
        run.stop_reason = reason  # only now: a run interrupted while evaluated is finished again
        notify(
            RunEnded(
                mi=float(from_nats(run.mi_train, units)),
                mi_val=float(from_nats(run.mi_val, units)),
                best_epoch=best,
                epochs_run=len(run.val_hist),
                stop_reason=reason,
                elapsed=run.elapsed,
                units=units,
                **run.tags(),
            )
        )

    stop = ""  # "cancelled" or "interrupted" when training stops before every run ends
    try:
        for run in runs:
            emit(
                RunStarted(
                    n_train=run.n_train,
                    n_val=run.n_val,
                    max_epochs=config.epochs,
                    patience=config.patience,
                    units=units,
                    **run.tags(),
                )
            )
            run.new_epoch(device)
        while active:
            if cancel is not None and cancel.cancelled:
                stop = "cancelled"
                break
            idx = torch.stack([r.perm[r.pos * batch : (r.pos + 1) * batch] for r in active])
            plist = [params[n] for n in names]
            values = bound(scores_of(params, buffers, x_train[idx], y_train[idx]))
            grads = torch.autograd.grad(-values.sum(), plist)
            optimizer.step(plist, grads)
            finite &= torch.isfinite(values.detach())
            for run in active:
                run.pos += 1
            ended = [i for i, r in enumerate(active) if r.pos == r.n_batches]
            if not ended:
                continue
            stopped: set[int] = set()
            ok = finite.tolist()
            for slots in _groups_by_size(active, ended, max_stack(config, batch)):
                group = [active[i] for i in slots]
                for i, run, (tr, va) in zip(slots, group, evaluate(group, slots), strict=True):
                    if not ok[i] or epoch_divergence(
                        [*run.train_hist, tr], [*run.val_hist, va], *run.ranges
                    ):
                        finish(run, "diverged")
                        stopped.add(i)
                        continue
                    decision = run.stopper.update(va)
                    run.checkpoints[run.epoch] = {n: params[n][i].detach().clone() for n in names}
                    run.train_hist.append(tr)
                    run.val_hist.append(va)
                    run.smoothed, run.best_epoch = decision.smoothed, decision.best_epoch
                    for old in [e for e in run.checkpoints if e not in decision.keep]:
                        del run.checkpoints[old]
                    emit(
                        EpochEnded(
                            epoch=run.epoch,
                            train_mi=float(from_nats(tr, units)),
                            val_mi=float(from_nats(va, units)),
                            val_smoothed=tuple(float(v) for v in from_nats(run.smoothed, units)),
                            best_epoch=run.best_epoch,
                            epochs_since_best=decision.epochs_since_best,
                            elapsed=time.perf_counter() - start,
                            units=units,
                            **run.tags(),
                        )
                    )
                    run.epoch += 1
                    if decision.stop or run.epoch == config.epochs:
                        finish(run, "early_stopping" if decision.stop else "max_epochs")
                        stopped.add(i)
                    else:
                        run.new_epoch(device)
            if stopped:
                keep = [i for i in range(len(active)) if i not in stopped]
                slots_t = torch.tensor(keep, dtype=torch.long, device=device)
                params = {n: params[n][slots_t].detach().requires_grad_() for n in names}
                optimizer.keep(slots_t)
                finite = finite[slots_t]
                active = [active[i] for i in keep]
    except KeyboardInterrupt:
        stop = "interrupted"
    if stop:
        # Each run still training keeps its best checkpoint so far, as a partial run
        # (none without a finished epoch).  Ctrl-C is held back meanwhile and observers
        # may raise no further KeyboardInterrupt, so a second one cannot lose them.
        with deferred_interrupts():
            for run in runs:
                if not run.stop_reason:
                    finish(run, stop, lambda event: call_quietly(emit, event))
    return [
        TrainOutcome(
            train=np.array(r.train_hist),
            val=np.array(r.val_hist),
            val_smoothed=r.smoothed,
            best_epoch=r.best_epoch,
            stop_reason=r.stop_reason,
            elapsed=r.elapsed,
            mi_train=r.mi_train,
            mi_val=r.mi_val,
            critic=None,
        )
        for r in runs
    ]


def _groups_by_size(active: list[_Run], ended: list[int], limit: int) -> list[list[int]]:
    """Slots of runs that ended an epoch, grouped by equal set sizes (one stacked
    evaluation each), at most ``limit`` runs per group."""
    by_size: dict[tuple[int, int], list[int]] = {}
    for i in ended:
        by_size.setdefault((active[i].n_train, active[i].n_val), []).append(i)
    return [slots[k : k + limit] for slots in by_size.values() for k in range(0, len(slots), limit)]


def _evaluate_stack(
    scores_of: Callable,
    bound: Callable[[torch.Tensor], torch.Tensor],
    params: dict[str, torch.Tensor],
    buffers: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    order: torch.Tensor,
    block: int,
) -> list[float]:
    """The bound of each stacked run on its own set (rows of ``order``: global indices in
    a fixed random order), as the size-weighted mean over near-equal blocks, in nats —
    the same blocks as :func:`train.evaluate_bound`, scored a few rows at a time when
    the stack's score matrices would exceed ``memory.SCORE_MEMORY_BUDGET``."""
    n_runs, n = order.shape
    pair = eval_pair_bytes(params)
    total = torch.zeros(n_runs, dtype=torch.float64, device=order.device)
    for cols in torch.arange(n, device=order.device).tensor_split(max(n // block, 1)):
        idx = order[:, cols]
        rows_of = functools.partial(_stack_rows, scores_of, params, buffers, x[idx], y[idx])
        total += block_bound(bound, rows_of, len(cols), pair, stack=n_runs).double() * len(cols)
    return (total / n).tolist()


def _stack_rows(scores_of, params, buffers, x, y, start: int, stop: int) -> torch.Tensor:
    return scores_of(params, buffers, x[:, start:stop], y)
