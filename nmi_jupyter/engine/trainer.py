"""The one trainer: any plan's runs, trained in this process.

Runs whose data have the same widths share stacks (:func:`batched.train_batched`,
consecutive runs of the plan, as many as fit in memory), also runs whose settings
differ only in ``embedding_dim`` (zero-padded to the widest); otherwise, with
``batched=False``, or on windows (3-D data, for a sequence encoder), runs train one
after another (:func:`train.train_run`).  Both
paths keep one :class:`~nmi_jupyter.engine.run_state.RunState` per run, so a run
means the same thing wherever it trains.  The executor path
(:mod:`distribute`) trains a plan's work units through :func:`train_plan` on
its workers.  Nothing here knows what an analysis means.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from nmi_jupyter.engine.batched import cpu_stack, max_stack, train_batched
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.plan import Plan, stack_key
from nmi_jupyter.engine.run_state import TrainOutcome, analysis_stop, failed_outcome
from nmi_jupyter.engine.runs import PreparedRun, prepare_view
from nmi_jupyter.engine.train import train_run

__all__ = ["Trained", "train_plan", "stacks"]


@dataclass(frozen=True)
class Trained:
    """A plan's trained runs: ``outcomes`` aligned with ``plan.runs`` (shorter, or None
    for a run not trained, when training stopped early; a failed work unit's runs have
    :func:`~nmi_jupyter.engine.run_state.failed_outcome`), and how it went."""

    outcomes: list[TrainOutcome | None]
    stop_reason: str  # completed, cancelled or interrupted
    device: str  # where the runs trained ("none" when nothing came back)
    threads: int | None
    failures: dict[int, str] = field(default_factory=dict)  # run_id -> why its unit failed


def train_plan(
    plan: Plan,
    xs: np.ndarray,
    ys: np.ndarray,
    device: torch.device,
    *,
    batched: bool = True,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
) -> list[TrainOutcome]:
    """Train ``plan``'s runs on their views of ``xs``/``ys`` (all samples), each with its
    own settings (:meth:`Plan.config_of`); outcomes in plan order, stopping early (fewer
    outcomes) when cancelled or interrupted.

    The runs training when it stops end "cancelled"/"interrupted" with their best
    checkpoint so far (partial runs); a KeyboardInterrupt between runs adds one such
    outcome without an epoch, so the caller always learns that it stopped.
    """
    # Windows (3-D data, for a sequence encoder) train one run after another: the stacked
    # trainer's critics are MLPs on (samples, features).  Same seeds, same runs.
    batched = batched and xs.ndim == 2 and ys.ndim == 2
    outcomes: list[TrainOutcome] = []
    try:
        prepared = [
            prepare_view(spec, xs, ys, plan.config_of(spec), device, plan.count_varying)
            for spec in plan.runs
        ]
        for group in stacks(prepared, None if batched else 1):
            config = group[0].config or plan.config
            if batched:
                outcomes += train_batched(group, config, observer=observer, cancel=cancel)
            else:
                outcomes.append(train_run(group[0], config, observer=observer, cancel=cancel))
            if analysis_stop(outcomes) != "completed":
                break
    except KeyboardInterrupt:  # outside any run's training: the runs done so far stay
        if len(outcomes) < len(plan.runs):
            outcomes.append(failed_outcome("interrupted"))
    return outcomes


def stacks(runs: Sequence[PreparedRun], limit: int | None) -> Iterator[list[PreparedRun]]:
    """``runs`` cut, in order, into stacks of consecutive runs whose inputs have the same
    widths and whose settings differ at most in ``embedding_dim`` (the stacked critics
    share their shapes once the narrower embeddings are zero-padded), at most ``limit``
    runs each (None: as many as fit in memory, :func:`~batched.max_stack` of the
    stack's settings, and on a CPU :func:`~batched.cpu_stack`)."""
    group: list[PreparedRun] = []
    cap = 0
    for run in runs:
        if group and (len(group) == cap or _shape(run) != _shape(group[0])):
            yield group
            group = []
        if not group:
            cap = limit if limit is not None else _stack_limit(run)
        group.append(run)
    if group:
        yield group


def _stack_limit(run: PreparedRun) -> int:
    config, device = run.config, run.data.x_train.device
    block = config.batch_size
    return min(max_stack(config, block), cpu_stack(config, block, device))


def _shape(run: PreparedRun) -> tuple:
    widths = run.data.x_train.shape[1], run.data.y_train.shape[1]
    return widths, None if run.config is None else stack_key(run.config)
