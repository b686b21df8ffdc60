"""The live panel of a sweep or a dimensionality analysis: MI against the swept value
filling in as the grid points' runs finish (one series per value of the other grid
keys, error bars), the smoothed validation curves of the runs training now, and each
point's runs (done, training, waiting).  The numbers and the verdict are the result's
panel's (:mod:`~nmi_jupyter.widgets.sweep_panel`), shown under this one at the end.

The events carry run ids, unique across the sweep, but no grid point: the engine
trains the points one after another, their run ids in consecutive blocks, so
:class:`PointMap` finds each run's point from the plan the magic knows (the points
in order and the analysis runs per point; a rigorous point's shuffled-pairs controls,
marked in the events, may or may not follow them).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.engine.critic_search import CANDIDATES
from nmi_jupyter.engine.extrapolate import fit_gamma_line
from nmi_jupyter.widgets.buffers import RunTrace
from nmi_jupyter.widgets.colours import GAMMA_COLOURS, MUTED
from nmi_jupyter.widgets.rigorous_panel import ragged_curves
from nmi_jupyter.widgets.static import png_of
from nmi_jupyter.widgets.training_panel import TrainingPanel, integer_ticks

__all__ = ["SweepLivePanel", "PointMap", "LivePoint"]

_SYMBOLS = {"done": "&#9679;", "running": "&#9680;", "stopped": "&#10005;", "waiting": "&#9675;"}
# Above this many runs a point's progress is a count, not one symbol per run.
_MOST_SYMBOLS = 12


class PointMap:
    """Run id -> grid point index, for an analysis whose points train one after another
    with consecutive run ids from ``first_run_id``: ``per_point`` analysis runs each, then
    (rigorous) up to ``controls`` shuffled-pairs controls, which the events mark."""

    def __init__(self, per_point: int, controls: int = 0, first_run_id: int = 0) -> None:
        self.per_point = max(int(per_point), 1)
        self.controls = controls
        self.starts = [first_run_id]  # first run id of each point seen so far
        self.highest = -1  # the largest run id seen so far

    def __call__(self, run_id: int, control: bool = False) -> int:
        for point in range(len(self.starts) - 1, -1, -1):
            if run_id >= self.starts[point]:
                break
        start = self.starts[point]
        room = self.per_point + (self.controls if control else 0)
        if point == len(self.starts) - 1 and run_id >= start + room:
            # the first run of the next point: every run of this one has been seen
            # (points train one after another), so the next starts after the highest
            self.starts.append(self.highest + 1)
            point += 1
        self.highest = max(self.highest, run_id)
        return point


class LivePoint:
    """What the panel knows about one grid point's runs so far."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.runs: list[RunTrace] = []

    def counts(self) -> dict[str, int]:
        counts = {"done": 0, "running": 0, "stopped": 0}
        for t in self.runs:
            if not t.control:
                counts[t.status] += 1
        return counts

    def value(self, rigorous: bool) -> tuple[float, float]:
        """(MI, half error bar) from the finished runs: their mean and standard error, or
        (rigorous) the extrapolation of the finished runs, without an error bar (the
        final fit adds terms this one lacks).  NaN where there is no number yet."""
        done = [t for t in self.runs if t.status == "done" and not t.control]
        mi = np.array([t.mi for t in done], dtype=float)
        finite = np.isfinite(mi)
        if not rigorous:
            mi = mi[finite]
            if not len(mi):
                return math.nan, math.nan
            error = mi.std(ddof=1) / math.sqrt(len(mi)) if len(mi) > 1 else math.nan
            return float(mi.mean()), float(error)
        gammas = [t.gamma for t, ok in zip(done, finite, strict=True) if ok]
        if len(set(gammas)) < 2:
            return math.nan, math.nan
        try:
            fit = fit_gamma_line(gammas, mi[finite], use=sorted(set(gammas)), min_gamma_points=2)
        except (ValueError, ArithmeticError):
            return math.nan, math.nan
        return float(fit.mi), math.nan


