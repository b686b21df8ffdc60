"""Live training panel (ipywidgets + bqplot): an observer of engine events.

It never trains: it buffers events (:mod:`buffers`) and redraws whole arrays at
most every ``interval`` seconds inside ``hold_sync``, so a long analysis costs
the browser a few messages per second whatever the epoch rate.
"""

from __future__ import annotations

import html
import math
import re

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.engine.events import Event, RunEnded
from nmi_jupyter.engine.extrapolate import fit_gamma_line
from nmi_jupyter.widgets.buffers import EventBuffer, Throttle, decimate
from nmi_jupyter.widgets.static import png_of, with_picture

__all__ = ["TrainingPanel", "GAMMA_COLOURS"]

# Colour-blind-safe sequential palette (viridis samples), one per gamma 1..10.
GAMMA_COLOURS = [
    "#440154",
    "#482878",
    "#3e4989",
    "#31688e",
    "#26828e",
    "#1f9e89",
    "#35b779",
    "#6ece58",
    "#b5de2b",
    "#fde725",
]
TRAIN, VAL, HIGHLIGHT = "#1f77b4", "#ff7f0e", "#d62728"


def _gamma_colour(gamma: int | None) -> str:
    return GAMMA_COLOURS[((gamma or 1) - 1) % len(GAMMA_COLOURS)]


def _integer_ticks(length: int, most: int = 8) -> np.ndarray:
    """At most ``most`` whole epochs from 0 to ``length - 1`` (never 0.2 steps)."""
    step = max(1, math.ceil((length - 1) / (most - 1))) if length > 1 else 1
    return np.arange(0, max(length, 1), step, dtype=float)


def _runs_text(analysis: int, controls: int) -> str:
    """``"55 runs + 3 shuffled controls"``: the count the result's text gives, plus the
    controls the panel also shows."""
    runs = f"{analysis} run{'s' if analysis != 1 else ''}"
    if controls:
        runs += f" + {controls} shuffled control{'s' if controls != 1 else ''}"
    return runs


