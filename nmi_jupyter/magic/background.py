"""Training in a worker thread so the notebook (and the panel's Stop button) stay live."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

from nmi_jupyter.engine.events import CancelToken

__all__ = ["BackgroundRun"]


class BackgroundRun:
    """A handle on an analysis running in a worker thread.

    ``.done`` tells whether it ended, ``.wait()`` blocks until it does and returns
    the result, ``.result()`` returns it (or raises if it is still running),
    ``.stop()`` asks training to stop between epochs (finished runs are kept).
    """

    def __init__(
        self,
        work: Callable[[CancelToken], Any],
        on_done: Callable[[Any], None] | None = None,
    ) -> None:
        self.cancel = CancelToken()
        self._result: Any = None
        self._error: BaseException | None = None
        self._finished = threading.Event()
        self._on_done = on_done
        self.display_error: Exception | None = None  # an error showing the result
        # The cell's context (the kernel keeps the cell's message there): what the
        # thread displays goes to the cell that started it.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run,
            args=(self._target, work),
            daemon=True,
            name="nmi_jupyter-training",
        )
        self._thread.start()

    def _target(self, work: Callable[[CancelToken], Any]) -> None:
        try:
            self._result = work(self.cancel)
        except BaseException as exc:  # reported by .result(), never lost in the thread
            self._error = exc
        else:
            if self._on_done is not None:
                try:
                    self._on_done(self._result)
                except Exception as exc:  # a display problem must not lose the result
                    self.display_error = exc
        finally:
            self._finished.set()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def stop(self) -> None:
        """Stop training between epochs; the result keeps what finished."""
        self.cancel.cancel()

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the analysis ends (or ``timeout`` seconds) and return its result."""
        self._finished.wait(timeout)
        return self.result()

    @property
    def error(self) -> BaseException | None:
        """The exception the analysis raised (None while running or if it succeeded)."""
        return self._error

    def result(self) -> Any:
        if not self.done:
            raise RuntimeError("still running: call .wait() or check .done first.")
        if self._error is not None:
            raise self._error
        return self._result

    def __repr__(self) -> str:
        state = "finished" if self.done else "running in the background"
        return f"<nmi_jupyter analysis, {state}; .wait() returns the result, .stop() stops it>"
