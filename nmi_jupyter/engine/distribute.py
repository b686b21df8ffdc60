"""Rigorous runs as work units on a ``concurrent.futures.Executor``.

A work unit is the runs of one gamma (all its chunks and repeats), or the
shuffled-pairs controls: about equal work each (every gamma's chunks cover the
data once), and enough runs for the batched trainer to stack them on the
worker.  A unit carries only plain data (config, sample indices, seeds) and the
function that trains it is importable, so any executor can run it: a local
``ProcessPoolExecutor``, a Dask ``Client`` or its ``get_executor()``.  With Dask
the data are scattered once and each worker fetches them once; other executors
get the data with each unit (one per gamma, never one per run).

Events are recorded on the worker and replayed to the observer, in order, when
the unit comes back, so panels fill unit by unit.  A unit that raises (a lost
worker included) is resubmitted up to ``retries`` times, then its runs are
reported as failed; cancelling or interrupting cancels the units not yet back
and returns the finished ones.  The engine never starts or stops a cluster.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.errors import OptionError
from nmi_jupyter.engine.events import CancelToken, Event, Observer, RunEnded
from nmi_jupyter.engine.plan import RunPlan, Slot, train_slots, without_critic
from nmi_jupyter.engine.runtime import resolve_device, torch_threads
from nmi_jupyter.engine.train import TrainOutcome

__all__ = [
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


@dataclass(frozen=True)
class WorkUnit:
    """Runs trained together on one worker (picklable plain data)."""

    unit_id: int
    slots: tuple[Slot, ...]
    config: EstimateConfig
    batched: bool
    y_permutation: np.ndarray | None


@dataclass(frozen=True)
class UnitResult:
    """What a worker sends back: outcomes in slot order, the events it emitted."""

    unit_id: int
    outcomes: tuple[TrainOutcome, ...]
    events: tuple[Event, ...]
    device: str
    threads: int
    host: str


@dataclass(frozen=True)
class DistributedOutcome:
    """Outcomes aligned with the plan's slots (None: not trained), and how it went."""

    outcomes: list[TrainOutcome | None]
    failures: dict[int, str]  # run_id -> why its unit failed
    stop_reason: str  # completed, cancelled or interrupted
    devices: tuple[str, ...]
    threads: int | None
    attempts: dict[int, int] = field(default_factory=dict)  # unit_id -> submissions


def make_units(plan: RunPlan, config: EstimateConfig, batched: bool) -> list[WorkUnit]:
    """One unit per gamma (analysis runs) plus one for the controls, gamma 1 first."""
    groups: dict[tuple[bool, int], list[Slot]] = {}
    for slot in plan.slots:
        key = (slot.control, 0 if slot.control else slot.gamma)
        groups.setdefault(key, []).append(slot)
    return [
        WorkUnit(i, tuple(slots), config, batched, plan.y_permutation if key[0] else None)
        for i, (key, slots) in enumerate(sorted(groups.items()))
    ]


def run_unit(unit: WorkUnit, data: tuple[np.ndarray, np.ndarray]) -> UnitResult:
    """Train a unit's runs where this is called (a worker); ``data`` is (x, y), all rows."""
    import socket

    xs, ys = data
    events: list[Event] = []
    device = resolve_device(unit.config.device)
    with torch_threads(unit.config.threads, device) as threads:
        outcomes = train_slots(
            unit.slots,
            xs,
            ys,
            unit.y_permutation,
            unit.config,
            device,
            batched=unit.batched,
            observer=events.append,
        )
    return UnitResult(
        unit.unit_id,
        tuple(without_critic(o) for o in outcomes),
        tuple(events),
        str(device),
        threads,
        socket.gethostname(),
    )


