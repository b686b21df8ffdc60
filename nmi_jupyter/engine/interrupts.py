"""Keeping a stopped computation's work safe from a second Ctrl-C.

When training stops (a cancel, or the first KeyboardInterrupt), the engine still
has to turn each run's best checkpoint into numbers and fit them: a second Ctrl-C
in that clean-up used to lose everything.  :func:`deferred_interrupts` holds
SIGINT for the length of such a block.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DeferredInterrupts", "deferred_interrupts", "call_quietly"]


class DeferredInterrupts:
    """What :func:`deferred_interrupts` saw: ``count`` SIGINTs held back."""

    def __init__(self) -> None:
        self.count = 0

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    def _record(self, signum: int, frame: Any) -> None:
        self.count += 1


@contextmanager
def deferred_interrupts() -> Iterator[DeferredInterrupts]:
    """Hold SIGINT (Ctrl-C, a Jupyter interrupt) while the block runs; restore the
    previous handler after it, raising nothing: the caller reads ``interrupted``.

    Acts only in the main thread and only while Python's own handler (the one that
    raises KeyboardInterrupt) is installed, so a host's own SIGINT policy, an outer
    deferral and other threads are left alone.  Keep the block short: nothing can
    interrupt it.
    """
    held = DeferredInterrupts()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield held
        return
    previous = signal.signal(signal.SIGINT, held._record)
    try:
        yield held
    finally:
        signal.signal(signal.SIGINT, previous)


def call_quietly(function: Callable[..., Any], *args: Any) -> bool:
    """Call ``function`` (an observer) while a stopped computation cleans up; a
    KeyboardInterrupt it raises is dropped (training has already stopped) and
    reported as True."""
    try:
        function(*args)
    except KeyboardInterrupt:
        return True
    return False
