"""Live training panel (ipywidgets + bqplot): an observer of engine events.

It never trains: it buffers events (:mod:`buffers`) and redraws whole arrays at
most every ``interval`` seconds inside ``hold_sync``, so a long analysis costs
the browser a few messages per second whatever the epoch rate.
"""

from __future__ import annotations

import html
import math

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.engine.events import Event, RunEnded
from nmi_jupyter.engine.extrapolate import fit_gamma_line
from nmi_jupyter.widgets.buffers import EventBuffer, Throttle, decimate

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


class TrainingPanel(widgets.VBox):
    """Curves that grow while a run (``mode="estimate"``) or an analysis
    (``mode="rigorous"``) trains; call it with events, then :meth:`finish`.

    Args:
        mode: "estimate" (one run) or "rigorous" (many runs, by gamma).
        total_runs: runs expected (for the progress overview; controls included).
        interval: the least time between redraws, in seconds.
        max_points: longest curve sent to the browser (histories are decimated).
        stoppable: show a Stop button (background runs); ``on_stop`` is called.
    """

    def __init__(
        self,
        mode: str = "estimate",
        total_runs: int = 1,
        interval: float = 0.1,
        max_points: int = 400,
        stoppable: bool = False,
        on_stop=None,
    ) -> None:
        self.mode = mode
        self.total_runs = total_runs
        self.max_points = max_points
        self.buffer = EventBuffer()
        self.throttle = Throttle(interval)
        self.redraws = 0
        self.state = "training"
        self.on_stop = on_stop  # called by the Stop button; may be set later
        x, y = bq.LinearScale(), bq.LinearScale()
        axes = [
            bq.Axis(scale=x, label="epoch"),
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
            self.gamma_axis = bq.Axis(scale=gx, label="gamma")
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
        traces = [t for t in self.buffer.runs.values() if not t.control and len(t.smoothed) > 1]
        if traces:
            length = max(len(t.smoothed) for t in traces)
            ys = np.full((len(traces), length), np.nan)
            for row, t in enumerate(traces):
                ys[row, : len(t.smoothed)] = t.smoothed
            step = max(1, length // self.max_points)
            xs = np.arange(length)[::step]
            with self.curves.hold_sync(), self.highlight.hold_sync():
                self.curves.x, self.curves.y = xs, ys[:, ::step]
                self.curves.colors = [_gamma_colour(t.gamma) for t in traces]
                current = self.buffer.runs.get(self.buffer.current)
                if current is not None and not current.control and len(current.smoothed) > 1:
                    self.highlight.x = np.arange(len(current.smoothed))
                    self.highlight.y = np.array(current.smoothed)
        done = [t for t in self.buffer.runs.values() if t.status == "done" and not t.control]
        with self.points.hold_sync():
            self.points.x = np.array([t.gamma for t in done], dtype=float)
            self.points.y = np.array([t.mi for t in done], dtype=float)
            self.points.colors = [_gamma_colour(t.gamma) for t in done] or [TRAIN]
        self._draw_provisional_fit(done, units)
        self.y_axis.label = self.points_axis.label = f"MI ({units})"
        self.overview.value = self._overview_html()
        counts = self.buffer.by_status()
        waiting = max(self.total_runs - len(self.buffer.runs), 0)
        self.status.value = (
            f"<b>{counts['done']}/{self.total_runs} runs done</b> &middot; {counts['running']} "
            f"training &middot; {waiting} waiting &middot; {counts['stopped']} stopped"
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
        # No error bar here: the final fit adds terms (data-level, model) this line lacks.
        self.points_figure.title = f"MI vs gamma \u00b7 so far {fit.mi:.3f} {units} at 0"

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
    def finish(self, result) -> None:
        """Final redraw and verdict line for a finished (or stopped) result."""
        self.redraw()
        self.stop_button.layout.display = "none"
        stopped = getattr(result, "stopped", False) or getattr(result, "partial", False)
        reason = getattr(result, "stop_reason", "")
        self.state = reason if stopped else "done"
        mi = result.mi
        if self.mode == "estimate":
            verdict = (
                f"<b>MI = {mi:.3f} {result.units}</b> (validation {result.mi_val:.3f}) "
                f"&middot; stopped at epoch {result.epochs_run}: {html.escape(reason)}"
            )
        else:
            level = "reliable" if result.is_reliable else "NOT reliable"
            verdict = f"<b>corrected MI = {html.escape(result.mi_text(3))}</b> &middot; {level}"
        if stopped:
            verdict = f"<b>{html.escape(reason)}</b> &middot; " + verdict
        self.status.value = verdict

    def png_fallback(self, result) -> bytes:
        """The final state as a PNG (matplotlib, without pyplot or a backend switch),
        for front ends that show no widgets (nbconvert, nbviewer, GitHub)."""
        import io

        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 4.0))
        result.plot(ax=figure.add_subplot())
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        return buffer.getvalue()

    def mimebundle(self, result) -> dict:
        """The widget view with the PNG beside it: widget front ends show the panel,
        the others the picture."""
        import base64

        bundle = dict(self._repr_mimebundle_() or {})
        bundle["image/png"] = base64.b64encode(self.png_fallback(result)).decode("ascii")
        bundle["text/plain"] = result.summary()
        return bundle
