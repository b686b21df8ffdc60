"""Analyses as plans: plain data saying which runs to train, on which view of the data.

An analysis is a :class:`Plan`: its runs (:class:`RunSpec`, each a :class:`View` of
the data, a seed and labels) and the settings they share.  A plan holds numbers
and arrays only, so it can be cut into work units and sent to other processes.
One trainer trains any plan (:func:`trainer.train_plan`, or
:func:`distribute.train` in process or on an executor) and knows nothing of what
the analysis means; a reducer (:mod:`reduce`) turns the trained runs into a
result.  ``estimate`` and ``rigorous`` are the first two plans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.data import MIN_VALIDATION, gamma_chunks, master_order
from nmi_jupyter.engine.errors import InsufficientDataError
from nmi_jupyter.engine.memory import check_score_memory

__all__ = [
    "View",
    "RunSpec",
    "Plan",
    "estimate_plan",
    "rigorous_plan",
    "repeats_plan",
    "renumbered",
    "combined",
    "stack_key",
    "run_seed",
    "check_chunk_size",
    "chunk_sizes",
    "CONTROL_SEED_STREAM",
    "CONTROL_PERMUTATION_STREAM",
]

# Seed streams of the shuffled-pairs controls, apart from the analysis runs' (gamma,
# chunk, repeat) streams: the permutation that breaks the pairs, and each control
# run's seed, run_seed(seed, CONTROL_SEED_STREAM + k, chunk, 0) for chunks of N / 2k.
CONTROL_PERMUTATION_STREAM = 7
CONTROL_SEED_STREAM = 1000
# Seed stream of the repeated runs of a sweep point or a dimensionality curve:
# run_seed(seed, REPEAT_SEED_STREAM, 0, repeat).  Every grid point uses the same seeds,
# so its k-th run has the same train/validation split and minibatch order at every
# point (differences between points are the setting's, not the split's).
REPEAT_SEED_STREAM = 2000


@dataclass(frozen=True)
class View:
    """The data one run sees: sample ``rows`` of x (all, in order, when None) paired
    with rows ``y_rows`` of y (the same rows when None).  Other ``y_rows`` pair each
    x with another sample's y: a permutation breaks the pairs (a shuffled-pairs
    control, true MI 0), ``rows + lag`` pairs x with y ``lag`` samples later.
    ``x_columns``/``y_columns`` pick features (all when None)."""

    rows: np.ndarray | None = None
    y_rows: np.ndarray | None = None
    x_columns: tuple[int, ...] | None = None
    y_columns: tuple[int, ...] | None = None

    def n_samples(self, n: int) -> int:
        """Samples in this view of ``n`` samples."""
        return n if self.rows is None else len(self.rows)

    def apply(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (samples, features) arrays of this view; the data themselves when the
        view takes every row and column (no copy)."""
        y_rows = self.rows if self.y_rows is None else self.y_rows
        x = xs if self.rows is None else xs[self.rows]
        y = ys if y_rows is None else ys[y_rows]
        if self.x_columns is not None:
            x = x[:, list(self.x_columns)]
        if self.y_columns is not None:
            y = y[:, list(self.y_columns)]
        return x, y


@dataclass(frozen=True)
class RunSpec:
    """One run of a plan.

    ``run_id`` is its place in the whole plan (events and results carry it, so it
    stays when the plan is cut into work units); ``seed`` drives its split,
    initialisation and minibatch order; ``unit`` groups the runs that train together
    on one worker.  ``gamma``, ``chunk``, ``repeat`` and ``control`` label what the
    run means to the analysis (events carry gamma, chunk and control); the trainer
    does not read them.  ``config``: the run's own settings, when they are not the
    plan's (:func:`combined`: runs of several grid points in one plan).
    """

    run_id: int
    seed: int
    view: View = field(default_factory=View)
    unit: int = 0
    gamma: int | None = None
    chunk: int | None = None
    repeat: int = 0
    control: bool = False
    config: EstimateConfig | None = None

    @property
    def tags(self) -> dict:
        """The labels every event of this run carries."""
        return {
            "run_id": self.run_id,
            "gamma": self.gamma,
            "chunk": self.chunk,
            "control": self.control,
        }


@dataclass(frozen=True)
class Plan:
    """The runs of an analysis and the settings they share.

    ``config`` is the settings of every run that carries none of its own
    (``RunSpec.config``); its ``device`` and ``threads`` say where the whole plan trains.
    ``count_varying``: also count, per variable and partition, the samples off its
    most common value (for the degenerate-variable flag).
    """

    runs: tuple[RunSpec, ...]
    config: EstimateConfig
    count_varying: bool = False

    def config_of(self, run: RunSpec) -> EstimateConfig:
        """The settings ``run`` trains with: its own, else the plan's."""
        return self.config if run.config is None else run.config

    def units(self) -> list[Plan]:
        """The plan cut into work units (runs of equal ``unit``), in unit order."""
        groups: dict[int, list[RunSpec]] = {}
        for run in self.runs:
            groups.setdefault(run.unit, []).append(run)
        return [replace(self, runs=tuple(groups[key])) for key in sorted(groups)]


def estimate_plan(config: EstimateConfig) -> Plan:
    """One run on every sample, seeded by ``config.seed``."""
    return Plan((RunSpec(run_id=0, seed=config.seed),), config, count_varying=True)


def run_seed(seed: int, gamma: int, chunk: int, repeat: int) -> int:
    return int(np.random.SeedSequence([seed, gamma, chunk, repeat]).generate_state(1)[0])


