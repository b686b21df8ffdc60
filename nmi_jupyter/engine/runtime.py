"""Where and how torch runs: device resolution, thread count, seeding."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import torch

from nmi_jupyter.engine.errors import OptionError

__all__ = [
    "resolve_device",
    "torch_threads",
    "default_threads",
    "draw_seed",
    "child_seeds",
    "DEFAULT_CPU_THREADS",
]

# One small MLP critic is latency-bound: on a busy 2-core machine one thread was
# measured ~10x faster than two, and 1.25x on a quiet one (thread hand-off costs
# more than the tiny matmuls save).  benchmarks/bench_estimate.py re-measures it.
DEFAULT_CPU_THREADS = 1
# A stack of runs (batched trainer) does large batched matmuls that do use more
# cores: 2 threads ran a rigorous analysis 1.16x faster than 1 on 2 cores
# (benchmarks/speed.py).  Capped because many threads on tiny per-run matrices
# were not measured here.
MAX_BATCHED_THREADS = 4


def default_threads(batched: bool) -> int:
    """Torch CPU threads to use when the user did not choose: 1 for one run, the
    available cores (at most MAX_BATCHED_THREADS) for a stack of runs."""
    if not batched:
        return DEFAULT_CPU_THREADS
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_BATCHED_THREADS))


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"device={name!r} was requested but no CUDA GPU is available here.")
    return torch.device(name)


@contextlib.contextmanager
def torch_threads(n: int | None, device: torch.device, batched: bool = False) -> Iterator[int]:
    """Run a block with ``n`` torch CPU threads (None: :func:`default_threads`), then restore."""
    previous = torch.get_num_threads()
    wanted = (
        n if n is not None else (default_threads(batched) if device.type == "cpu" else previous)
    )
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(previous)


def draw_seed() -> int:
    """A fresh random seed (recorded in the settings so the run can be repeated)."""
    return int(np.random.SeedSequence().generate_state(1)[0] % (2**31))


def child_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent seeds derived from ``seed`` (split, init, shuffling...)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count)]
