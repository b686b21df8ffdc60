"""Many training runs at once, as one vectorised model.

The K critics of an analysis are stacked (``torch.func.stack_module_state``) and
evaluated with ``vmap``, so one step trains every active run on its own
minibatch with a few large batched matmuls instead of K small ones.  Each run
keeps its own data, minibatch order, optimiser state (Adam is elementwise, so a
stacked Adam is exactly K independent ones) and its own
:class:`~nmi_jupyter.engine.run_state.RunState`: what an epoch means (divergence,
early stopping, checkpoints, events, stopping) is the same as one run at a time
(:func:`train.train_run`), with the same seeds giving the same initialisation and
minibatch order.  Runs advance in lockstep, one minibatch per step; a run with
less data finishes its epochs in fewer steps, and a run that ends is removed from
the stack so it costs nothing more.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import torch
from torch.func import functional_call, vmap
from torch.optim.adam import adam

from nmi_jupyter.engine.bounds import get_bound
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.interrupts import deferred_interrupts
from nmi_jupyter.engine.memory import PAIR_MLP_CRITICS
from nmi_jupyter.engine.models import build_critic, eval_pair_bytes, stacked_scores
from nmi_jupyter.engine.run_state import Checkpoint, RunState, TrainOutcome
from nmi_jupyter.engine.runs import PreparedRun
from nmi_jupyter.engine.runtime import seeded_init
from nmi_jupyter.engine.train import block_bound

__all__ = [
    "train_batched",
    "StackedAdam",
    "max_stack",
    "cpu_stack",
    "padded_stack",
    "training_autocast",
    "native_bfloat16",
]

_BETAS = (0.9, 0.999)
# CPU only: on CUDA the fused kernel wants its step counters on the device, and it has not
# been run on a GPU here; CUDA keeps the foreach kernel (same arithmetic).
_FUSED_ADAM_DEVICES = ("cpu",)
_EPS = 1e-8
# Activation memory one stack may use; concat and hybrid critics build (K, B, B, hidden).
_MEMORY_BUDGET = 256 * 2**20
# On a CPU, the largest activation of a pair-MLP critic's stack (see cpu_stack).
_CPU_PAIR_TENSOR = 6 * 2**20


def max_stack(config: EstimateConfig, block: int) -> int:
    """How many runs fit in one stack when scoring ``block`` x ``block`` pairs."""
    width = config.hidden_dim if config.critic in PAIR_MLP_CRITICS else 1
    per_run = block * block * width * 4 * 4  # float32, about four live copies with autograd
    return max(1, _MEMORY_BUDGET // per_run)


def cpu_stack(config: EstimateConfig, block: int, device: torch.device) -> int:
    """How many runs a stack may hold on ``device``: on a CPU, the pair-MLP critics'
    (K, block, block, hidden) float32 activations stay under :data:`_CPU_PAIR_TENSOR`
    (one run at block 128, hidden 64); no limit elsewhere.

    On a CPU those activations make the step bound by memory traffic, so stacking
    saves nothing and large stacks cost: glibc serves every tensor above its adaptive
    mmap threshold (at most 32 MiB) with a fresh ``mmap`` whose pages fault in again
    at each step.  Measured, one thread, hybrid critic, block 128, hidden 64:
    ``dimensionality`` dims 1-6, 3 splits, 10 epochs, ``latent_channels(3000, 2, 40)``:
    59-68 CPU s one run at a time, 71-77 s in stacks of 3 (12 MiB), 80-96 s in stacks
    of 6 (24 MiB); 18 runs of 2 epochs: 36-39 s in stacks of 3 to 7, 46 s of 8
    (32 MiB), 51-55 s of 9 to 16.
    """
    if device.type != "cpu" or config.critic not in PAIR_MLP_CRITICS:
        return 2**31
    return max(1, _CPU_PAIR_TENSOR // (block * block * config.hidden_dim * 4))


class StackedAdam:
    """Adam on stacked parameters (leading dim = run), numerically as ``torch.optim.Adam``
    applied to each run separately.  Runs can be dropped with :meth:`keep`."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float = 0.0) -> None:
        self.lr, self.weight_decay = lr, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.state_steps = [torch.tensor(0.0) for _ in params]  # as torch.optim.Adam keeps them

    @torch.no_grad()
    def step(
        self,
        params: list[torch.Tensor],
        grads: Sequence[torch.Tensor],
        lr_scales: Sequence[float] | None = None,
    ) -> None:
        """One Adam step of every run; ``lr_scales`` (one per run) multiply ``lr`` run by
        run.  Runs at the same rate step together; when rates differ, each rate's runs are
        gathered and stepped on their own, so a run's arithmetic is Adam at its own rate
        whatever the other runs of its stack do (the same numbers on any executor)."""
        scales = [1.0] if lr_scales is None else list(lr_scales)
        rates = sorted(set(scales))
        if len(rates) == 1:
            self._adam(params, grads, self.exp_avg, self.exp_avg_sq, self.state_steps, rates[0])
            return
        steps_before = [t.clone() for t in self.state_steps]
        for rate in rates:
            rows = torch.tensor(
                [k for k, scale in enumerate(scales) if scale == rate], device=params[0].device
            )
            sub = [p[rows] for p in params]
            sub_avg = [m[rows] for m in self.exp_avg]
            sub_sq = [v[rows] for v in self.exp_avg_sq]
            steps = [t.clone() for t in steps_before]
            self._adam(sub, [g[rows] for g in grads], sub_avg, sub_sq, steps, rate)
            for whole, part in zip(
                [*params, *self.exp_avg, *self.exp_avg_sq], [*sub, *sub_avg, *sub_sq], strict=True
            ):
                whole[rows] = part
            self.state_steps = steps

    def _adam(self, params, grads, exp_avg, exp_avg_sq, state_steps, scale: float) -> None:
        # torch's own functional Adam: the arithmetic of torch.optim.Adam, on its fused
        # kernels (one pass over each tensor; measured 4x faster than foreach at 58
        # stacked runs) where the device has them, else its multi-tensor kernels.
        # The fused kernels read a gradient as laid out like its parameter (measured, torch
        # 2.13 on CPU: wrong steps from a transposed gradient), so gradients are made
        # contiguous first.
        fused = params[0].device.type in _FUSED_ADAM_DEVICES
        adam(
            list(params),
            [g.contiguous() for g in grads] if fused else list(grads),
            exp_avg,
            exp_avg_sq,
            [],
            state_steps,
            foreach=not fused,
            fused=fused,
            amsgrad=False,
            beta1=_BETAS[0],
            beta2=_BETAS[1],
            lr=self.lr * scale,
            weight_decay=self.weight_decay,
            eps=_EPS,
            maximize=False,
            # torch.optim.AdamW's update (what the one-run trainer uses with weight decay)
            decoupled_weight_decay=True,
        )

    def keep(self, slots: torch.Tensor) -> None:
        self.exp_avg = [m[slots] for m in self.exp_avg]
        self.exp_avg_sq = [v[slots] for v in self.exp_avg_sq]