def run_on_executor(
    executor: Any,
    plan: RunPlan,
    xs: np.ndarray,
    ys: np.ndarray,
    config: EstimateConfig,
    *,
    batched: bool = True,
    retries: int = DEFAULT_RETRIES,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
) -> DistributedOutcome:
    """Train ``plan`` as work units on ``executor`` and gather the outcomes.

    Returns when every unit is back (or has failed ``retries + 1`` times), or at once
    when ``cancel`` is set or the caller is interrupted (KeyboardInterrupt): the units
    not back are cancelled and their runs are missing (None) from the outcomes.
    """
    submit, data = _submitter(executor, xs, ys)
    units = {u.unit_id: u for u in make_units(plan, config, batched)}
    position = {slot.run_id: i for i, slot in enumerate(plan.slots)}
    outcomes: list[TrainOutcome | None] = [None] * len(plan.slots)
    failures: dict[int, str] = {}
    attempts = dict.fromkeys(units, 0)
    devices: list[str] = []
    threads = None
    stop_reason = "completed"

    pending: dict[cf.Future, int] = {}

    def send(unit_id: int) -> None:
        attempts[unit_id] += 1
        try:
            pending[submit(run_unit, units[unit_id], data)] = unit_id
        except Exception as exc:  # a broken pool or a closed client: report, do not raise
            fail(unit_id, exc)

    def fail(unit_id: int, exc: BaseException) -> None:
        why = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        for slot in units[unit_id].slots:
            failures[slot.run_id] = why
            if observer is not None:
                observer(_failed_event(slot, config, why))

    for unit_id in units:
        send(unit_id)
    if not pending:  # nothing could even be submitted: the executor is closed or broken
        raise OptionError(
            f"The executor accepted no work ({next(iter(failures.values()))}); "
            "start a new executor or client and run again."
        )
    try:
        while pending:
            if cancel is not None and cancel.cancelled:
                stop_reason = "cancelled"
                break
            done, _ = cf.wait(list(pending), timeout=_POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
            for future in done:
                unit_id = pending.pop(future)
                try:
                    result: UnitResult = future.result()
                except BaseException as exc:  # noqa: BLE001 - any failure of a remote unit
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    if attempts[unit_id] <= retries:
                        send(unit_id)
                    else:
                        fail(unit_id, exc)
                    continue
                for slot, outcome in zip(units[unit_id].slots, result.outcomes, strict=False):
                    outcomes[position[slot.run_id]] = outcome
                if result.device not in devices:
                    devices.append(result.device)
                threads = result.threads
                if observer is not None:
                    for event in result.events:
                        observer(event)
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    finally:
        for future in pending:
            future.cancel()
    return DistributedOutcome(outcomes, failures, stop_reason, tuple(devices), threads, attempts)


def _failed_event(slot: Slot, config: EstimateConfig, why: str) -> RunEnded:
    nan = float("nan")
    return RunEnded(
        run_id=slot.run_id,
        mi=nan,
        mi_val=nan,
        best_epoch=-1,
        epochs_run=0,
        stop_reason="failed",
        elapsed=0.0,
        units=config.units,
        gamma=slot.gamma,
        chunk=slot.chunk,
        control=slot.control,
    )


def _submitter(executor: Any, xs: np.ndarray, ys: np.ndarray) -> tuple[Callable, Any]:
    """(submit(fn, *args) -> concurrent.futures.Future, the data argument).

    Dask: the data are scattered once to every worker (``broadcast``: a lost worker
    does not take the only copy with it) and units are submitted with ``pure=False``
    so a resubmission really runs again.
    """
    client = _dask_client(executor)
    if client is not None:
        kwargs = dict(getattr(executor, "_kwargs", {}))
        kwargs["pure"] = False
        data = client.scatter((xs, ys), broadcast=True, hash=False)
        return client.get_executor(**kwargs).submit, data
    check_executor(executor)
    return executor.submit, (xs, ys)


def _dask_client(executor: Any) -> Any:
    """The Dask distributed Client behind ``executor``, or None."""
    if not type(executor).__module__.startswith("distributed"):
        return None
    if hasattr(executor, "scatter") and hasattr(executor, "get_executor"):
        return executor  # a Client
    return getattr(executor, "_client", None)  # a ClientExecutor


def describe(executor: Any) -> str | None:
    """A short name for the settings record (no machine addresses); None in-process."""
    return None if executor is None else type(executor).__name__


def check_executor(executor: Any) -> None:
    """Raise an :class:`OptionError` before any training when ``executor`` cannot be used."""
    if executor is None or _dask_client(executor) is not None:
        return
    if not isinstance(executor, cf.Executor):
        raise OptionError(
            "executor must be a concurrent.futures.Executor (a ProcessPoolExecutor, a Dask "
            f"Client or client.get_executor()), not {type(executor).__name__}."
        )
