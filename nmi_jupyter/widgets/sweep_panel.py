"""The panel of a sweep or a dimensionality analysis: MI against the swept setting with
error bars (bqplot), the verdict above it, and a picture of it for front ends that
show no widgets (as the fit panel keeps one)."""

from __future__ import annotations

import html
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.engine.lag_result import LAG_AXIS_LABEL, plot_lag
from nmi_jupyter.engine.sweep_plots import plot_dimensionality, plot_sweep, sweep_lines
from nmi_jupyter.widgets.colours import FIT, GAMMA_COLOURS, MUTED
from nmi_jupyter.widgets.html import flags_html, verdict_badge
from nmi_jupyter.widgets.static import png_of, with_picture

__all__ = ["SweepPanel", "sweep_panel"]


def sweep_panel(result: Any) -> SweepPanel:
    """The panel of a :class:`SweepResult`, a :class:`DimensionalityResult` or a
    :class:`LagResult` (its lags on the x axis, the peak marked)."""
    return SweepPanel(result)


class SweepPanel(widgets.VBox):
    """MI against the first grid key (one line per value of the other keys), error bars
    as vertical segments, unreliable points hollow; for a dimensionality analysis the
    splits' curves faint and the dimension a dashed vertical line."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.dimensionality = hasattr(result, "dimension")
        self.lag = hasattr(result, "peak_lag")
        self.sweep = result.sweep if self.dimensionality or self.lag else result
        self.readout = widgets.HTML(self._readout())
        self.figure = self._figure()
        super().__init__(children=[self.readout, self.figure])

    def _readout(self) -> str:
        r = self.result
        if self.dimensionality:
            if r.dimension is None:
                head = "dimension: the data cannot tell"
            else:
                low, high = r.dimension_range or (r.dimension, r.dimension)
                head = f"dimension <b>{r.dimension}</b> (splits {low}-{high})"
        elif self.lag and r.peak_lag is None:
            head = "MI against lag: no lag gave a value"
        elif self.lag:
            low, high = r.peak_lag_interval or (r.peak_lag, r.peak_lag)
            head = (
                f"peak lag <b>{r.peak_lag}</b> (within its error: {low} to {high}); "
                "MI(x<sub>t</sub>; y<sub>t+k</sub>), positive k: x leads y"
            )
        else:
            head = f"sweep of {', '.join(r.keys)}: {len(r.points)} of {r.planned} points"
        choice = r.critic_choice_text() if self.lag else ""
        choice = f"<br><span style='font-size:90%'>{html.escape(choice)}</span>" if choice else ""
        return f"{head} {verdict_badge(r.is_reliable)}{choice}{flags_html(r.flags)}"

    def _figure(self) -> bq.Figure:
        s = self.sweep
        first = s.keys[0]
        values = s.grid[first]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        x_scale = bq.LinearScale() if numeric else bq.OrdinalScale()
        scales = {"x": x_scale, "y": bq.LinearScale()}
        marks = []
        if self.dimensionality:
            dims = np.array(self.result.dims_done, dtype=float)
            for curve in self.result.curves:
                # only finite values reach the browser (d3 writes NaN as "undefined")
                keep = np.isfinite(curve)
                marks.append(
                    bq.Lines(
                        x=dims[keep], y=curve[keep], scales=scales, colors=[MUTED], opacities=[0.35]
                    )
                )
        for k, (label, xs, mi, err) in enumerate(sweep_lines(s)):
            colour = GAMMA_COLOURS[k % len(GAMMA_COLOURS)]
            keep = np.isfinite(mi)
            xs, mi, err = [v for v, ok in zip(xs, keep, strict=True) if ok], mi[keep], err[keep]
            x = np.array(xs, dtype=float) if numeric else [str(v) for v in xs]
            marks.append(
                bq.Lines(
                    x=x,
                    y=mi,
                    scales=scales,
                    colors=[colour],
                    marker="circle",
                    labels=[label] if label else [],
                    display_legend=bool(label),
                )
            )
            if numeric:
                half = np.nan_to_num(err)
                marks.append(
                    bq.Lines(
                        x=np.stack([x, x], axis=1),
                        y=np.stack([mi - half, mi + half], axis=1),
                        scales=scales,
                        colors=[colour] * len(x),
                    )
                )
        marked = (
            self.result.dimension
            if self.dimensionality
            else self.result.peak_lag
            if self.lag
            else None
        )
        if marked is not None:
            tops = s.mi + np.nan_to_num(s.mi_error)
            top = tops[np.isfinite(tops)].max() if np.isfinite(tops).any() else 1.0
            d = float(marked)
            marks.append(
                bq.Lines(
                    x=[d, d], y=[0.0, float(top)], scales=scales, colors=[FIT], line_style="dashed"
                )
            )
        axes = [
            bq.Axis(scale=x_scale, label=LAG_AXIS_LABEL if self.lag else first),
            bq.Axis(scale=scales["y"], side="left", label=f"MI ({s.units})"),
        ]
        return bq.Figure(
            marks=marks,
            axes=axes,
            layout=widgets.Layout(width="640px", height="360px"),
            fig_margin={"top": 20, "bottom": 45, "left": 60, "right": 20},
        )

    def png(self) -> bytes:
        draw = plot_dimensionality if self.dimensionality else plot_lag if self.lag else plot_sweep
        return png_of(lambda figure: draw(self.result, ax=figure.add_subplot()), (6.4, 3.6))

    def mimebundle(self) -> dict:
        """The widget view with a picture and the summary beside it."""
        return with_picture(self, self.png(), self.result.summary())

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.mimebundle(), raw=True)