def train_batched(
    runs: Sequence[PreparedRun],
    config: EstimateConfig,
    *,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
) -> list[TrainOutcome]:
    """Train every run of ``runs`` together; one :class:`TrainOutcome` per run, in order.

    Every run has the same input widths and device, and the settings ``config``, except
    that a run's own settings (``PreparedRun.config``) may set another ``embedding_dim``:
    its critic is built at its own width and zero-padded to the widest
    (:func:`padded_stack`), so it trains as it would alone, up to float rounding.
    On cancel or
    KeyboardInterrupt the runs still training end as "cancelled"/"interrupted",
    each with the numbers of its best checkpoint so far (NaN without a finished
    epoch); finished runs are unaffected.  A run interrupted as it ended (see
    :meth:`RunState.finish`) keeps its own end and stops the others.
    """
    stack = _Stack(runs, config, observer)
    stop = ""  # "cancelled" or "interrupted" when training stops before every run ends
    try:
        stack.start()
        while stack.active:
            if cancel is not None and cancel.cancelled:
                stop = "cancelled"
                break
            stack.step()
    except KeyboardInterrupt:
        stop = "interrupted"
    if stop:
        # Each run still training keeps its best checkpoint so far, as a partial run
        # (none without a finished epoch); Ctrl-C is held back meanwhile.
        with deferred_interrupts():
            for k, state in enumerate(stack.states):
                if not state.done:
                    stack.finish(k, stop)
    return [state.outcome() for state in stack.states]


