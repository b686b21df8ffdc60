"""One run's state while it trains, and what it leaves: the per-epoch semantics of training.

Both trainers (one run at a time, :mod:`train`; many runs stacked, :mod:`batched`)
hold one :class:`RunState` per run and differ only in how they take a step and
evaluate the curves.  Everything an epoch means is here, once: the divergence
check, early stopping on the smoothed validation curve, the best checkpoint (and
the pruning of the others), the histories, the events, why the run stopped, and
the final evaluation of the best checkpoint with Ctrl-C held back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.divergence import curve_ranges, epoch_divergence
from nmi_jupyter.engine.early_stopping import EarlyStopping
from nmi_jupyter.engine.events import EpochEnded, Observer, RunEnded, RunStarted
from nmi_jupyter.engine.interrupts import call_quietly, deferred_interrupts
from nmi_jupyter.engine.results import STOPPED_REASONS
from nmi_jupyter.engine.runs import PreparedRun
from nmi_jupyter.engine.units import from_nats

__all__ = [
    "RunState",
    "TrainOutcome",
    "Checkpoint",
    "train_subset_size",
    "failed_outcome",
    "without_critic",
    "analysis_stop",
    "enters_result",
]

Checkpoint = dict[str, torch.Tensor]


@dataclass
class TrainOutcome:
    """What a trained run leaves; every MI is in nats.

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
    n_train: int = 0
    n_val: int = 0
    # diagnostics.varying_samples per variable and partition, when the plan counts them
    varying: dict[str, int] | None = None

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


