"""The live panel of a rigorous analysis: smoothed validation curves coloured by
gamma, the MI of every finished run against gamma, and where the extrapolation of
the runs finished so far is heading."""

from __future__ import annotations

import html
import math
import re

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.engine.critic_search import CANDIDATES
from nmi_jupyter.engine.extrapolate import fit_gamma_line
from nmi_jupyter.widgets.colours import GAMMA_COLOURS, HIGHLIGHT, MUTED, TRAIN, gamma_colour
from nmi_jupyter.widgets.static import png_of
from nmi_jupyter.widgets.training_panel import TrainingPanel, integer_ticks

__all__ = ["RigorousPanel"]


class RigorousPanel(TrainingPanel):
    """Many runs training, by gamma (see :class:`TrainingPanel`)."""

    mode = "rigorous"

    def _figures(self, x: bq.LinearScale, y: bq.LinearScale) -> list[bq.Figure]:
        self.curves = bq.Lines(x=[], y=[], scales={"x": x, "y": y}, stroke_width=1, opacities=[0.8])
        self.highlight = bq.Lines(
            x=[], y=[], scales={"x": x, "y": y}, colors=[HIGHLIGHT], stroke_width=3
        )
        gx, gy = bq.LinearScale(min=0), bq.LinearScale()
        self.gamma_scale = gx
        self.points = bq.Scatter(
            x=[], y=[], scales={"x": gx, "y": gy}, colors=[TRAIN], default_size=30
        )
        # The extrapolation of the runs finished so far (a line over every finished
        # gamma, no automatic drops): the final fit panel replaces it at the end.
        self.fit_line = bq.Lines(
            x=[], y=[], scales={"x": gx, "y": gy}, colors=[MUTED], line_style="dashed"
        )
        self.fit_point = bq.Scatter(
            x=[], y=[], scales={"x": gx, "y": gy}, colors=[MUTED], marker="diamond", default_size=60
        )
        self.gamma_axis = bq.Axis(scale=gx, label="gamma", tick_format="d")
        self.points_axis = bq.Axis(scale=gy, side="left", label="MI (bits)", tick_format=".2f")
        half = widgets.Layout(width="50%", height="300px")
        margin = {"top": 30, "bottom": 40, "left": 60, "right": 20}
        self.points_figure = bq.Figure(
            marks=[self.fit_line, self.points, self.fit_point],
            axes=[self.gamma_axis, self.points_axis],
            layout=half,
            title="finished runs: MI vs gamma",
            fig_margin=margin,
        )
        curves = bq.Figure(
            marks=[self.curves, self.highlight],
            axes=[self.epoch_axis, self.y_axis],
            layout=half,
            title="smoothed validation MI, by gamma",
            fig_margin=margin,
        )
        return [curves, self.points_figure]

    def _key_html(self) -> str:
        """A one-line key from colour to gamma (curves and points are coloured by gamma)."""
        swatches = "".join(
            f"<span style='margin-right:0.6em'><span style='display:inline-block;width:0.9em;"
            f"height:0.9em;background:{colour};vertical-align:middle;border-radius:2px'></span>"
            f" {gamma}</span>"
            for gamma, colour in enumerate(GAMMA_COLOURS, start=1)
        )
        return f"<div style='font-size:90%'>gamma: {swatches}</div>"

    # ----- drawing -----
    def _draw(self, units: str) -> None:
        self._draw_curves()
        # Only finite values reach the browser: d3 places NaN at "undefined".
        done = self._done()
        with self.points.hold_sync():
            self.points.x = np.array([t.gamma for t in done], dtype=float)
            self.points.y = np.array([t.mi for t in done], dtype=float)
            self.points.colors = [gamma_colour(t.gamma) for t in done] or [TRAIN]
        self._draw_provisional_fit(done, units)
        # Whole gammas from 0 to the largest started (the axis once read 0 0 0 ... 1 1).
        top = max((t.gamma or 1 for t in self.buffer.runs.values() if not t.control), default=1)
        self.gamma_scale.max = top + 0.5
        self.gamma_axis.tick_values = np.arange(0.0, top + 1.0)
        self.y_axis.label = self.points_axis.label = f"MI ({units})"
        self.overview.value = self._overview_html()
        self.status.value = self._progress_html()

    def _done(self) -> list:
        return [
            t
            for t in self.buffer.runs.values()
            if t.status == "done" and not t.control and math.isfinite(t.mi)
        ]

    def _draw_curves(self) -> None:
        # bqplot squeezes singleton dimensions away, so curves need two points.
        traces = [
            t
            for t in self.buffer.runs.values()
            if not t.control and len(t.smoothed) > 1 and np.isfinite(t.smoothed).any()
        ]
        if not traces:
            return
        xs, ys = ragged_curves([t.smoothed for t in traces], self.max_points)
        # When all runs train at once (batched, or units on workers) no one curve is
        # "the one training now": the red highlight would single out a random run.
        running = sum(t.status == "running" for t in self.buffer.runs.values())
        current = self.buffer.runs.get(self.buffer.current)
        with self.curves.hold_sync(), self.highlight.hold_sync():
            self.curves.x, self.curves.y = xs, ys
            self.curves.colors = [gamma_colour(t.gamma) for t in traces]
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
        self.epoch_axis.tick_values = integer_ticks(int(xs.max()) + 1)

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
        search = (
            f"critic search: smaller critic {self.buffer.candidate} of {len(CANDIDATES)} (the "
            "default one memorised the few samples per feature) &middot; "
            if self.buffer.candidate
            else ""
        )
        return (
            f"{search}<b>{counts['done']} of {analysis} runs done</b>{controls} &middot; "
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
        self.points_figure.title = (
            f"provisional ({len(done)}/{self.total_runs - self.controls} runs): "
            f"{fit.mi:.3f} {units} at 0"
        )

    def _overview_html(self) -> str:
        by_gamma: dict[str, list[str]] = {}
        for t in self.buffer.runs.values():
            key = f"control (N/{t.gamma})" if t.control else f"gamma {t.gamma}"
            symbol = {"done": "&#9679;", "running": "&#9680;", "stopped": "&#10005;"}[t.status]
            by_gamma.setdefault(key, []).append(symbol)
        cells = [
            f"<span style='margin-right:1em'>{html.escape(key)}: {''.join(symbols)}</span>"
            for key, symbols in by_gamma.items()
        ]
        return (
            "<div style='font-size:90%'>"
            + "".join(cells)
            + " <span style='opacity:0.7'>(&#9679; done, &#9680; training, "
            "&#10005; stopped)</span></div>"
        )

    # ----- the end -----
    def highlight_off(self) -> None:
        """At the end: no run is training, and the provisional extrapolation gives way
        to the result (its number would disagree with the final fit's)."""
        self.highlight.x, self.highlight.y = [], []
        self.fit_line.x, self.fit_line.y = [], []
        self.fit_point.x, self.fit_point.y = [], []
        self.points_figure.title = "finished runs: MI vs gamma"

    def _number_html(self, result, fit_below: bool, reason: str) -> str:
        ran = runs_text(len(result.runs), len(getattr(result, "controls", ())))
        choice = result.settings.get("critic_choice")
        if choice:
            ran += (
                f" for each of {len(choice['candidates'])} critics (critic search; the curves "
                "are the last critic's)"
            )
        if fit_below:
            return (
                f"<b>{ran}</b> trained in {result.elapsed:.1f} s &middot; the fit panel below "
                "shows the corrected MI and follows your changes"
            )
        level = "reliable" if result.is_reliable else "NOT reliable"
        return f"<b>corrected MI = {html.escape(result.mi_text(3))}</b> &middot; {level}"

    def _no_number_sentence(self, result, reason: str) -> str:
        when = reason or "stopped"
        planned = sum(result.gammas) * result.repeats
        return (
            f"The analysis was {when} before two gammas had finished runs "
            f"({len(result.runs)} of {planned} runs): there is no corrected MI yet."
        )

    def _picture_text(self, result, fit_below: bool) -> str:
        if fit_below or result.fit is None:
            return html.unescape(re.sub("<[^>]+>", "", self.status.value))
        return result.summary()

    def png_fallback(self, result) -> bytes:
        """What this panel shows (curves by gamma, MI per run), never the fit, which
        the fit panel's own picture shows as the user left it."""
        return png_of(self._draw_matplotlib, figsize=(9.6, 3.6))

    def _draw_matplotlib(self, figure) -> None:
        curves, points = figure.subplots(1, 2)
        units = self.buffer.units
        for t in self.buffer.runs.values():
            if not t.control and len(t.smoothed):
                curves.plot(t.smoothed, color=gamma_colour(t.gamma), lw=1, alpha=0.7)
        curves.set(xlabel="epoch", ylabel=f"MI ({units})", title="smoothed validation MI")
        curves.xaxis.get_major_locator().set_params(integer=True)
        done = self._done()
        points.scatter(
            [t.gamma for t in done], [t.mi for t in done], c=[gamma_colour(t.gamma) for t in done]
        )
        points.set(xlabel="gamma", ylabel=f"MI ({units})", title="finished runs: MI vs gamma")
        points.xaxis.get_major_locator().set_params(integer=True)


def runs_text(analysis: int, controls: int) -> str:
    """``"55 runs + 3 shuffled controls"``: the count the result's text gives, plus the
    controls the panel also shows."""
    runs = f"{analysis} run{'s' if analysis != 1 else ''}"
    if controls:
        runs += f" + {controls} shuffled control{'s' if controls != 1 else ''}"
    return runs


def ragged_curves(curves, max_points: int) -> tuple[np.ndarray, np.ndarray]:
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
