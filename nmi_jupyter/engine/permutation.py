"""The public call ``permutation_test``: is there any information at all?

One plan: the observed run (every sample, as ``nmi.estimate`` trains it, with the
same seed) and ``permutations`` null runs, each on the same x paired with rows of y
that break the pairing (``View.y_rows``): a random permutation for i.i.d. samples, a
circular shift or a permutation of blocks for time series (which keep y's own
autocorrelation, as independence of two time series requires).  Every run has the
same settings (epochs, early stopping, batch size, ...), so the observed statistic
and the null ones are exchangeable when X and Y are independent: that is what makes
the p-value valid, and why the null runs can never be trained more cheaply than the
observed one.  All runs share their widths, so the batched trainer stacks them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from nmi_jupyter import __version__
from nmi_jupyter.engine.config import (
    EstimateConfig,
    check_call,
    check_option_names,
    make_config,
    split_options,
)
from nmi_jupyter.engine.data import check_pair
from nmi_jupyter.engine.distribute import check_executor
from nmi_jupyter.engine.errors import InsufficientDataError, InvalidDataError, OptionError
from nmi_jupyter.engine.events import CancelToken, Observer
from nmi_jupyter.engine.interrupts import deferred_interrupts
from nmi_jupyter.engine.options import DEFAULT_PERMUTATIONS, OPTIONS, analysis_options
from nmi_jupyter.engine.permutation_result import PermutationResult
from nmi_jupyter.engine.plan import Plan, RunSpec, View, run_seed
from nmi_jupyter.engine.reduce import run_record
from nmi_jupyter.engine.run_state import enters_result
from nmi_jupyter.engine.sweep import copula_marginals, seeded, train_checked
from nmi_jupyter.engine.trainer import Trained

__all__ = [
    "permutation_test",
    "permutation_plan",
    "null_rows",
    "reduce_permutation",
    "default_block_size",
]

PERMUTATION_OPTIONS = analysis_options("permutation_test")
# Seed streams of the null runs (run_seed(seed, NULL_SEED_STREAM, 0, k)) and of the
# permutations or shifts that make their pairs.
NULL_SEED_STREAM = 4000
NULL_ROWS_STREAM = 4001
# Runs per work unit on an executor.
RUNS_PER_UNIT = 50
# The most bytes the null runs' row orders may take (permutations * N int64).
NULL_ROWS_BUDGET = 2**30
# block_size None: N // BLOCKS_BY_DEFAULT samples (20 blocks; shifts of 5-95 % of N).
BLOCKS_BY_DEFAULT = 20


def default_block_size(n: int) -> int:
    """The block (and smallest circular shift) when none is given: N / 20 samples."""
    return max(1, n // BLOCKS_BY_DEFAULT)


def null_rows(n: int, permutations: int, null: str, block: int, seed: int) -> list[np.ndarray]:
    """The y rows of each null run (seeded by ``seed``): ``permute``, a random
    permutation of the ``n`` rows; ``circular``, the rows shifted circularly by a
    random offset in [block, n - block]; ``block``, the rows cut into blocks of
    ``block`` samples (the last one shorter) put in a random order."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, NULL_ROWS_STREAM]))
    rows = np.arange(n)
    out = []
    if null == "block":
        blocks = [rows[start : start + block] for start in range(0, n, block)]
    for _ in range(permutations):
        if null == "permute":
            out.append(rng.permutation(n))
        elif null == "circular":
            out.append(np.roll(rows, -int(rng.integers(block, n - block + 1))))
        else:
            order = rng.permutation(len(blocks))
            out.append(np.concatenate([blocks[k] for k in order]))
    return out


