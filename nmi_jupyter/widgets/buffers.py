"""Engine events -> per-run arrays for display.  No widget imports: pure bookkeeping.

The panels feed every event here and read arrays back when they redraw; the
throttle decides when that is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nmi_jupyter.engine.events import EpochEnded, Event, RunEnded, RunStarted
from nmi_jupyter.engine.results import STOPPED_REASONS

__all__ = ["RunTrace", "EventBuffer", "Throttle", "decimate"]

# Runs that ended without a usable finish (the panel shows them as stopped);
# "failed": the run's work unit failed on an executor.
STOPPED = (*STOPPED_REASONS, "diverged", "failed")


@dataclass
class RunTrace:
    """What is known about one run so far (values in the run's units)."""

    run_id: int
    gamma: int | None
    chunk: int | None
    control: bool
    max_epochs: int
    patience: int
    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    smoothed: tuple[float, ...] = ()
    best_epoch: int = -1
    epochs_since_best: int = 0
    stalled: int = 0  # epochs without improvement toward the stop (of `patience` now)
    lr_dropped: bool = False
    elapsed: float = 0.0
    status: str = "running"  # running, done, stopped
    stop_reason: str = ""
    mi: float = float("nan")
    mi_val: float = float("nan")


def decimate(values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values) with at most about ``max_points`` points; the last point is kept."""
    n = len(values)
    epochs = np.arange(n)
    if n <= max_points:
        return epochs, np.asarray(values, dtype=float)
    idx = np.unique(np.append(np.linspace(0, n - 1, max_points).astype(int), n - 1))
    return epochs[idx], np.asarray(values, dtype=float)[idx]


class EventBuffer:
    """Collects events into :class:`RunTrace` objects, in the order runs started."""

    def __init__(self) -> None:
        self.runs: dict[int, RunTrace] = {}
        self.current: int | None = None
        self.units = "bits"
        # > 0 while a rigorous analysis's critic search trains its k-th smaller critic:
        # the analysis starts over, so the runs of the critic before are let go.
        self.candidate = 0

    def __call__(self, event: Event) -> None:
        self.units = event.units
        if isinstance(event, RunStarted):
            if event.candidate > self.candidate:
                self.runs, self.current, self.candidate = {}, None, event.candidate
            self.runs[event.run_id] = RunTrace(
                event.run_id,
                event.gamma,
                event.chunk,
                event.control,
                event.max_epochs,
                event.patience,
            )
            return
        trace = self.runs.get(event.run_id)
        if trace is None:
            if not isinstance(event, RunEnded):
                return
            # a run that never started here (its work unit failed on an executor)
            trace = RunTrace(event.run_id, event.gamma, event.chunk, event.control, 0, 0)
            self.runs[event.run_id] = trace
        if isinstance(event, EpochEnded):
            trace.train.append(event.train_mi)
            trace.val.append(event.val_mi)
            trace.smoothed = event.val_smoothed
            trace.best_epoch = event.best_epoch
            trace.epochs_since_best = event.epochs_since_best
            trace.lr_dropped = event.lr_dropped
            if event.patience:  # the engine counted the stall (after a drop: from the drop)
                trace.stalled, trace.patience = event.stalled, event.patience
            else:  # an event built without the count (older code, hand-made events)
                trace.stalled = event.epochs_since_best
            trace.elapsed = event.elapsed
            self.current = event.run_id
        elif isinstance(event, RunEnded):
            trace.status = "stopped" if event.stop_reason in STOPPED else "done"
            trace.stop_reason = event.stop_reason
            trace.mi, trace.mi_val, trace.elapsed = event.mi, event.mi_val, event.elapsed

    def by_status(self) -> dict[str, int]:
        counts = {"done": 0, "running": 0, "stopped": 0}
        for trace in self.runs.values():
            counts[trace.status] += 1
        return counts


class Throttle:
    """True at most once per ``interval`` seconds (a redraw budget)."""

    def __init__(self, interval: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._last = -float("inf")

    def ready(self) -> bool:
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False
