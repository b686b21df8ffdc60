"""Where and how torch runs: device resolution, thread count, seeding."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from nmi_jupyter.engine.errors import OptionError

__all__ = [
    "resolve_device",
    "torch_threads",
    "draw_seed",
    "child_seeds",
    "DEFAULT_CPU_THREADS",
]

# Small critics are latency-bound.  On a busy 2-core machine one thread was
# measured ~10x faster than two for one run, and a small batched matmul took
# 7.8 ms on 2 threads against 0.03 ms on 1 while the other core was busy (OpenMP
# threads wait for a core).  On a quiet machine 2 threads ran a batched rigorous
# analysis 1.3x faster (benchmarks/speed.py): worth asking for with threads=2,
# not worth the risk as a default.
DEFAULT_CPU_THREADS = 1


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"device={name!r} was requested but no CUDA GPU is available here.")
    return torch.device(name)


@contextlib.contextmanager
def torch_threads(n: int | None, device: torch.device) -> Iterator[int]:
    """Run a block with ``n`` torch CPU threads (None: ``DEFAULT_CPU_THREADS`` on the CPU),
    then restore the previous count."""
    previous = torch.get_num_threads()
    if n is not None:
        wanted = n
    else:
        wanted = DEFAULT_CPU_THREADS if device.type == "cpu" else previous
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