class TrainingPanel(widgets.VBox):
    """Curves that grow while a run (``mode="estimate"``) or an analysis
    (``mode="rigorous"``) trains; call it with events, then :meth:`finish`.

    Args:
        mode: "estimate" (one run) or "rigorous" (many runs, by gamma).
        total_runs: runs expected (for the progress overview; controls included).
        interval: the least time between redraws, in seconds.
        max_points: longest curve sent to the browser (histories are decimated).
        stoppable: show a Stop button (background runs); ``on_stop`` is called.
        controls: how many of ``total_runs`` are shuffled-pairs controls.
    """

    def __init__(
        self,
        mode: str = "estimate",
        total_runs: int = 1,
        interval: float = 0.1,
        max_points: int = 400,
        stoppable: bool = False,
        on_stop=None,
        controls: int = 0,
    ) -> None:
        self.mode = mode
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
        axes = [
            self.epoch_axis,
            bq.Axis(scale=y, side="left", label="MI (bits)", tick_format=".2f"),
        ]
        self.y_axis = axes[1]
        layout = widgets.Layout(width="100%", height="300px")
        if mode == "estimate":
            self.train_line = bq.Lines(
                x=[],
                y=[],
                scales={"x": x, "y": y},
                colors=[TRAIN],
                labels=["training"],
                display_legend=True,
            )
            self.val_line = bq.Lines(
                x=[],
                y=[],
                scales={"x": x, "y": y},
                colors=[VAL],
                opacities=[0.35],
                labels=["validation"],
                display_legend=True,
            )
            self.smooth_line = bq.Lines(
                x=[],
                y=[],
                scales={"x": x, "y": y},
                colors=[VAL],
                stroke_width=2.5,
                labels=["validation (smoothed)"],
                display_legend=True,
            )
            self.best_mark = bq.Lines(
                x=[],
                y=[],
                scales={"x": x, "y": y},
                colors=["gray"],
                line_style="dashed",
                labels=["best epoch"],
            )
            marks = [self.train_line, self.val_line, self.smooth_line, self.best_mark]
            figures = [
                bq.Figure(
                    marks=marks,
                    axes=axes,
                    layout=layout,
                    legend_location="bottom-right",
                    fig_margin={"top": 20, "bottom": 40, "left": 60, "right": 20},
                )
            ]
        else:
            self.curves = bq.Lines(
                x=[], y=[], scales={"x": x, "y": y}, stroke_width=1, opacities=[0.6]
            )
            self.highlight = bq.Lines(
                x=[], y=[], scales={"x": x, "y": y}, colors=[HIGHLIGHT], stroke_width=3
            )
            gx, gy = bq.LinearScale(min=0), bq.LinearScale()
            self.points = bq.Scatter(
                x=[], y=[], scales={"x": gx, "y": gy}, colors=[TRAIN], default_size=30
            )
            # The extrapolation of the runs finished so far (a line over every finished
            # gamma, no automatic drops): the final fit panel replaces it at the end.
            self.fit_line = bq.Lines(
                x=[], y=[], scales={"x": gx, "y": gy}, colors=["gray"], line_style="dashed"
            )
            self.fit_point = bq.Scatter(
                x=[],
                y=[],
                scales={"x": gx, "y": gy},
                colors=["black"],
                marker="diamond",
                default_size=60,
            )
            self.gamma_axis = bq.Axis(scale=gx, label="gamma", tick_format="d")
            self.points_axis = bq.Axis(scale=gy, side="left", label="MI (bits)", tick_format=".2f")
            half = widgets.Layout(width="50%", height="300px")
            margin = {"top": 30, "bottom": 40, "left": 60, "right": 20}
            figures = [
                bq.Figure(
                    marks=[self.curves, self.highlight],
                    axes=axes,
                    layout=half,
                    title="smoothed validation MI, by gamma",
                    fig_margin=margin,
                ),
                bq.Figure(
                    marks=[self.fit_line, self.points, self.fit_point],
                    axes=[self.gamma_axis, self.points_axis],
                    layout=half,
                    title="finished runs: MI vs gamma",
                    fig_margin=margin,
                ),
            ]
            self.points_figure = figures[1]
        self.figures = figures
        self.status = widgets.HTML(value="starting ...")
        self.overview = widgets.HTML()
        # Which colour is which gamma (the curves and points are coloured by gamma).
        self.key = widgets.HTML(_gamma_key_html() if mode != "estimate" else "")
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
                widgets.HBox(figures),
                self.key,
                self.overview,
            ]
        )

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
        units = self.buffer.units
        if self.mode == "estimate":
            self._draw_estimate(units)
        else:
            self._draw_rigorous(units)

    def _draw_estimate(self, units: str) -> None:
        trace = next(iter(self.buffer.runs.values()), None)
        if trace is None or not trace.val:
            return
        ex, train = decimate(np.array(trace.train), self.max_points)
        _, val = decimate(np.array(trace.val), self.max_points)
        _, smooth = decimate(np.array(trace.smoothed), self.max_points)
        low = float(np.nanmin([train.min(), val.min()]))
        high = float(np.nanmax([train.max(), val.max()]))
        with (
            self.train_line.hold_sync(),
            self.val_line.hold_sync(),
            self.smooth_line.hold_sync(),
            self.best_mark.hold_sync(),
        ):
            self.train_line.x, self.train_line.y = ex, train
            self.val_line.x, self.val_line.y = ex, val
            self.smooth_line.x, self.smooth_line.y = ex, smooth
            if trace.best_epoch >= 0:
                self.best_mark.x = [trace.best_epoch, trace.best_epoch]
                self.best_mark.y = [low, high]
        self.y_axis.label = f"MI ({units})"
        self.epoch_axis.tick_values = _integer_ticks(int(ex[-1]) + 1)
        epoch = len(trace.val)
        rate = trace.elapsed / epoch if epoch else math.nan
        eta = rate * max(trace.max_epochs - epoch, 0)
        self.status.value = (
            f"<b>epoch {epoch}</b> of at most {trace.max_epochs} &middot; "
            f"{trace.elapsed:.1f} s elapsed, at most {eta:.0f} s left &middot; best epoch "
            f"{trace.best_epoch + 1} ({trace.epochs_since_best}/{trace.patience} epochs "
            f"without improvement)"
        )

    def _draw_rigorous(self, units: str) -> None:
        # bqplot squeezes singleton dimensions away, so curves need two points.
        traces = [
            t
            for t in self.buffer.runs.values()
            if not t.control and len(t.smoothed) > 1 and np.isfinite(t.smoothed).any()
        ]
        if traces:
            xs, ys = _ragged_curves([t.smoothed for t in traces], self.max_points)
            # When all runs train at once (batched, or units on workers) no one curve is
            # "the one training now": the red highlight would single out a random run.
            running = sum(t.status == "running" for t in self.buffer.runs.values())
            current = self.buffer.runs.get(self.buffer.current)
            with self.curves.hold_sync(), self.highlight.hold_sync():
                self.curves.x, self.curves.y = xs, ys
                self.curves.colors = [_gamma_colour(t.gamma) for t in traces]
                if (
                    running == 1
                    and current is not None
                    and current.status == "running"
                    and not current.control
                    and len(current.smoothed) > 1
                ):
                    self.highlight.x = np.arange(len(current.smoothed), dtype=float)
                    self.highlight.y = np.array(current.smoothed)
                else:
                    self.highlight.x, self.highlight.y = [], []
            self.epoch_axis.tick_values = _integer_ticks(int(xs.max()) + 1)
        # Only finite values reach the browser: d3 places NaN at "undefined".
        done = [
            t
            for t in self.buffer.runs.values()
            if t.status == "done" and not t.control and math.isfinite(t.mi)
        ]
        with self.points.hold_sync():
            self.points.x = np.array([t.gamma for t in done], dtype=float)
            self.points.y = np.array([t.mi for t in done], dtype=float)
            self.points.colors = [_gamma_colour(t.gamma) for t in done] or [TRAIN]
        self._draw_provisional_fit(done, units)
        self.y_axis.label = self.points_axis.label = f"MI ({units})"
        self.overview.value = self._overview_html()
        self.status.value = self._progress_html()

    def _counts(self) -> dict[str, int]:
        """Runs by status, the analysis's and the controls' apart."""
        counts = {"done": 0, "running": 0, "stopped": 0, "controls_done": 0}
        for t in self.buffer.runs.values():
            if t.control and t.status == "done":
                counts["controls_done"] += 1
            else:
                counts[t.status] += 1
        return counts

    def _progress_html(self) -> str:
        counts = self._counts()
        analysis = self.total_runs - self.controls
        waiting = max(self.total_runs - len(self.buffer.runs), 0)
        controls = (
            f" + {counts['controls_done']} of {self.controls} shuffled controls"
            if self.controls
            else ""
        )
        return (
            f"<b>{counts['done']} of {analysis} runs done</b>{controls} &middot; "
            f"{counts['running']} training &middot; {waiting} waiting &middot; "
            f"{counts['stopped']} stopped"
        )

    def _draw_provisional_fit(self, done: list, units: str) -> None:
        """Extrapolate the finished runs so far (needs two gammas): where the answer is
        heading while the other gammas train, here or on an executor's workers."""
        gammas = sorted({t.gamma for t in done if np.isfinite(t.mi)})
        if len(gammas) < 2:
            return
        try:
            fit = fit_gamma_line(
                [t.gamma for t in done], [t.mi for t in done], use=gammas, min_gamma_points=2
            )
        except (ValueError, ArithmeticError):  # too few points to fit: keep the last line
            return
        ends = np.array([0.0, float(max(gammas))])
        with self.fit_line.hold_sync(), self.fit_point.hold_sync():
            self.fit_line.x, self.fit_line.y = ends, fit.mi + fit.slope * ends
            self.fit_point.x, self.fit_point.y = np.zeros(1), np.array([fit.mi])
        # No error bar here: the final fit adds terms (data-level, model) this line lacks,
        # and runs still training may move it; the title says how provisional it is.
        finished = len(done)
        self.points_figure.title = (
            f"provisional ({finished}/{self.total_runs - self.controls} runs): "
            f"{fit.mi:.3f} {units} at 0"
        )

    def _overview_html(self) -> str:
        cells = []
        by_gamma: dict[str, list[str]] = {}
        for t in self.buffer.runs.values():
            key = f"control (N/{t.gamma})" if t.control else f"gamma {t.gamma}"
            symbol = {"done": "&#9679;", "running": "&#9680;", "stopped": "&#10005;"}[t.status]
            by_gamma.setdefault(key, []).append(symbol)
        for key, symbols in by_gamma.items():
            cells.append(
                f"<span style='margin-right:1em'>{html.escape(key)}: {''.join(symbols)}</span>"
            )
        return (
            "<div style='font-size:90%'>"
            + "".join(cells)
            + " <span style='opacity:0.7'>(&#9679; done, &#9680; training, "
            "&#10005; stopped)</span></div>"
        )

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
        self.status.value = self._verdict_html(result, fit_below, stopped, reason)

    def highlight_off(self) -> None:
        """At the end: no run is training, and the provisional extrapolation gives way
        to the result (its number would disagree with the final fit's)."""
        if self.mode != "estimate":
            self.highlight.x, self.highlight.y = [], []
            self.fit_line.x, self.fit_line.y = [], []
            self.fit_point.x, self.fit_point.y = [], []
            self.points_figure.title = "finished runs: MI vs gamma"

    def _verdict_html(self, result, fit_below: bool, stopped: bool, reason: str) -> str:
        said = f"<b>{html.escape(reason)}</b> &middot; " if stopped else ""
        if not math.isfinite(result.mi):
            return said + html.escape(_no_number_sentence(result, self.mode, reason))
        if self.mode == "estimate":
            return said + (
                f"<b>MI = {result.mi:.3f} {result.units}</b> (validation {result.mi_val:.3f}) "
                f"&middot; stopped at epoch {result.epochs_run}: {html.escape(reason)}"
            )
        ran = _runs_text(len(result.runs), len(getattr(result, "controls", ())))
        if fit_below:
            return said + (
                f"<b>{ran}</b> trained in {result.elapsed:.1f} s &middot; the fit panel below "
                "shows the corrected MI and follows your changes"
            )
        level = "reliable" if result.is_reliable else "NOT reliable"
        return said + f"<b>corrected MI = {html.escape(result.mi_text(3))}</b> &middot; {level}"

    def png_fallback(self, result) -> bytes:
        """The final state as a PNG, for front ends that show no widgets (nbconvert,
        nbviewer, GitHub): the training curves of an estimate (the result's plot);
        for a rigorous analysis what this panel shows (curves by gamma, MI per run),
        never the fit, which the fit panel's own picture shows as the user left it."""
        if self.mode == "estimate":
            return png_of(lambda figure: result.plot(ax=figure.add_subplot()))
        return png_of(self._draw_matplotlib, figsize=(9.6, 3.6))

    def _draw_matplotlib(self, figure) -> None:
        curves, points = figure.subplots(1, 2)
        units = self.buffer.units
        for t in self.buffer.runs.values():
            if not t.control and len(t.smoothed):
                curves.plot(t.smoothed, color=_gamma_colour(t.gamma), lw=1, alpha=0.7)
        curves.set(xlabel="epoch", ylabel=f"MI ({units})", title="smoothed validation MI")
        curves.xaxis.get_major_locator().set_params(integer=True)
        done = [
            t
            for t in self.buffer.runs.values()
            if t.status == "done" and not t.control and math.isfinite(t.mi)
        ]
        points.scatter(
            [t.gamma for t in done], [t.mi for t in done], c=[_gamma_colour(t.gamma) for t in done]
        )
        points.set(xlabel="gamma", ylabel=f"MI ({units})", title="finished runs: MI vs gamma")
        points.xaxis.get_major_locator().set_params(integer=True)

    def mimebundle(self, result, fit_below: bool = False) -> dict:
        """The widget view with the PNG beside it: widget front ends show the panel,
        the others the picture (and, as text, the status or the result's summary)."""
        if self.mode != "estimate" and (fit_below or result.fit is None):
            text = html.unescape(re.sub("<[^>]+>", "", self.status.value))
        else:
            text = result.summary()
        return with_picture(self, self.png_fallback(result), text)


