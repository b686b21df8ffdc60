"""A one-line progress display for notebooks: an engine-event observer, throttled."""

from __future__ import annotations

import time

from nmi_jupyter.engine.critic_search import CANDIDATES
from nmi_jupyter.engine.events import EpochEnded, Event, RunEnded, RunStarted

__all__ = ["TextProgress"]


class TextProgress:
    """Shows the latest epoch (and, for many runs, how many have finished) in one
    updating output line; redraws at most every ``interval`` seconds.

    The line appears with the first event: the engine checks the options and the
    data before it emits one, so a mistake never leaves a progress line above it.
    """

    def __init__(self, total_runs: int = 1, interval: float = 0.5) -> None:
        self.total_runs = total_runs
        self.interval = interval
        self.finished = 0
        self.candidate = 0  # a rigorous critic search's k-th smaller critic: counts restart
        self._last = 0.0
        self._handle = None

    @staticmethod
    def _text(message: str):
        from IPython.display import Pretty

        return Pretty(message)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunEnded):
            self.finished += 1
            message = self._describe(event, f"run ended ({event.stop_reason})")
            self._show(message, force=self.finished == self.total_runs)
        elif isinstance(event, EpochEnded):
            self._show(
                self._describe(
                    event,
                    f"epoch {event.epoch + 1}: train {event.train_mi:.3f}, validation "
                    f"{event.val_mi:.3f} {event.units}, best epoch {event.best_epoch + 1}",
                )
            )
        elif isinstance(event, RunStarted):
            if event.candidate > self.candidate:
                self.candidate, self.finished = event.candidate, 0
                self._show(f"{self._search()}0/{self.total_runs} runs finished", force=True)
            elif self.total_runs == 1:
                self._show(f"training on {event.n_train} samples (max {event.max_epochs} epochs)")
            elif self._handle is None:
                self._show(f"0/{self.total_runs} runs finished", force=True)

    def _describe(self, event: EpochEnded | RunEnded, what: str) -> str:
        if self.total_runs == 1:
            return what
        where = (
            f"gamma {event.gamma}, chunk {event.chunk}" if event.gamma else f"run {event.run_id}"
        )
        return f"{self._search()}{self.finished}/{self.total_runs} runs finished - {where}: {what}"

    def _search(self) -> str:
        if not self.candidate:
            return ""
        return f"critic search, smaller critic {self.candidate} of {len(CANDIDATES)}: "

    def _show(self, message: str, force: bool = False) -> None:
        now = time.monotonic()
        if self._handle is None:
            from IPython.display import display

            self._last = now
            self._handle = display(self._text(message), display_id=True)
        elif force or now - self._last >= self.interval:
            self._last = now
            self._handle.update(self._text(message))
