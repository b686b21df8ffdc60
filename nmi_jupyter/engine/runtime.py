"""Where and how torch runs: device resolution, thread count, seeding."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from nmi_jupyter.engine.errors import OptionError

__all__ = ["resolve_device", "torch_threads", "draw_seed", "child_seeds", "DEFAULT_CPU_THREADS"]

# Small MLP critics are latency-bound: on a busy 2-core machine one thread was
# measured ~10x faster than two (thread hand-off costs more than the tiny matmuls
# save).  benchmarks/bench_estimate.py re-measures this.
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
    """Run a block with ``n`` torch CPU threads (default chosen for small models), then restore."""
    previous = torch.get_num_threads()
    wanted = n if n is not None else (DEFAULT_CPU_THREADS if device.type == "cpu" else previous)
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
