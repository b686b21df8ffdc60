"""Which runs a rigorous analysis trains, and training a list of them.

A :class:`RunPlan` is plain data (sample indices, seeds, tags): it can be cut
into work units and sent to other processes, and every place that trains runs
(in-process, or a worker of an executor) calls :func:`train_slots`, so a run
means the same thing wherever it is trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from nmi_jupyter.engine.batched import RunSpec, max_stack, train_batched
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.data import MIN_VALIDATION, gamma_chunks, master_order
from nmi_jupyter.engine.errors import InsufficientDataError
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.memory import check_score_memory
from nmi_jupyter.engine.results import STOPPED_REASONS
from nmi_jupyter.engine.rigorous_result import RunRecord
from nmi_jupyter.engine.runs import prepare_run, reported_history, reported_mi
from nmi_jupyter.engine.train import TrainOutcome

__all__ = [
    "Slot",
    "RunPlan",
    "plan_runs",
    "train_slots",
    "run_record",
    "analysis_stop",
    "enters_result",
    "failed_outcome",
    "check_chunk_size",
]


@dataclass(frozen=True)
class Slot:
    """Where a run of a rigorous analysis sits: its gamma, chunk, repeat and seed.

    ``run_id`` is the run's place in the whole analysis (events carry it), so it
    stays the same when the runs are split into work units.
    """

    run_id: int
    gamma: int
    chunk: int
    repeat: int
    seed: int
    index: np.ndarray  # the chunk's sample indices
    control: bool = False

    @property
    def n_samples(self) -> int:
        return len(self.index)


@dataclass(frozen=True)
class RunPlan:
    """Every run of an analysis; ``y_permutation`` breaks the pairs of control runs
    (their y rows are ``y[y_permutation[index]]``), None without controls."""

    slots: tuple[Slot, ...]
    y_permutation: np.ndarray | None = None


def run_seed(seed: int, gamma: int, chunk: int, repeat: int) -> int:
    return int(np.random.SeedSequence([seed, gamma, chunk, repeat]).generate_state(1)[0])


def plan_runs(
    n: int, gammas: Sequence[int], repeats: int, control: bool, config: EstimateConfig
) -> RunPlan:
    """One master order (seeded by ``config.seed``) cut into gamma chunks, ``repeats``
    runs per chunk; with ``control``, shuffled-pairs runs on chunks of N/2 and N/4 from
    the first half of the master order (about 10 % extra training)."""
    order = master_order(n, config.split, np.random.default_rng(config.seed))
    tags = [
        (gamma, chunk, repeat, run_seed(config.seed, gamma, chunk, repeat), idx, False)
        for gamma, chunks in gamma_chunks(order, gammas).items()
        for chunk, idx in enumerate(chunks)
        for repeat in range(repeats)
    ]
    permutation = None
    if control and chunk_trains(n // 4, config):
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 7]))
        permutation = rng.permutation(n)
        half = gamma_chunks(order[: 2 * (n // 4)], [1, 2])
        tags += [
            (2 * g, c, 0, run_seed(config.seed, 1000 + g, c, 0), idx, True)
            for g, chunks in half.items()
            for c, idx in enumerate(chunks)
        ]
    slots = tuple(Slot(run_id, *tag) for run_id, tag in enumerate(tags))
    return RunPlan(slots, permutation)


def train_slots(
    slots: Sequence[Slot],
    xs: np.ndarray,
    ys: np.ndarray,
    y_permutation: np.ndarray | None,
    config: EstimateConfig,
    device: torch.device,
    *,
    batched: bool = True,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
) -> list[TrainOutcome]:
    """Train ``slots`` on the rows of ``xs``/``ys`` they index; outcomes in slot order,
    stopping early (fewer outcomes) when cancelled or interrupted.

    The runs training when it stops end "cancelled"/"interrupted" with their best
    checkpoint so far (partial runs); a KeyboardInterrupt between runs adds one such
    outcome without an epoch, so the caller always learns that it stopped.
    """
    outcomes: list[TrainOutcome] = []
    try:
        prepared = []
        for slot in slots:
            y_rows = y_permutation[slot.index] if slot.control else slot.index
            prepared.append(prepare_run(xs[slot.index], ys[y_rows], config, slot.seed, device))
        if not batched:
            for slot, run in zip(slots, prepared, strict=True):
                outcomes.append(run.train(config, observer=observer, cancel=cancel, **_tags(slot)))
                if analysis_stop(outcomes) != "completed":
                    break
            return outcomes
        specs = [
            RunSpec(run.data, run.init_seed, run.shuffle_seed, **_tags(slot))
            for slot, run in zip(slots, prepared, strict=True)
        ]
        size = max_stack(config, config.batch_size)
        for k in range(0, len(specs), size):
            outcomes += train_batched(specs[k : k + size], config, observer=observer, cancel=cancel)
            if analysis_stop(outcomes) != "completed":
                break
    except KeyboardInterrupt:  # outside any run's training: the runs done so far stay
        if len(outcomes) < len(slots):
            outcomes.append(failed_outcome("interrupted"))
    return outcomes


def _tags(slot: Slot) -> dict:
    return {
        "run_id": slot.run_id,
        "gamma": slot.gamma,
        "chunk": slot.chunk,
        "control": slot.control,
    }


def without_critic(outcome: TrainOutcome) -> TrainOutcome:
    """The outcome without its torch module (what crosses a process boundary)."""
    return outcome if outcome.critic is None else replace(outcome, critic=None)


def run_record(slot: Slot, outcome: TrainOutcome, units: str) -> RunRecord:
    mi, mi_val = reported_mi(outcome, units)
    return RunRecord(
        gamma=slot.gamma,
        chunk=slot.chunk,
        repeat=slot.repeat,
        seed=slot.seed,
        n_samples=slot.n_samples,
        mi=mi,
        mi_val=mi_val,
        best_epoch=outcome.best_epoch,
        epochs_run=len(outcome.val),
        stop_reason=outcome.stop_reason,
        elapsed=outcome.elapsed,
        history=reported_history(outcome, units),
        partial=outcome.stop_reason in STOPPED_REASONS,
    )


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


def failed_outcome(reason: str = "failed") -> TrainOutcome:
    """The outcome of a run without a finished epoch: its work unit failed (left out of
    the fit and flagged), or it was interrupted before it began (left out)."""
    empty = np.empty(0)
    nan = float("nan")
    return TrainOutcome(empty, empty, empty, -1, reason, 0.0, nan, nan, critic=None)


def _chunk_sizes(chunk: int, config: EstimateConfig) -> tuple[int, int]:
    """(training, validation) samples of a chunk of ``chunk`` samples."""
    n_val = max(int(round(chunk * config.val_fraction)), 1)
    return chunk - n_val - (config.gap if config.split == "blocked" else 0), n_val


def chunk_trains(chunk: int, config: EstimateConfig) -> bool:
    n_train, n_val = _chunk_sizes(chunk, config)
    return n_val >= MIN_VALIDATION and n_train >= config.batch_size


def check_chunk_size(n: int, max_gamma: int, config: EstimateConfig) -> None:
    """Fail before training when the smallest chunks cannot hold a batch and a validation set,
    or one training step's score matrix would exceed the memory budget."""
    check_score_memory(config)
    chunk = n // max_gamma
    n_train, n_val = _chunk_sizes(chunk, config)
    if not chunk_trains(chunk, config):
        raise InsufficientDataError(
            f"With N = {n} samples, the gamma = {max_gamma} chunks hold {chunk} samples each: "
            f"{n_train} for training and {n_val} for validation, but a run needs at least "
            f"batch_size = {config.batch_size} and {MIN_VALIDATION}; use fewer gammas, a "
            "smaller batch_size or more data."
        )