def rigorous_plan(
    n: int, gammas: Sequence[int], repeats: int, control: bool, config: EstimateConfig
) -> Plan:
    """One master order (seeded by ``config.seed``) cut into gamma chunks, ``repeats``
    runs per chunk, one work unit per gamma; with ``control``, shuffled-pairs runs
    (y rows permuted) on one chunk of N/2 and two of N/4 from the first half of the
    master order (about 10 % extra training), labelled gamma 2 and 4 (their share of
    the data) so that they extrapolate like the analysis, in one more unit."""
    order = master_order(n, config.split, np.random.default_rng(config.seed))
    unit = {gamma: k for k, gamma in enumerate(sorted(gammas))}
    runs = [
        {
            "seed": run_seed(config.seed, gamma, chunk, repeat),
            "view": View(rows),
            "unit": unit[gamma],
            "gamma": gamma,
            "chunk": chunk,
            "repeat": repeat,
        }
        for gamma, chunks in gamma_chunks(order, gammas).items()
        for chunk, rows in enumerate(chunks)
        for repeat in range(repeats)
    ]
    if control and chunk_trains(n // 4, config):
        stream = np.random.SeedSequence([config.seed, CONTROL_PERMUTATION_STREAM])
        permutation = np.random.default_rng(stream).permutation(n)
        for k, chunks in gamma_chunks(order[: 2 * (n // 4)], [1, 2]).items():
            runs += [
                {
                    "seed": run_seed(config.seed, CONTROL_SEED_STREAM + k, chunk, 0),
                    "view": View(rows, y_rows=permutation[rows]),
                    "unit": len(unit),
                    "gamma": 2 * k,
                    "chunk": chunk,
                    "control": True,
                }
                for chunk, rows in enumerate(chunks)
            ]
    return Plan(tuple(RunSpec(run_id, **run) for run_id, run in enumerate(runs)), config)


def repeats_plan(config: EstimateConfig, views: Sequence[View], *, first_run_id: int = 0) -> Plan:
    """One run on every sample per view (``repeat`` k on ``views[k]``, seeded by
    ``run_seed(config.seed, REPEAT_SEED_STREAM, 0, k)``), labelled gamma 1, chunk 0.

    A sweep point's repeated estimates are ``views = [View()] * repeats``; the internal
    dimensionality of one population gives each repeat its own random halves of the
    channels.  Runs are numbered from ``first_run_id`` so that the plans of one
    analysis (one per grid point) never share a run id in the events."""
    runs = tuple(
        RunSpec(
            run_id=first_run_id + k,
            seed=run_seed(config.seed, REPEAT_SEED_STREAM, 0, k),
            view=view,
            gamma=1,
            chunk=0,
            repeat=k,
        )
        for k, view in enumerate(views)
    )
    return Plan(runs, config)


def renumbered(plan: Plan, first_run_id: int) -> Plan:
    """``plan`` with its runs numbered from ``first_run_id`` (several plans of one
    analysis, trained one after another, keep distinct run ids in the events)."""
    runs = tuple(replace(run, run_id=first_run_id + k) for k, run in enumerate(plan.runs))
    return replace(plan, runs=runs)


def combined(plans: Sequence[Plan]) -> Plan:
    """``plans`` as one plan, their runs in order, each run carrying its own plan's
    settings where they differ from the first plan's (the combined plan's ``config``);
    run ids and work units stay as they are (number the plans apart first, see
    :func:`renumbered`).  The trainer stacks consecutive runs whose settings share a
    :func:`stack_key`, so runs of grid points that differ only in ``embedding_dim``
    train together."""
    first = plans[0].config
    runs = tuple(
        run if plan.config_of(run) == first else replace(run, config=plan.config_of(run))
        for plan in plans
        for run in plan.runs
    )
    return Plan(runs, first, count_varying=any(plan.count_varying for plan in plans))


def stack_key(config: EstimateConfig) -> tuple:
    """What runs stacked together must share: every setting but ``embedding_dim`` (the
    stacked trainer zero-pads narrower embeddings to the widest, see
    :func:`~nmi_jupyter.engine.batched.train_batched`)."""
    return tuple((k, v) for k, v in config.to_dict().items() if k != "embedding_dim")


def chunk_sizes(chunk: int, config: EstimateConfig) -> tuple[int, int]:
    """(training, validation) samples of a chunk of ``chunk`` samples."""
    n_val = max(int(round(chunk * config.val_fraction)), 1)
    return chunk - n_val - (config.gap if config.split == "blocked" else 0), n_val


def chunk_trains(chunk: int, config: EstimateConfig) -> bool:
    n_train, n_val = chunk_sizes(chunk, config)
    return n_val >= MIN_VALIDATION and n_train >= config.batch_size


def check_chunk_size(n: int, max_gamma: int, config: EstimateConfig) -> None:
    """Fail before training when the smallest chunks cannot hold a batch and a validation set,
    or one training step's score matrix would exceed the memory budget."""
    check_score_memory(config)
    chunk = n // max_gamma
    n_train, n_val = chunk_sizes(chunk, config)
    if not chunk_trains(chunk, config):
        raise InsufficientDataError(
            f"With N = {n} samples, the gamma = {max_gamma} chunks hold {chunk} samples each: "
            f"{n_train} for training and {n_val} for validation, but a run needs at least "
            f"batch_size = {config.batch_size} and {MIN_VALIDATION}; use fewer gammas, a "
            "smaller batch_size or more data."
        )