class _Stack:
    """The stacked critics of :func:`train_batched` and their runs' states.

    ``active[i]`` is the run (index into ``states``) in slot i of the stacked
    parameters and buffers (the power-iteration vectors of spectral normalisation);
    data of all runs are concatenated, each run's rows at its offsets.  A checkpoint
    holds a run's parameters and buffers.
    """

    def __init__(
        self, runs: Sequence[PreparedRun], config: EstimateConfig, observer: Observer | None
    ) -> None:
        first = runs[0].data
        device = first.x_train.device
        self.config, self.batch = config, config.batch_size
        self.bound = get_bound(config.estimator, config.smile_clip)
        critics = []
        for run in runs:
            # Each run's critic at its own embedding width, from its own seed, as alone.
            own = config if run.config is None else run.config
            with seeded_init(run.init_seed):
                critics.append(
                    build_critic(own, first.x_train.shape[1], first.y_train.shape[1]).to(device)
                )
        self.params, self.buffers = padded_stack(critics)
        self.names = list(self.params)
        self.buffer_names = list(self.buffers)
        widest = max(critics, key=lambda c: sum(p.numel() for p in c.parameters()))
        self.scores_of = _stacked_scores_of(config, widest)
        del critics, widest
        self.x_train = torch.cat([r.data.x_train for r in runs])
        self.y_train = torch.cat([r.data.y_train for r in runs])
        self.x_val = torch.cat([r.data.x_val for r in runs])
        self.y_val = torch.cat([r.data.y_val for r in runs])
        start = time.perf_counter()  # the clock of every run's events
        self.states = [RunState(run, config, observer=observer, start=start) for run in runs]
        train_offsets = _offsets([r.n_train for r in runs])
        val_offsets = _offsets([r.n_val for r in runs])
        self.train_offset = train_offsets
        self.active = list(range(len(runs)))
        # Evaluation orders as rows of the concatenated sets.
        self.train_order = [
            s.train_order + o for s, o in zip(self.states, train_offsets, strict=True)
        ]
        self.val_order = [s.val_order + o for s, o in zip(self.states, val_offsets, strict=True)]
        self.perm: list[torch.Tensor] = [torch.empty(0)] * len(runs)
        self.pos = [0] * len(runs)
        self.optimizer = StackedAdam(
            [self.params[n] for n in self.names], config.lr, config.weight_decay
        )
        self.finite = torch.ones(len(runs), dtype=torch.bool, device=device)
        self.autocast = training_autocast(config.precision, device)
        # "auto" leaves a stack of few runs in float32 (where bfloat16 was slower)
        self.low_precision_from = AUTO_BFLOAT16_STACK if config.precision == "auto" else 1

    def start(self) -> None:
        for k, state in enumerate(self.states):
            state.started()
            self.new_epoch(k)

    def new_epoch(self, k: int) -> None:
        self.perm[k] = self.states[k].new_epoch() + self.train_offset[k]
        self.pos[k] = 0

    def step(self) -> None:
        """One minibatch of every active run; the epochs that this ends, ended."""
        batch, params, active = self.batch, self.params, self.active
        idx = torch.stack(
            [self.perm[k][self.pos[k] * batch : (self.pos[k] + 1) * batch] for k in active]
        )
        plist = [params[n] for n in self.names]
        low = len(active) >= self.low_precision_from
        with self.autocast() if low else contextlib.nullcontext():
            scores = self.scores_of(
                params, self.buffers, _rows(self.x_train, idx), _rows(self.y_train, idx), True
            )
        values = self.bound(scores.float())
        grads = torch.autograd.grad(-values.sum(), plist)
        self.optimizer.step(plist, grads, [self.states[k].lr_scale for k in active])
        self.finite &= torch.isfinite(values.detach())
        for k in active:
            self.pos[k] += 1
        ended = [i for i, k in enumerate(active) if self.pos[k] == self.states[k].n_batches]
        if ended:
            self.end_epochs(ended)

    def end_epochs(self, ended: list[int]) -> None:
        """Evaluate and commit the epoch of the runs in slots ``ended``; drop the runs
        that end.  An interrupt that came as a run ended is raised again here, once its
        run is finished, to stop the others."""
        ok = self.finite.tolist()
        stopped: set[int] = set()
        limit = min(
            max_stack(self.config, self.batch),
            cpu_stack(self.config, self.batch, self.x_train.device),
        )
        for slots in _groups_by_size(self.states, self.active, ended, limit):
            for i, (tr, va) in zip(slots, self.evaluate(slots), strict=True):
                k = self.active[i]
                copy_slot = functools.partial(self.copy, i)
                reason = self.states[k].end_epoch(tr, va, ok[i], copy_slot)
                if reason is None:
                    self.new_epoch(k)
                    continue
                self.finish(k, reason)
                stopped.add(i)
                if self.states[k].interrupted:
                    raise KeyboardInterrupt
        if stopped:
            self.drop(stopped)

    def drop(self, stopped: set[int]) -> None:
        keep = [i for i in range(len(self.active)) if i not in stopped]
        slots = torch.tensor(keep, dtype=torch.long, device=self.finite.device)
        self.params = {n: self.params[n][slots].detach().requires_grad_() for n in self.names}
        self.buffers = {n: self.buffers[n][slots] for n in self.buffer_names}
        self.optimizer.keep(slots)
        self.finite = self.finite[slots]
        self.active = [self.active[i] for i in keep]

    def copy(self, i: int) -> Checkpoint:
        state = {**self.params, **self.buffers}
        return {n: state[n][i].detach().clone() for n in self.names + self.buffer_names}

    def evaluate(self, slots: list[int]) -> list[tuple[float, float]]:
        """The training (subset) and validation curve values, in nats, of the runs in
        ``slots`` (runs with equal set sizes), in blocks of ``batch_size``."""
        group = [self.active[i] for i in slots]
        m = self.states[group[0]].curve_subset
        with torch.no_grad():
            sub = {n: self.params[n][slots] for n in self.names}
            sub_buffers = {n: self.buffers[n][slots] for n in self.buffer_names}
            train = self.evaluate_stack(
                sub,
                sub_buffers,
                self.x_train,
                self.y_train,
                torch.stack([self.train_order[k][:m] for k in group]),
                self.batch,
            )
            val = self.evaluate_stack(
                sub,
                sub_buffers,
                self.x_val,
                self.y_val,
                torch.stack([self.val_order[k] for k in group]),
                self.batch,
            )
        return list(zip(train, val, strict=True))

    def finish(self, k: int, reason: str) -> None:
        self.states[k].finish(reason, functools.partial(self.evaluate_checkpoint, k))

    def evaluate_checkpoint(self, k: int, checkpoint: Checkpoint) -> tuple[float, float]:
        """The numbers reported: whole partitions, blocks of ``eval_batch_size``."""
        block = self.config.eval_batch_size
        with torch.no_grad():
            params = {n: checkpoint[n].unsqueeze(0) for n in self.names}
            buffers = {n: checkpoint[n].unsqueeze(0) for n in self.buffer_names}
            mi_train = self.evaluate_stack(
                params, buffers, self.x_train, self.y_train, self.train_order[k][None], block
            )[0]
            mi_val = self.evaluate_stack(
                params, buffers, self.x_val, self.y_val, self.val_order[k][None], block
            )[0]
        return mi_train, mi_val

    def evaluate_stack(
        self,
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
            rows_of = functools.partial(
                _stack_rows, self.scores_of, params, buffers, _rows(x, idx), _rows(y, idx)
            )
            total += block_bound(self.bound, rows_of, len(cols), pair, stack=n_runs).double() * len(
                cols
            )
        return (total / n).tolist()


def padded_stack(
    critics: Sequence[torch.nn.Module],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``stack_module_state`` of critics that may differ in embedding width: every
    parameter zero-padded at the end of each dimension to the largest shape among them
    (the g/h output rows and biases, the bilinear weight, the hybrid pair MLP's input
    columns).

    The padded entries stay exactly zero in training: an embedding coordinate that is
    zero with zero weights downstream gets gradient exactly 0 on both sides (its
    scores do not move), Adam maps a zero gradient to a zero step, and decoupled weight
    decay scales 0 to 0.  So each run computes the scores of its own width.  Buffers
    (spectral normalisation's power-iteration vectors, hidden-sized) must agree."""
    states = [dict(critic.named_parameters()) for critic in critics]
    params = {}
    for name in states[0]:
        tensors = [state[name].detach() for state in states]
        shape = tuple(max(sizes) for sizes in zip(*(t.shape for t in tensors), strict=True))
        params[name] = torch.stack([_zero_padded(t, shape) for t in tensors]).requires_grad_()
    buffers = [dict(critic.named_buffers()) for critic in critics]
    stacked = {name: torch.stack([b[name] for b in buffers]) for name in buffers[0]}
    return params, stacked


def _zero_padded(tensor: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    if tuple(tensor.shape) == shape:
        return tensor
    out = tensor.new_zeros(shape)
    out[tuple(slice(0, size) for size in tensor.shape)] = tensor
    return out


# precision="auto" multiplies in bfloat16 only while at least this many runs train in
# the stack: measured per step on one CPU thread (speed.py's case b timed by stack size,
# docs/research/speed.md), bfloat16 autocast was 9-10 % faster at 20-58 runs and 10-20 %
# slower at 2-10, where casting costs more than the smaller matmuls save.
AUTO_BFLOAT16_STACK = 16


def training_autocast(precision: str, device: torch.device) -> Callable[[], AbstractContextManager]:
    """The context of a training step's score computation: bfloat16 autocast (matmuls in
    bfloat16, accumulated in float32) for ``precision`` "bfloat16", and for "auto" where
    the device multiplies bfloat16 natively; else none (float32).  The bound, the
    gradients' optimiser state and every evaluated value stay float32."""
    if precision == "auto":
        precision = "bfloat16" if native_bfloat16(device) else "float32"
    if precision == "float32":
        return contextlib.nullcontext
    return functools.partial(torch.autocast, device.type, dtype=torch.bfloat16)


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices natively (a CPU with AMX or
    AVX-512 BF16; a CUDA device with bfloat16 support)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _stacked_scores_of(config: EstimateConfig, critic: torch.nn.Module) -> Callable:
    """scores_of(params, buffers, x, y, training=False): (K, B, B) score matrices of K
    stacked critics shaped like ``critic``, each on its own (B, features) x and y;
    ``training`` advances the power iterations of spectral normalisation."""
    direct = stacked_scores(config)
    if direct is not None:
        return lambda p, b, x, y, training=False: direct({**p, **b}, x, y, training)
    base = copy.deepcopy(critic).to("meta")

    def one_critic(p, b, x, y):
        return functional_call(base, (p, b), (x, y))

    stacked = vmap(one_critic)
    return lambda p, b, x, y, training=False: stacked(p, b, x, y)


def _offsets(sizes: list[int]) -> list[int]:
    out, total = [], 0
    for size in sizes:
        out.append(total)
        total += size
    return out


def _groups_by_size(
    states: list[RunState], active: list[int], ended: list[int], limit: int
) -> list[list[int]]:
    """Slots of runs that ended an epoch, grouped by equal set sizes (one stacked
    evaluation each), at most ``limit`` runs per group."""
    by_size: dict[tuple[int, int], list[int]] = {}
    for i in ended:
        state = states[active[i]]
        by_size.setdefault((state.n_train, state.n_val), []).append(i)
    return [slots[k : k + limit] for slots in by_size.values() for k in range(0, len(slots), limit)]


def _rows(data: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``data[idx]`` for a (K, B) index of rows: the same copy, by ``index_select``
    (advanced indexing with a 2-D index took 7x as long at (58, 128) rows of 20)."""
    return data.index_select(0, idx.reshape(-1)).view(*idx.shape, *data.shape[1:])


def _stack_rows(scores_of, params, buffers, x, y, start: int, stop: int) -> torch.Tensor:
    return scores_of(params, buffers, x[:, start:stop], y)
