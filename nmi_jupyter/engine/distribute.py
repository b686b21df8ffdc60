"""Where a plan trains: in this process, or as work units on a ``concurrent.futures.Executor``.

:func:`train` is the entry every analysis uses.  A work unit is the plan's runs
of one ``unit`` (for rigorous: the runs of one gamma, all its chunks and repeats,
or the shuffled-pairs controls: about equal work each, and enough runs for the
batched trainer to stack them on the worker).  A unit is a plan itself (plain
data: settings, views, seeds), trained on its worker by the same
:func:`~nmi_jupyter.engine.trainer.train_plan` as in this process, so any
executor can run it: a local ``ProcessPoolExecutor``, a Dask ``Client`` or its
``get_executor()``.  With Dask the data are scattered once and each worker
fetches them once; other executors get the data with each unit (one per unit,
never one per run).

Events are recorded on the worker; on Dask they are also streamed live (see
:mod:`dask_link`), otherwise replayed to the observer, in order, when the unit
comes back, so panels fill unit by unit.  A unit that raises (a lost
worker included) is resubmitted up to ``retries`` times, then its runs are
reported as failed; cancelling or interrupting cancels the units not yet back
and returns the finished ones.  The engine never starts or stops a cluster.
"""

from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.dask_link import (
    DaskLink,
    adapt_worker_malloc,
    dask_client,
    worker_emitter,
)
from nmi_jupyter.engine.errors import OptionError
from nmi_jupyter.engine.events import CancelToken, Event, Observer, RunEnded, event_from_dict
from nmi_jupyter.engine.plan import Plan, RunSpec
from nmi_jupyter.engine.run_state import (
    TrainOutcome,
    analysis_stop,
    failed_outcome,
    without_critic,
)
from nmi_jupyter.engine.runtime import resolve_device, torch_threads
from nmi_jupyter.engine.trainer import Trained, train_plan

__all__ = [
    "train",
    "WorkUnit",
    "UnitResult",
    "make_units",
    "run_unit",
    "run_on_executor",
    "check_executor",
    "describe",
    "DEFAULT_RETRIES",
]

DEFAULT_RETRIES = 2  # resubmissions of a failing unit before its runs are reported failed
_POLL_SECONDS = 0.1  # how often the wait loop looks at the cancel token


def train(
    plan: Plan,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    executor: Any = None,
    batched: bool = True,
    retries: int = DEFAULT_RETRIES,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
) -> Trained:
    """Train ``plan`` on ``xs``/``ys`` (all samples): in this process when ``executor``
    is None (on ``config.device``, with ``config.threads``), else as work units on it
    (:func:`run_on_executor`).  Same seeds, same numbers either way."""
    if executor is not None:
        return run_on_executor(
            executor,
            plan,
            xs,
            ys,
            batched=batched,
            retries=retries,
            observer=observer,
            cancel=cancel,
        )
    device = resolve_device(plan.config.device)
    with torch_threads(plan.config.threads, device) as threads:
        outcomes = train_plan(
            plan, xs, ys, device, batched=batched, observer=observer, cancel=cancel
        )
    return Trained(list(outcomes), analysis_stop(outcomes), str(device), threads)


@dataclass(frozen=True)
class WorkUnit:
    """Runs trained together on one worker: a part of a plan (picklable plain data)."""

    unit_id: int
    plan: Plan
    batched: bool


@dataclass(frozen=True)
class UnitResult:
    """What a worker sends back: outcomes in run order, the events it emitted."""

    unit_id: int
    outcomes: tuple[TrainOutcome, ...]
    events: tuple[Event, ...]
    device: str
    threads: int


def make_units(plan: Plan, batched: bool) -> list[WorkUnit]:
    """One unit per ``unit`` of the plan's runs, in unit order."""
    return [WorkUnit(i, part, batched) for i, part in enumerate(plan.units())]


def run_unit(
    unit: WorkUnit,
    data: tuple[np.ndarray, np.ndarray],
    topic: str | None = None,
    attempt: int = 1,
) -> UnitResult:
    """Train a unit's runs where this is called (a worker); ``data`` is (x, y), all rows.

    With ``topic`` (on a Dask worker) each event is also sent live to that topic.
    """
    adapt_worker_malloc()
    xs, ys = data
    events: list[Event] = []
    observe = events.append
    if topic is not None:
        emit = worker_emitter(topic, unit.unit_id, attempt)

        def observe(event: Event) -> None:
            events.append(event)
            emit(event)

    config = unit.plan.config
    device = resolve_device(config.device)
    with torch_threads(config.threads, device) as threads:
        outcomes = train_plan(unit.plan, xs, ys, device, batched=unit.batched, observer=observe)
    return UnitResult(
        unit.unit_id,
        tuple(without_critic(o) for o in outcomes),
        tuple(events),
        str(device),
        threads,
    )


def run_on_executor(
    executor: Any,
    plan: Plan,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    batched: bool = True,
    retries: int = DEFAULT_RETRIES,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
) -> Trained:
    """Train ``plan`` as work units on ``executor`` and gather the outcomes.

    Returns when every unit is back (or has failed ``retries + 1`` times), or at once
    when ``cancel`` is set or the caller is interrupted (KeyboardInterrupt): the units
    not back are cancelled and their runs are missing (None) from the outcomes.
    The observer is called on this thread only: events streamed live (Dask) as they
    arrive, the rest of a unit's events when it comes back.
    """
    link = _link(executor, xs, ys, stream=observer is not None)
    try:
        return _Gather(link, plan, batched, retries, observer).run(cancel)
    finally:
        link.close()