def _no_number_sentence(result, mode: str, reason: str) -> str:
    """What happened, in words, when a stopped run or analysis has no number yet."""
    when = reason or "stopped"
    if mode == "estimate":
        return f"The run was {when} before its first epoch finished: there is no estimate yet."
    finished = len(result.runs)
    planned = sum(result.gammas) * result.repeats
    return (
        f"The analysis was {when} before two gammas had finished runs "
        f"({finished} of {planned} runs): there is no corrected MI yet."
    )


def _ragged_curves(curves, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Curves of different lengths as rectangular (runs, points) x and y arrays for one
    bqplot Lines mark, at most about ``max_points`` columns.

    A shorter curve repeats its last point to the end instead of NaN padding: bqplot
    places each curve's label at its last point, and a NaN there is written into the
    page as ``translate(x,undefined)``, one browser error per curve per redraw.
    """
    length = max(len(c) for c in curves)
    step = max(1, length // max_points)
    columns = np.unique(np.append(np.arange(0, length, step), length - 1))
    xs = np.empty((len(curves), len(columns)))
    ys = np.empty_like(xs)
    for row, values in enumerate(curves):
        values = np.asarray(values, dtype=float)
        finite = np.flatnonzero(np.isfinite(values))
        last = int(finite[-1]) if len(finite) else 0
        at = np.minimum(columns, last)
        xs[row], ys[row] = at, values[at]
    return xs, ys


def _gamma_key_html() -> str:
    """A one-line key from colour to gamma (the live panel colours curves and points)."""
    swatches = "".join(
        f"<span style='margin-right:0.6em'><span style='display:inline-block;width:0.9em;"
        f"height:0.9em;background:{colour};vertical-align:middle;border-radius:2px'></span>"
        f" {gamma}</span>"
        for gamma, colour in enumerate(GAMMA_COLOURS, start=1)
    )
    return f"<div style='font-size:90%'>gamma: {swatches}</div>"
