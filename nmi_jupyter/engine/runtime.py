"""Where and how torch runs: device resolution, thread count, seeding."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import torch

from nmi_jupyter.engine.errors import OptionError

__all__ = [
    "resolve_device",
    "torch_threads",
    "draw_seed",
    "child_seeds",
    "seeded_init",
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


class _ThreadCount:
    """torch's thread count is per process: blocks that overlap in several threads share
    the first block's count, and the count in force before them comes back only when
    the last one ends (otherwise one analysis would reset another's count mid-run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._previous = 0
        self._current = 0

    def enter(self, wanted: int) -> int:
        with self._lock:
            if self._active == 0:
                self._previous = torch.get_num_threads()
                self._current = wanted
                torch.set_num_threads(wanted)
            self._active += 1
            return self._current

    def exit(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                torch.set_num_threads(self._previous)


_THREAD_COUNT = _ThreadCount()


@contextlib.contextmanager
def torch_threads(n: int | None, device: torch.device) -> Iterator[int]:
    """Run a block with ``n`` torch CPU threads (None: ``DEFAULT_CPU_THREADS`` on the CPU),
    then restore the previous count.  Yields the count in force (see :class:`_ThreadCount`
    for blocks running at the same time in several threads)."""
    if n is not None:
        wanted = n
    else:
        wanted = DEFAULT_CPU_THREADS if device.type == "cpu" else torch.get_num_threads()
    in_force = _THREAD_COUNT.enter(wanted)
    try:
        yield in_force
    finally:
        _THREAD_COUNT.exit()


# torch initialises layers from its global generator; two analyses training in
# threads of one process (a thread-pool executor, --background cells) must not
# interleave their seeding and drawing, or a run's initial weights depend on timing.
_GLOBAL_RNG = threading.Lock()


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build modules inside this block to initialise them from ``seed``, reproducibly
    and thread-safely; the global torch generator is left as it was."""
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def draw_seed() -> int:
    """A fresh random seed (recorded in the settings so the run can be repeated)."""
    return int(np.random.SeedSequence().generate_state(1)[0] % (2**31))


def child_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent seeds derived from ``seed`` (split, init, shuffling...)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count)]