class _Gather:
    """The waiting loop of :func:`run_on_executor` and its bookkeeping."""

    def __init__(self, link, plan, batched, retries, observer) -> None:
        self.link, self.config, self.retries, self.observer = link, plan.config, retries, observer
        self.units = {u.unit_id: u for u in make_units(plan, batched)}
        self.position = {run.run_id: i for i, run in enumerate(plan.runs)}
        self.outcomes: list[TrainOutcome | None] = [None] * len(plan.runs)
        self.failures: dict[int, str] = {}
        self.attempts = dict.fromkeys(self.units, 0)
        self.delivered = dict.fromkeys(self.units, 0)  # events of this attempt observed
        self.finished: set[int] = set()
        self.pending: dict[cf.Future, int] = {}
        self.devices: list[str] = []
        self.threads: int | None = None

    def run(self, cancel: CancelToken | None) -> Trained:
        for unit_id in self.units:
            self.send(unit_id)
        if not self.pending:  # nothing could even be submitted: closed or broken
            raise OptionError(
                f"The executor accepted no work ({next(iter(self.failures.values()))}); "
                "start a new executor or client and run again."
            )
        stop_reason = "completed"
        try:
            while self.pending:
                if cancel is not None and cancel.cancelled:
                    stop_reason = "cancelled"
                    break
                done, _ = cf.wait(
                    list(self.pending), timeout=_POLL_SECONDS, return_when=cf.FIRST_COMPLETED
                )
                self.observe_streamed()
                for future in done:
                    self.collect(future)
        except KeyboardInterrupt:
            stop_reason = "interrupted"
        finally:
            for future in self.pending:
                future.cancel()
        device = ", ".join(self.devices) or "none"
        return Trained(self.outcomes, stop_reason, device, self.threads, self.failures)

    def send(self, unit_id: int) -> None:
        self.attempts[unit_id] += 1
        self.delivered[unit_id] = 0
        unit, link = self.units[unit_id], self.link
        try:
            future = link.submit(run_unit, unit, link.data, link.topic, self.attempts[unit_id])
        except Exception as exc:  # a broken pool or a closed client: report, do not raise
            self.fail(unit_id, exc)
        else:
            self.pending[future] = unit_id

    def fail(self, unit_id: int, exc: BaseException) -> None:
        why = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        self.finished.add(unit_id)  # late streamed events of this unit are ignored
        for run in self.units[unit_id].plan.runs:
            self.failures[run.run_id] = why
            self.outcomes[self.position[run.run_id]] = failed_outcome()
            self.notify(_failed_event(run, self.config))

    def collect(self, future: cf.Future) -> None:
        unit_id = self.pending.pop(future)
        try:
            result: UnitResult = future.result()
        except BaseException as exc:  # noqa: BLE001 - any failure of a remote unit
            if isinstance(exc, KeyboardInterrupt):
                raise
            if self.attempts[unit_id] <= self.retries:
                self.send(unit_id)
            else:
                self.fail(unit_id, exc)
            return
        self.observe_streamed()
        self.finished.add(unit_id)
        for run, outcome in zip(self.units[unit_id].plan.runs, result.outcomes, strict=False):
            self.outcomes[self.position[run.run_id]] = outcome
        if result.device not in self.devices:
            self.devices.append(result.device)
        self.threads = result.threads
        for event in result.events[self.delivered[unit_id] :]:
            self.notify(event)

    def observe_streamed(self) -> None:
        """Events workers sent live: each one once, in order, for the current attempt."""
        for message in self.link.drain():
            unit_id = message["unit"]
            if unit_id in self.finished or message["attempt"] != self.attempts[unit_id]:
                continue
            if message["seq"] == self.delivered[unit_id]:
                self.delivered[unit_id] += 1
                self.notify(event_from_dict(message))

    def notify(self, event: Event) -> None:
        if self.observer is not None:
            self.observer(event)


def _failed_event(run: RunSpec, config: EstimateConfig) -> RunEnded:
    nan = float("nan")
    return RunEnded(
        mi=nan,
        mi_val=nan,
        best_epoch=-1,
        epochs_run=0,
        stop_reason="failed",
        elapsed=0.0,
        units=config.units,
        **run.tags,
    )


class _PlainLink:
    """Any concurrent.futures executor: the data travel with each unit; no live stream."""

    topic = None

    def __init__(self, executor: cf.Executor, xs: np.ndarray, ys: np.ndarray) -> None:
        self.submit = executor.submit
        self.data = (xs, ys)

    def drain(self) -> list[dict]:
        return []

    def close(self) -> None:
        pass


def _link(executor: Any, xs: np.ndarray, ys: np.ndarray, stream: bool):
    client = dask_client(executor)
    if client is not None:
        return DaskLink(client, executor, xs, ys, stream=stream)
    check_executor(executor)
    return _PlainLink(executor, xs, ys)


def describe(executor: Any) -> str | None:
    """A short name for the settings record (no machine addresses); None in-process."""
    return None if executor is None else type(executor).__name__


def check_executor(executor: Any) -> None:
    """Raise an :class:`OptionError` before any training when ``executor`` cannot be used."""
    if executor is None or dask_client(executor) is not None:
        return
    if not isinstance(executor, cf.Executor):
        raise OptionError(
            "executor must be a concurrent.futures.Executor (a ProcessPoolExecutor, a Dask "
            f"Client or client.get_executor()), not {type(executor).__name__}."
        )
