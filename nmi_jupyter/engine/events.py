"""Events the engine emits while it trains, and the cancellation token.

Leaf module: imports nothing internal.  Observers (widgets, loggers, tests)
receive these frozen dataclasses; every MI value is in the run's ``units``.
Observers must be quick: they run on the training thread between epochs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

__all__ = [
    "tagged",
    "RunStarted",
    "EpochEnded",
    "RunEnded",
    "Event",
    "Observer",
    "CancelToken",
    "STOP_REASONS",
    "event_to_dict",
    "event_from_dict",
]

# Why a run ended -> the sentence shown to users.
STOP_REASONS = {
    "early_stopping": "the smoothed validation MI stopped improving",
    "max_epochs": "the maximum number of epochs was reached",
    "cancelled": "the run was cancelled",
    "interrupted": "the run was interrupted (KeyboardInterrupt)",
    "diverged": "training diverged (a value the bound cannot give for a working critic)",
    "failed": "its work unit failed on the executor (see the warning)",
}


@dataclass(frozen=True)
class RunStarted:
    """A training run begins.  ``gamma``/``chunk``/``control`` tag runs of a rigorous analysis;
    ``candidate`` k > 0 marks the runs of the k-th smaller critic of a rigorous analysis's
    critic search, which trains the whole analysis again (observers start over)."""

    run_id: int
    n_train: int
    n_val: int
    max_epochs: int
    patience: int
    units: str
    gamma: int | None = None
    chunk: int | None = None
    control: bool = False  # a shuffled-pairs control run of a rigorous analysis
    candidate: int = 0


@dataclass(frozen=True)
class EpochEnded:
    """One epoch finished.  ``val_smoothed`` is the whole smoothed curve so far
    (its last few values still move as epochs arrive).  The run stops when ``stalled``
    (epochs without improvement, counted from the later of the best epoch and the
    learning-rate drop) reaches ``patience`` (the run's patience, or half of it once
    ``lr_dropped``)."""

    run_id: int
    epoch: int
    train_mi: float
    val_mi: float
    val_smoothed: tuple[float, ...]
    best_epoch: int
    epochs_since_best: int
    elapsed: float
    units: str
    gamma: int | None = None
    chunk: int | None = None
    control: bool = False  # a shuffled-pairs control run of a rigorous analysis
    # last, so that events built positionally keep their meaning
    stalled: int = 0
    patience: int = 0
    lr_dropped: bool = False


@dataclass(frozen=True)
class RunEnded:
    """A run ended; ``stop_reason`` says why (see ``EstimateResult.stop_reason``)."""

    run_id: int
    mi: float
    mi_val: float
    best_epoch: int
    epochs_run: int
    stop_reason: str
    elapsed: float
    units: str
    gamma: int | None = None
    chunk: int | None = None
    control: bool = False  # a shuffled-pairs control run of a rigorous analysis


Event = RunStarted | EpochEnded | RunEnded
Observer = Callable[[Event], None]


class CancelToken:
    """Thread-safe flag a caller sets to stop training between epochs."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def event_to_dict(event: Event) -> dict:
    """Plain data (str, numbers, lists) for sending an event between processes."""
    fields = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(event).items()}
    return {"kind": type(event).__name__, "fields": fields}


def event_from_dict(data: dict) -> Event:
    """The event :func:`event_to_dict` described."""
    kind = {cls.__name__: cls for cls in (RunStarted, EpochEnded, RunEnded)}[data["kind"]]
    fields = dict(data["fields"])
    if "val_smoothed" in fields:
        fields["val_smoothed"] = tuple(fields["val_smoothed"])
    return kind(**fields)


def tagged(observer: Observer | None, candidate: int) -> Observer | None:
    """``observer`` with every :class:`RunStarted` of a critic search's k-th candidate
    (k > 0) tagged ``candidate=k``; ``observer`` itself for k = 0 or None."""
    if observer is None or candidate == 0:
        return observer

    def tag(event: Event) -> None:
        observer(replace(event, candidate=candidate) if isinstance(event, RunStarted) else event)

    return tag
