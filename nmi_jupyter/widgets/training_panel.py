"""Live training panels (ipywidgets + bqplot): observers of engine events.

They never train: they buffer events (:mod:`buffers`) and redraw whole arrays at
most every ``interval`` seconds inside ``hold_sync``, so a long analysis costs
the browser a few messages per second whatever the epoch rate.

:class:`TrainingPanel` is what every live panel shares (status line, Stop button,
throttled redraws, the final verdict line, the picture kept beside the widget);
each analysis shows its own curves:
:class:`~nmi_jupyter.widgets.estimate_panel.EstimatePanel` (one run: training and
validation curves) and :class:`~nmi_jupyter.widgets.rigorous_panel.RigorousPanel`
(many runs: curves by gamma, MI per finished run, the provisional extrapolation).
``TrainingPanel("estimate" | "rigorous", ...)`` builds the one for a mode.
"""

from __future__ import annotations

import html
import math

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.engine.events import Event, RunEnded
from nmi_jupyter.widgets.buffers import EventBuffer, Throttle
from nmi_jupyter.widgets.colours import GAMMA_COLOURS
from nmi_jupyter.widgets.static import with_picture

__all__ = ["TrainingPanel", "GAMMA_COLOURS", "panel_class"]


def panel_class(mode: str) -> type[TrainingPanel]:
    """The live panel of an analysis mode ("estimate" or "rigorous")."""
    if mode == "estimate":
        from nmi_jupyter.widgets.estimate_panel import EstimatePanel

        return EstimatePanel
    if mode == "rigorous":
        from nmi_jupyter.widgets.rigorous_panel import RigorousPanel

        return RigorousPanel
    raise ValueError(f"no live panel for mode {mode!r}; use 'estimate' or 'rigorous'")


def integer_ticks(length: int, most: int = 8) -> np.ndarray:
    """At most ``most`` whole epochs from 0 to ``length - 1`` (never 0.2 steps)."""
    step = max(1, math.ceil((length - 1) / (most - 1))) if length > 1 else 1
    return np.arange(0, max(length, 1), step, dtype=float)


class TrainingPanel(widgets.VBox):
    """Curves that grow while a run or an analysis trains; call it with events, then
    :meth:`finish`.  ``TrainingPanel(mode, ...)`` gives the panel of ``mode``
    (an :class:`EstimatePanel` or a :class:`RigorousPanel`, both TrainingPanels).

    Args:
        mode: "estimate" (one run) or "rigorous" (many runs, by gamma).
        total_runs: runs expected (for the progress overview; controls included).
        interval: the least time between redraws, in seconds.
        max_points: longest curve sent to the browser (histories are decimated).
        stoppable: show a Stop button (background runs); ``on_stop`` is called.
        controls: how many of ``total_runs`` are shuffled-pairs controls.
    """

    mode = ""  # each panel's analysis mode

    def __new__(cls, *args, **kwargs):
        if cls is TrainingPanel:
            cls = panel_class(args[0] if args else kwargs.get("mode", "estimate"))
        return super().__new__(cls, *args, **kwargs)

    def __init__(
        self,
        mode: str | None = None,
        total_runs: int = 1,
        interval: float = 0.1,
        max_points: int = 400,
        stoppable: bool = False,
        on_stop=None,
        controls: int = 0,
    ) -> None:
        if mode is not None and mode != self.mode:
            raise ValueError(f"{type(self).__name__} shows mode {self.mode!r}, not {mode!r}")
        self.total_runs = total_runs
        self.controls = controls
        self.max_points = max_points
        self.buffer = EventBuffer()
        self.throttle = Throttle(interval)
        self.redraws = 0
        self.state = "training"
        self.on_stop = on_stop  # called by the Stop button; may be set later
        x, y = bq.LinearScale(), bq.LinearScale()
        self.epoch_axis = bq.Axis(scale=x, label="epoch", tick_format="d")
        self.y_axis = bq.Axis(scale=y, side="left", label="MI (bits)", tick_format=".2f")
        self.figures = self._figures(x, y)
        self.status = widgets.HTML(value="starting ...")
        self.overview = widgets.HTML()
        self.key = widgets.HTML(self._key_html())
        self.stop_button = widgets.Button(
            description="Stop",
            icon="stop",
            button_style="warning",
            tooltip="stop training between epochs; finished runs are kept",
            layout=widgets.Layout(display="" if stoppable else "none", width="auto"),
        )
        self.stop_button.on_click(self._stop_clicked)
        super().__init__(
            children=[
                widgets.HBox([self.status, self.stop_button]),
                widgets.HBox(self.figures),
                self.key,
                self.overview,
            ]
        )

    # ----- what each panel shows -----
    def _figures(self, x: bq.LinearScale, y: bq.LinearScale) -> list[bq.Figure]:
        """The figures, given the epoch (x) and MI (y) scales of the curves."""
        raise NotImplementedError

    def _key_html(self) -> str:
        return ""

    def _draw(self, units: str) -> None:
        raise NotImplementedError

    def _number_html(self, result, fit_below: bool, reason: str) -> str:
        """The final line when the result has a number."""
        raise NotImplementedError

    def _no_number_sentence(self, result, reason: str) -> str:
        """What happened, in words, when a stopped run or analysis has no number yet."""
        raise NotImplementedError

    def png_fallback(self, result) -> bytes:
        """The final state as a PNG, for front ends that show no widgets."""
        raise NotImplementedError

    def _picture_text(self, result, fit_below: bool) -> str:
        """The text stored beside the picture."""
        return result.summary()

    def highlight_off(self) -> None:
        """At the end: drop what only made sense while training (nothing here)."""

    # ----- events in -----
    def __call__(self, event: Event) -> None:
        self.buffer(event)
        if isinstance(event, RunEnded) or self.throttle.ready():
            self.redraw()

    def _stop_clicked(self, _button=None) -> None:
        self.state = "stopping"
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping ..."
        if self.on_stop is not None:
            self.on_stop()

    # ----- drawing -----
    def redraw(self) -> None:
        """Send the current arrays (decimated) to the browser in one batch."""
        self.redraws += 1
        self._draw(self.buffer.units)

    # ----- the end -----
    def finish(self, result, fit_below: bool = False) -> None:
        """Final redraw and a status line for a finished (or stopped) result.

        ``fit_below``: the fit panel is shown under this panel and follows the user's
        drags, so this line states what ran and leaves the numbers to it (a number
        here would go stale at the first drag).
        """
        self.redraw()
        self.stop_button.layout.display = "none"
        self.highlight_off()
        stopped = bool(getattr(result, "stopped", False))
        reason = getattr(result, "stop_reason", "")
        self.state = reason if stopped else "done"
        said = f"<b>{html.escape(reason)}</b> &middot; " if stopped else ""
        if not math.isfinite(result.mi):
            self.status.value = said + html.escape(self._no_number_sentence(result, reason))
        else:
            self.status.value = said + self._number_html(result, fit_below, reason)

    def mimebundle(self, result, fit_below: bool = False) -> dict:
        """The widget view with the PNG beside it: widget front ends show the panel,
        the others the picture (and, as text, the status or the result's summary)."""
        return with_picture(self, self.png_fallback(result), self._picture_text(result, fit_below))