class RunState:
    """The state of one prepared run in training, fed one epoch's curve values at a time.

    The run's ``shuffle_seed`` drives, in this order, the fixed evaluation orders of the
    training and validation sets (blocks mix the whole set, so the curves move only
    with the model) and then one minibatch order per epoch (:meth:`new_epoch`), so
    both trainers draw the same numbers.  Its plan record's tags label its events;
    ``start`` is the clock the events' ``elapsed`` counts from.
    """

    def __init__(
        self,
        run: PreparedRun,
        config: EstimateConfig,
        *,
        observer: Observer | None = None,
        start: float | None = None,
    ) -> None:
        self.config, self.n_train, self.n_val = config, run.n_train, run.n_val
        self.device = run.data.x_train.device
        self.tags, self.varying = run.spec.tags, run.varying
        self.emit = observer or (lambda event: None)
        self.start = time.perf_counter() if start is None else start
        self.shuffler = torch.Generator().manual_seed(run.shuffle_seed)
        n_train, n_val = run.n_train, run.n_val
        self.train_order = torch.randperm(n_train, generator=self.shuffler).to(self.device)
        self.val_order = torch.randperm(n_val, generator=self.shuffler).to(self.device)
        self.stopper = EarlyStopping(
            config.patience,
            config.min_improvement,
            config.median_window,
            config.gaussian_sigma,
            drop=config.lr_drop < 1,
        )
        # The learning rate's multiplier now: config.lr_drop from the stall that drops it.
        self.lr_scale = 1.0
        block = config.batch_size
        self.n_batches = n_train // block  # the incomplete last batch is dropped
        self.curve_subset = train_subset_size(n_train, n_val, block)
        self.ranges = curve_ranges(config.estimator, block, n_train, self.curve_subset, n_val)
        self.train_hist: list[float] = []
        self.val_hist: list[float] = []
        self.smoothed = np.empty(0)
        self.checkpoints: dict[int, Checkpoint] = {}
        self.best_epoch = -1
        self.stop_reason = ""  # set once the run has ended
        self.interrupted = False
        self.elapsed = 0.0
        self.mi_train = self.mi_val = math.nan

    @property
    def epochs_run(self) -> int:
        return len(self.val_hist)

    @property
    def done(self) -> bool:
        return bool(self.stop_reason)

    def started(self) -> None:
        self.emit(
            RunStarted(
                n_train=self.n_train,
                n_val=self.n_val,
                max_epochs=self.config.epochs,
                patience=self.config.patience,
                units=self.config.units,
                **self.tags,
            )
        )

    def new_epoch(self) -> torch.Tensor:
        """This epoch's minibatch order of the training set (on the run's device)."""
        return torch.randperm(self.n_train, generator=self.shuffler).to(self.device)

    def end_epoch(
        self, train_mi: float, val_mi: float, finite: bool, checkpoint: Callable[[], Checkpoint]
    ) -> str | None:
        """Take one finished epoch's curve values (nats); ``finite``: every training
        step of it gave a finite loss; ``checkpoint()`` copies the model as it is now.

        Returns why the run ends now ("diverged", "early_stopping", "max_epochs"), or
        None when it goes on.  A diverged epoch is not kept.
        """
        if not finite or epoch_divergence(
            [*self.train_hist, train_mi], [*self.val_hist, val_mi], *self.ranges
        ):
            return "diverged"
        decision = self.stopper.update(val_mi)
        state = checkpoint()
        epoch = self.epochs_run
        # Commit the epoch in one short step so an interrupt cannot leave the
        # histories, the checkpoints and the best epoch out of step.
        self.checkpoints[epoch] = state
        self.train_hist.append(train_mi)
        self.val_hist.append(val_mi)
        self.smoothed, self.best_epoch = decision.smoothed, decision.best_epoch
        for old in [e for e in self.checkpoints if e not in decision.keep]:
            del self.checkpoints[old]
        if decision.drop:
            self.lr_scale = self.config.lr_drop
        units = self.config.units
        self.emit(
            EpochEnded(
                epoch=epoch,
                train_mi=float(from_nats(train_mi, units)),
                val_mi=float(from_nats(val_mi, units)),
                val_smoothed=tuple(float(v) for v in from_nats(self.smoothed, units)),
                best_epoch=self.best_epoch,
                epochs_since_best=decision.epochs_since_best,
                stalled=decision.stalled,
                patience=decision.patience,
                lr_dropped=decision.dropped,
                elapsed=time.perf_counter() - self.start,
                units=units,
                **self.tags,
            )
        )
        if decision.stop:
            return "early_stopping"
        if self.epochs_run >= self.config.epochs:
            return "max_epochs"
        return None

    def finish(self, reason: str, evaluate: Callable[[Checkpoint], tuple[float, float]]) -> None:
        """End the run: ``evaluate`` the best checkpoint (its (training, validation) MI in
        nats on the whole partitions; NaN without a finished epoch) and announce it.

        Ctrl-C is held back meanwhile, so a (second) interrupt cannot lose the run; one
        that arrives then, or a KeyboardInterrupt from the observer at ``RunEnded``,
        keeps the run as it is and sets ``interrupted`` (unless the run itself was
        stopped by a cancel or an interrupt), so that the caller stops after it.
        """
        with deferred_interrupts() as held:
            if self.best_epoch in self.checkpoints:
                self.mi_train, self.mi_val = evaluate(self.checkpoints[self.best_epoch])
        self.elapsed = time.perf_counter() - self.start
        self.stop_reason = reason
        units = self.config.units
        ended = RunEnded(
            mi=float(from_nats(self.mi_train, units)),
            mi_val=float(from_nats(self.mi_val, units)),
            best_epoch=self.best_epoch,
            epochs_run=self.epochs_run,
            stop_reason=reason,
            elapsed=self.elapsed,
            units=units,
            **self.tags,
        )
        late = call_quietly(self.emit, ended) or held.interrupted
        self.interrupted = late and reason not in STOPPED_REASONS

    def outcome(self, critic: nn.Module | None = None) -> TrainOutcome:
        return TrainOutcome(
            train=np.array(self.train_hist),
            val=np.array(self.val_hist),
            val_smoothed=self.smoothed,
            best_epoch=self.best_epoch,
            stop_reason=self.stop_reason,
            elapsed=self.elapsed,
            mi_train=self.mi_train,
            mi_val=self.mi_val,
            critic=critic,
            interrupted=self.interrupted,
            n_train=self.n_train,
            n_val=self.n_val,
            varying=self.varying,
        )


def failed_outcome(reason: str = "failed") -> TrainOutcome:
    """The outcome of a run without a finished epoch: its work unit failed (left out of
    the fit and flagged), or it was interrupted before it began (left out)."""
    empty = np.empty(0)
    nan = float("nan")
    return TrainOutcome(empty, empty, empty, -1, reason, 0.0, nan, nan, critic=None)


def without_critic(outcome: TrainOutcome) -> TrainOutcome:
    """The outcome without its torch module (what crosses a process boundary)."""
    return outcome if outcome.critic is None else replace(outcome, critic=None)


def analysis_stop(outcomes: Sequence[TrainOutcome | None]) -> str:
    """How training went: "completed", or "cancelled"/"interrupted" when it stopped early
    (a run that ended as the interrupt came keeps its own stop_reason)."""
    for outcome in outcomes:
        if outcome is not None and outcome.stop_reason in STOPPED_REASONS:
            return outcome.stop_reason
        if outcome is not None and outcome.interrupted:
            return "interrupted"
    return "completed"


def enters_result(outcome: TrainOutcome | None) -> bool:
    """Whether a run becomes a record of the result: one that ended (diverged and failed
    ones included: they are flagged), or one stopped by a cancel or an interrupt after at
    least one finished epoch (a partial run); not one that never finished an epoch."""
    if outcome is None:
        return False
    return outcome.stop_reason not in STOPPED_REASONS or outcome.best_epoch >= 0