def check_permutations(n: int, permutations: int) -> None:
    """The plan holds every null run's row order (``permutations * n`` integers): refuse
    a count whose orders alone would pass :data:`NULL_ROWS_BUDGET` bytes."""
    need = permutations * n * np.dtype(np.int64).itemsize
    if need > NULL_ROWS_BUDGET:
        most = max(1, NULL_ROWS_BUDGET // (n * np.dtype(np.int64).itemsize))
        raise OptionError(
            f"permutations = {permutations} null runs of {n} samples would need "
            f"{need / 2**30:.3g} GiB for their row orders alone, before any training; use at "
            f"most {most} (999 give p-values down to 0.001)."
        )


def check_block(n: int, null: str, block: int) -> None:
    """A circular shift needs room for shifts of at least ``block`` both ways, a block
    permutation at least two blocks: ``block <= n / 2``."""
    if null != "permute" and 2 * block > n:
        raise InsufficientDataError(
            f"null='{null}' with block_size = {block} needs at least {2 * block} samples "
            f"(two blocks), not {n}; use a smaller block_size."
        )


def permutation_plan(
    n: int, config: EstimateConfig, permutations: int, null: str, block: int
) -> Plan:
    """Run 0: the observed pairs, seeded by ``config.seed`` (as ``nmi.estimate`` seeds
    its run); runs 1..P: the null pairs of :func:`null_rows`, each with its own seed,
    labelled ``control`` (a shuffled-pairs run) with ``repeat`` k."""
    runs = [RunSpec(run_id=0, seed=config.seed, gamma=1, chunk=0)]
    for k, rows in enumerate(null_rows(n, permutations, null, block, config.seed), start=1):
        runs.append(
            RunSpec(
                run_id=k,
                seed=run_seed(config.seed, NULL_SEED_STREAM, 0, k),
                view=View(y_rows=rows),
                unit=k // RUNS_PER_UNIT,
                gamma=1,
                chunk=0,
                repeat=k,
                control=True,
            )
        )
    return Plan(tuple(runs), config)


def reduce_permutation(
    plan: Plan,
    trained: Trained,
    *,
    permutations: int,
    null: str,
    block: int,
    n_samples: int,
    settings: dict[str, Any],
    elapsed: float,
) -> PermutationResult:
    """The :class:`PermutationResult` of a :func:`permutation_plan`: the observed run's
    record (None when it gave nothing) and the null runs' records."""
    units = plan.config.units
    observed, nulls = None, []
    for spec, outcome in zip(plan.runs, trained.outcomes, strict=False):
        if not enters_result(outcome):
            continue
        record = run_record(spec, outcome, units)
        if spec.control:
            nulls.append(record)
        else:
            observed = record
    return PermutationResult(
        observed=observed,
        null_runs=tuple(nulls),
        permutations=permutations,
        null_kind=null,
        block_size=block,
        units=units,
        settings=settings,
        n_samples=n_samples,
        stop_reason=trained.stop_reason,
        elapsed=elapsed,
        device=trained.device,
        version=__version__,
    )


def permutation_test(
    x: Any,
    y: Any,
    permutations: int = DEFAULT_PERMUTATIONS,
    *,
    null: str = "permute",
    block_size: int | None = None,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> PermutationResult:
    """A permutation p-value for "X and Y share no information".

    The observed MI (one run on the paired samples, seeded as ``nmi.estimate`` with the
    same options) is compared with ``permutations`` null runs on pairs whose link is
    broken; ``p_value = (1 + #{null >= observed}) / (1 + permutations)``, never below
    ``1 / (permutations + 1)`` (0.005 for 199).  The null runs are trained exactly as the
    observed one (same epochs, early stopping and every other option): a test with
    cheaper null runs would compare unlike statistics and be invalid.  So the test
    costs ``permutations + 1`` runs, trained batched as one vectorised model; use
    fewer epochs for all runs alike, or fewer permutations (19 gives p >= 0.05), to make
    it cheaper.

    Args:
        x, y: paired samples, as for :func:`~nmi_jupyter.estimate`.
        permutations: null runs (>= 1).
        null: ``"permute"`` (default; i.i.d. samples), ``"circular"`` (time series: y
            shifted circularly by a random offset of at least ``block_size`` samples
            each way) or ``"block"`` (time series: y's blocks of ``block_size`` samples
            in a random order).  For a time series, ``permute`` destroys the
            autocorrelation that makes chance MI larger, so its p-values come out too
            small (flagged with ``split="blocked"``).
        block_size: the smallest shift or the block length (default N // 20); make it
            longer than the autocorrelation time of the series.
        observer, cancel: as for :func:`~nmi_jupyter.rigorous`; the null runs' events
            are marked ``control``.
        **options: the options of every run (``epochs``, ``estimator``, ``seed``, ...),
            and ``batched``, ``executor``, ``retries``.

    Returns:
        A :class:`~nmi_jupyter.PermutationResult` (``.mi``, ``.null``, ``.p_value``).
    """
    check_call(config, observer, cancel)
    check_option_names(options, PERMUTATION_OPTIONS)
    permutations = OPTIONS["permutations"].check(permutations)
    null = OPTIONS["null"].check(null)
    block_size = OPTIONS["block_size"].check(block_size)
    run, checked = split_options(options)
    config = seeded(make_config(config, **run))
    executor = checked.get("executor")
    check_executor(executor)
    if y is None:
        raise InvalidDataError(
            "A permutation test needs y, the variable whose pairing with x it tests; for the "
            "channels of x among themselves use nmi.pairwise(x)."
        )
    xs, ys = copula_marginals(*check_pair(x, y, config.embedding), config)
    n = len(xs)
    block = default_block_size(n) if block_size is None else block_size
    check_block(n, null, block)
    check_permutations(n, permutations)
    plan = permutation_plan(n, config, permutations, null, block)
    start = time.perf_counter()
    trained, where = train_checked(plan, xs, ys, checked, observer, cancel)
    settings = {**config.to_dict(), **where}
    with deferred_interrupts():
        return reduce_permutation(
            plan,
            trained,
            permutations=permutations,
            null=null,
            block=block,
            n_samples=n,
            settings=settings,
            elapsed=time.perf_counter() - start,
        )