class SweepLivePanel(TrainingPanel):
    """A sweep (or dimensionality analysis) training, point by point.

    Args:
        points: the grid points in training order (``{key: value}``, the last key
            varying fastest, as ``nmi.sweep`` trains them).
        runs_per_point: analysis runs of each point (repeats; a rigorous point's
            ``sum(gammas) * repeats``; a dimensionality analysis's splits).
        controls_per_point: shuffled-pairs controls a rigorous point may add.
        rigorous: each point a rigorous analysis (its MI is extrapolated).
        dimensionality: the analysis is ``nmi.dimensionality`` (its wording).
        **options: as for :class:`TrainingPanel` (interval, stoppable, ...).
    """

    mode = "sweep"

    def __init__(
        self,
        points: Sequence[dict[str, Any]],
        runs_per_point: int,
        *,
        controls_per_point: int = 0,
        rigorous: bool = False,
        dimensionality: bool = False,
        **options: Any,
    ) -> None:
        self.points = [LivePoint(dict(p)) for p in points] or [LivePoint({})]
        self.grid_keys = list(self.points[0].values)
        self.runs_per_point = runs_per_point
        self.controls_per_point = controls_per_point
        self.rigorous = rigorous
        self.dimensionality = dimensionality
        self.point_of = PointMap(runs_per_point, controls_per_point)
        self._placed: set[int] = set()
        self._candidate = 0  # a rigorous lag scan's critic search: the scan starts over
        total = len(self.points) * (runs_per_point + controls_per_point)
        super().__init__(
            None, total_runs=total, controls=len(self.points) * controls_per_point, **options
        )

    # ----- the grid -----
    @property
    def first(self) -> str:
        return self.grid_keys[0] if self.grid_keys else "point"

    def _first_values(self) -> list[Any]:
        seen: list[Any] = []
        for p in self.points:
            value = p.values.get(self.first)
            if value not in seen:
                seen.append(value)
        return seen

    def _numeric(self) -> bool:
        values = self._first_values()
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)

    def _series(self) -> list[tuple[str, list[int]]]:
        """(label, point indices) for each combination of the keys after the first."""
        series: dict[str, list[int]] = {}
        for k, p in enumerate(self.points):
            label = ", ".join(f"{key}={p.values[key]}" for key in self.grid_keys[1:])
            series.setdefault(label, []).append(k)
        return list(series.items())

    def _points_word(self) -> str:
        """What the points are called: embedding dims, lags (nmi.lag) or grid points."""
        if self.dimensionality:
            return "embedding dims"
        return "lags" if self.first == "lag" else "grid points"

    def _x(self, point: LivePoint) -> float:
        value = point.values.get(self.first)
        return float(value) if self._numeric() else float(self._first_values().index(value))

    # ----- figures -----
    def _figures(self, x: bq.LinearScale, y: bq.LinearScale) -> list[bq.Figure]:
        self.curves = bq.Lines(x=[], y=[], scales={"x": x, "y": y}, stroke_width=1, opacities=[0.8])
        values = self._first_values()
        positive = self._numeric() and min(values) > 0
        log = positive and len(values) > 1 and max(values) / min(values) >= 16
        sx = bq.LogScale() if log else bq.LinearScale()
        sy = bq.LinearScale()
        series = self._series()
        self.series_lines = [
            bq.Lines(
                x=[],
                y=[],
                scales={"x": sx, "y": sy},
                colors=[_series_colour(k, len(series))],
                marker="circle",
                marker_size=40,
                labels=[label] if label else [],
                display_legend=bool(label),
            )
            for k, (label, _) in enumerate(series)
        ]
        self.error_bars = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, stroke_width=1.5)
        ticks = (
            [float(v) for v in values] if self._numeric() else list(map(float, range(len(values))))
        )
        self.value_axis = bq.Axis(scale=sx, label=self.first, tick_values=np.array(ticks))
        if not self._numeric():
            self.value_axis.tick_labels = {str(i): str(v) for i, v in enumerate(values)}
            sx.min, sx.max = -0.5, len(values) - 0.5
        self.points_axis = bq.Axis(scale=sy, side="left", label="MI (bits)", tick_format=".2f")
        half = widgets.Layout(width="50%", height="300px")
        margin = {"top": 30, "bottom": 40, "left": 60, "right": 20}
        self.points_figure = bq.Figure(
            marks=[self.error_bars, *self.series_lines],
            axes=[self.value_axis, self.points_axis],
            layout=half,
            title=self._points_title(),
            legend_location="bottom-right",
            fig_margin=margin,
        )
        self.curves_figure = bq.Figure(
            marks=[self.curves],
            axes=[self.epoch_axis, self.y_axis],
            layout=half,
            title="smoothed validation MI, runs training now",
            fig_margin=margin,
        )
        return [self.curves_figure, self.points_figure]

    def _points_title(self) -> str:
        what = "extrapolated MI" if self.rigorous else "MI (mean ± s.e. of finished runs)"
        return f"{what} vs {self.first}"

    # ----- events -----
    def _place_runs(self) -> None:
        """Attach the runs seen since the last redraw to their grid points.  When a
        critic search starts a smaller critic (the buffer let the runs before go), the
        points start over, their run ids counted from that critic's first."""
        if self.buffer.candidate != self._candidate and self.buffer.runs:
            self._candidate = self.buffer.candidate
            for point in self.points:
                point.runs = []
            self._placed = set()
            self.point_of = PointMap(
                self.runs_per_point, self.controls_per_point, first_run_id=min(self.buffer.runs)
            )
        for run_id in sorted(set(self.buffer.runs) - self._placed):
            trace = self.buffer.runs[run_id]
            k = self.point_of(run_id, trace.control)
            if k < len(self.points):
                self.points[k].runs.append(trace)
            self._placed.add(run_id)

    # ----- drawing -----
    def _draw(self, units: str) -> None:
        self._place_runs()
        self._draw_curves()
        self._draw_points()
        self.y_axis.label = self.points_axis.label = f"MI ({units})"
        self.overview.value = self._overview_html()
        self.status.value = self._progress_html()

    def _draw_curves(self) -> None:
        """The smoothed validation curves of the point(s) training now (the last point
        with runs), coloured by series; finished points' curves give way to them."""
        live = [p for p in self.points if p.runs]
        if not live:
            return
        traces = [
            t
            for t in live[-1].runs
            if not t.control and len(t.smoothed) > 1 and np.isfinite(t.smoothed).any()
        ]
        if not traces:
            return
        xs, ys = ragged_curves([t.smoothed for t in traces], self.max_points)
        ys = _filled(ys)
        colour = self._colour_of(self.points.index(live[-1]))
        with self.curves.hold_sync():
            self.curves.x, self.curves.y = xs, ys
            self.curves.colors = [colour] * len(traces)
        self.epoch_axis.tick_values = integer_ticks(int(xs.max()) + 1)
        self.curves_figure.title = f"smoothed validation MI at {_label(live[-1].values)}"

    def _colour_of(self, index: int) -> str:
        series = self._series()
        for k, (_, members) in enumerate(series):
            if index in members:
                return _series_colour(k, len(series))
        return MUTED

    def drawn_points(self) -> list[tuple[int, float, float, float]]:
        """(point index, x, MI, half error) of every point with a finite MI so far; the
        error is 0 where there is none (only finite numbers reach the browser: d3 writes
        a NaN into the page as "undefined")."""
        out = []
        for k, point in enumerate(self.points):
            mi, error = point.value(self.rigorous)
            if point.values and math.isfinite(mi):
                out.append((k, self._x(point), mi, error if math.isfinite(error) else 0.0))
        return out

    def _draw_points(self) -> None:
        drawn = {k: (x, mi, err) for k, x, mi, err in self.drawn_points()}
        bars_x, bars_y, bar_colours = [], [], []
        for s, (line, (_, members)) in enumerate(
            zip(self.series_lines, self._series(), strict=True)
        ):
            mine = sorted((drawn[k] for k in members if k in drawn), key=lambda p: p[0])
            with line.hold_sync():
                line.x = np.array([p[0] for p in mine], dtype=float)
                line.y = np.array([p[1] for p in mine], dtype=float)
            for x, mi, err in mine:
                if err > 0:
                    bars_x.append([x, x])
                    bars_y.append([mi - err, mi + err])
                    bar_colours.append(_series_colour(s, len(self.series_lines)))
        with self.error_bars.hold_sync():
            if bars_x:
                self.error_bars.x, self.error_bars.y = np.array(bars_x), np.array(bars_y)
                self.error_bars.colors = bar_colours
            else:
                self.error_bars.x, self.error_bars.y = [], []

    def _point_state(self, point: LivePoint) -> str:
        counts = point.counts()
        if not point.runs:
            return "waiting"
        if counts["running"]:
            return "running"
        finished = counts["done"] + counts["stopped"]
        return "done" if finished >= self.runs_per_point else "running"

    def _progress_html(self) -> str:
        states = [self._point_state(p) for p in self.points]
        runs = self.buffer.by_status()
        what = self._points_word()
        waiting = max(self.total_runs - len(self.buffer.runs), 0)
        search = (
            f"critic search: smaller critic {self.buffer.candidate} of {len(CANDIDATES)} (the "
            "default one memorised the few samples per feature at the strongest lag) &middot; "
            if self.buffer.candidate
            else ""
        )
        return (
            f"{search}<b>{states.count('done')} of {len(self.points)} {what} done</b> &middot; "
            f"runs: {runs['done']} done, {runs['running']} training, {waiting} waiting"
            + (f", {runs['stopped']} stopped" if runs["stopped"] else "")
        )

    def _overview_html(self) -> str:
        cells = []
        for point in self.points:
            counts = point.counts()
            waiting = max(self.runs_per_point - sum(counts.values()), 0)
            if self.runs_per_point <= _MOST_SYMBOLS:
                symbols = "".join(_SYMBOLS[t.status] for t in point.runs if not t.control)
                symbols += _SYMBOLS["waiting"] * waiting
            else:
                symbols = f"{counts['done']}/{self.runs_per_point}" + (
                    f" ({counts['running']} training)" if counts["running"] else ""
                )
            cells.append(
                f"<span style='margin-right:1em'>{html.escape(_label(point.values))}: "
                f"{symbols}</span>"
            )
        return (
            "<div style='font-size:90%'>"
            + "".join(cells)
            + " <span style='opacity:0.7'>(&#9679; done, &#9680; training, &#9675; waiting, "
            "&#10005; stopped)</span></div>"
        )

    # ----- the end -----
    def finish(self, result, fit_below: bool = True) -> None:
        """The final redraw and a line that says what ran and leaves the numbers, the
        dimension and the verdict to the result's panel (shown below by the magic)."""
        self.redraw()
        self.stop_button.layout.display = "none"
        sweep = getattr(result, "sweep", result)
        self.state = sweep.stop_reason if sweep.stopped else "done"
        self.curves_figure.title = "smoothed validation MI, last point"
        self.status.value = self._final_html(sweep)

    def _final_html(self, sweep) -> str:
        what = self._points_word()
        done = f"{len(sweep.points)} of {sweep.planned} {what}"
        runs = sum(len(p.runs) for p in self.points)
        if sweep.stopped and not sweep.points:
            return (
                f"<b>{html.escape(sweep.stop_reason)}</b> &middot; the analysis stopped "
                "before its first point finished: there is no MI to show yet."
            )
        said = f"<b>{html.escape(sweep.stop_reason)}</b> &middot; " if sweep.stopped else ""
        kept = " (the finished points are kept)" if sweep.stopped else ""
        choice = sweep.settings.get("critic_choice")
        if choice:
            tried = len(choice["candidates"])
            runs = (
                f"{runs} runs for each of {tried} critics (critic search; the curves are "
                "the last critic's)"
            )
        else:
            runs = f"{runs} runs"
        return (
            f"{said}<b>{done}</b>{kept}, {runs}, trained in {sweep.elapsed:.1f} s "
            "&middot; the panel below shows the MI, its errors and the verdict"
        )

    def _picture_text(self, result, fit_below: bool) -> str:
        return html.unescape(re.sub("<[^>]+>", "", self.status.value))

    def png_fallback(self, result) -> bytes:
        """What this panel shows: the last point's curves and MI against the value."""
        return png_of(self._draw_matplotlib, figsize=(9.6, 3.6))

    def _draw_matplotlib(self, figure) -> None:
        curves, points = figure.subplots(1, 2)
        units = self.buffer.units
        live = [p for p in self.points if p.runs]
        if live:
            colour = self._colour_of(self.points.index(live[-1]))
            for t in live[-1].runs:
                if not t.control and len(t.smoothed):
                    curves.plot(t.smoothed, color=colour, lw=1, alpha=0.7)
        curves.set(
            xlabel="epoch", ylabel=f"MI ({units})", title="smoothed validation MI, last point"
        )
        curves.xaxis.get_major_locator().set_params(integer=True)
        drawn = {k: (x, mi, err) for k, x, mi, err in self.drawn_points()}
        for s, (label, members) in enumerate(self._series()):
            mine = sorted((drawn[k] for k in members if k in drawn), key=lambda p: p[0])
            if mine:
                x, mi, err = (np.array(c) for c in zip(*mine, strict=True))
                colour = _series_colour(s, len(self._series()))
                points.errorbar(
                    x, mi, yerr=err, color=colour, marker="o", capsize=3, label=label or None
                )
        values = self._first_values()
        if not self._numeric():
            points.set_xticks(range(len(values)), [str(v) for v in values])
        elif isinstance(self.series_lines[0].scales["x"], bq.LogScale):
            points.set_xscale("log", base=2)
        points.set(xlabel=self.value_axis.label, ylabel=f"MI ({units})", title=self._points_title())
        if len(self._series()) > 1 and drawn:
            points.legend(fontsize="small")


def _filled(rows: np.ndarray) -> np.ndarray:
    """Each row's non-finite values replaced by the nearest finite one before them (the
    first finite one at the start): bqplot would write a NaN into the page as
    "undefined"; a diverged epoch shows as a flat stretch instead of a gap."""
    rows = np.array(rows, dtype=float)
    for row in rows:
        bad = ~np.isfinite(row)
        if bad.all() or not bad.any():
            row[bad] = 0.0
            continue
        index = np.where(bad, 0, np.arange(len(row)))
        np.maximum.accumulate(index, out=index)
        first = int(np.flatnonzero(~bad)[0])
        index[:first] = first
        row[:] = row[index]
    return rows


def _label(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in values.items())


def _series_colour(k: int, n: int) -> str:
    """Colours spread over the key's range, so two series differ clearly."""
    if n <= 1:
        return GAMMA_COLOURS[0]
    step = (len(GAMMA_COLOURS) - 1) / (n - 1) if n <= len(GAMMA_COLOURS) else 1
    return GAMMA_COLOURS[round(k * step) % len(GAMMA_COLOURS)]
