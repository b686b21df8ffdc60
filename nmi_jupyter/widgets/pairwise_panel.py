"""The panel of a pairwise map: the MI matrix as a heatmap (bqplot); clicking a cell
shows that pair's training curves and, when the map is rigorous, its fit panel.
Also the HTML of pairwise maps and permutation tests.

The panel observes a finished :class:`~nmi_jupyter.PairwiseResult`; it never trains.
"""

from __future__ import annotations

import html
import math
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.engine.pairwise_plots import plot_pairwise
from nmi_jupyter.widgets.colours import MUTED, TRAIN, VAL
from nmi_jupyter.widgets.html import flags_html, verdict_badge
from nmi_jupyter.widgets.static import png_of, with_picture

__all__ = ["PairwisePanel"]


class PairwisePanel(widgets.VBox):
    """The MI matrix as a heatmap (empty cells: the diagonal, pairs without a value).

    Click a cell (or call :meth:`select`) to show that pair below: its number and
    verdict, the training and validation curves of its runs and, for a rigorous map,
    its :class:`~nmi_jupyter.widgets.fit_panel.FitPanel`.  ``selected`` is the pair
    shown, (x channel, y channel), or None.
    """

    def __init__(self, result: Any) -> None:
        self.result = result
        self.selected: tuple[int, int] | None = None
        self.readout = widgets.HTML(
            f"pairwise MI, {len(result.points)} of {result.planned} pairs "
            f"{verdict_badge(result.is_reliable)}{flags_html(result.flags)}"
        )
        self.heatmap, self.figure = self._heatmap()
        self.pair_readout = widgets.HTML(
            "<span style='opacity:0.75'>Click a cell to see that pair's training.</span>"
        )
        self.curves, self.curve_figure = self._curves()
        self.fit_box = widgets.VBox()
        right = widgets.VBox([self.pair_readout, self.curve_figure])
        super().__init__(children=[self.readout, widgets.HBox([self.figure, right]), self.fit_box])

    def _heatmap(self) -> tuple[bq.GridHeatMap, bq.Figure]:
        r = self.result
        row_scale, column_scale = bq.OrdinalScale(), bq.OrdinalScale()
        colour = bq.ColorScale(scheme="viridis", min=0.0)
        heatmap = bq.GridHeatMap(
            color=r.matrix,  # rows and columns: the channels' indices, from 0
            scales={"row": row_scale, "column": column_scale, "color": colour},
            null_color=MUTED,
            interactions={"click": "select"},
            tooltip=bq.Tooltip(fields=["color"], labels=[f"MI ({r.units})"], formats=[".3f"]),
        )
        heatmap.on_element_click(self._on_click)
        axes = [
            bq.Axis(scale=column_scale, label="x channel" if r.within else "y channel"),
            bq.Axis(scale=row_scale, side="left", label="x channel"),
            bq.ColorAxis(scale=colour, side="right", label=r.units),
        ]
        figure = bq.Figure(
            marks=[heatmap],
            axes=axes,
            layout=widgets.Layout(width="420px", height="380px"),
            fig_margin={"top": 20, "bottom": 45, "left": 50, "right": 70},
        )
        return heatmap, figure

    def _curves(self) -> tuple[dict[str, bq.Lines], bq.Figure]:
        x, y = bq.LinearScale(), bq.LinearScale()
        scales = {"x": x, "y": y}
        lines = {
            "train": bq.Lines(x=[], y=[], scales=scales, colors=[TRAIN], opacities=[0.5]),
            "val": bq.Lines(x=[], y=[], scales=scales, colors=[VAL]),
        }
        axes = [
            bq.Axis(scale=x, label="epoch"),
            bq.Axis(scale=y, side="left", label=f"MI ({self.result.units})"),
        ]
        figure = bq.Figure(
            marks=list(lines.values()),
            axes=axes,
            layout=widgets.Layout(width="420px", height="300px"),
            fig_margin={"top": 20, "bottom": 45, "left": 60, "right": 20},
        )
        return lines, figure

    # ----- user actions -----
    def _on_click(self, _mark, event) -> None:
        data = event.get("data", {}) if isinstance(event, dict) else {}
        row, column = data.get("rowNum"), data.get("columnNum")
        if row is not None and column is not None:
            self.select(int(row), int(column))

    def select(self, i: int, j: int) -> None:
        """Show the pair of x channel ``i`` and channel ``j`` (y's, or x's within x);
        a cell without a pair (the diagonal) shows nothing new."""
        try:
            point = self.result.point(i, j)
        except Exception:  # the diagonal, or a pair that did not finish
            return
        self.selected = (int(point.values["x"]), int(point.values["y"]))
        runs = point.rigorous.runs if point.rigorous is not None else point.runs
        train = [r.history.train for r in runs if len(r.history.val)]
        val = [r.history.val for r in runs if len(r.history.val)]
        with self.curve_figure.hold_sync():
            for key, curves in (("train", train), ("val", val)):
                mark = self.curves[key]
                if curves:
                    longest = max(len(c) for c in curves)
                    # equal lengths (a short run held at its last value) and only
                    # finite values reach the browser (NaN would be "undefined")
                    padded = np.zeros((len(curves), longest))
                    for k, c in enumerate(curves):
                        padded[k, : len(c)] = c
                        padded[k, len(c) :] = c[-1]
                    mark.x = np.arange(longest, dtype=float)
                    mark.y = np.nan_to_num(padded, nan=0.0, posinf=0.0, neginf=0.0)
                else:
                    mark.x, mark.y = [], []
        error = f" ± {point.mi_error:.3f}" if math.isfinite(point.mi_error) else ""
        name = html.escape(self.result.label(*self.selected))
        self.pair_readout.value = (
            f"<b>{name}</b>: {point.mi:.3f}{error} {self.result.units} "
            f"{verdict_badge(point.is_reliable)}{flags_html(point.flags)}"
        )
        self.fit_box.children = self._fit(point)

    def _fit(self, point) -> tuple:
        if point.rigorous is None or point.rigorous.fit is None:
            return ()
        from nmi_jupyter.widgets.fit_panel import FitPanel

        return (FitPanel(point.rigorous),)

    # ----- the picture beside the widget -----
    def png(self) -> bytes:
        return png_of(
            lambda figure: plot_pairwise(self.result, ax=figure.add_subplot()), (5.2, 4.4)
        )

    def mimebundle(self) -> dict:
        """The widget view with a picture and the summary beside it."""
        return with_picture(self, self.png(), self.result.summary())

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.mimebundle(), raw=True)
