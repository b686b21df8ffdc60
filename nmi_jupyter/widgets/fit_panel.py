"""Fit diagnosis panel: drag a handle or click gammas to drop or restore them, and see
the corrected MI, its intervals and the verdict refit at once (never retrains).

The only call back into the engine is ``RigorousResult.refit``, the pure
extrapolation fit, which runs in milliseconds.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.engine.rigorous_result import RigorousResult
from nmi_jupyter.widgets.colours import BOUND, DROPPED, FIT, HANDLE, NEIGHBOURS, TRAIN
from nmi_jupyter.widgets.html import flags_html, verdict_badge
from nmi_jupyter.widgets.static import png_of, with_picture

__all__ = ["FitPanel", "USED", "DROPPED", "FIT", "HANDLE", "BOUND"]

USED = TRAIN  # gammas in the fit
KNN_X = -0.3  # where the nearest-neighbour estimate stands, left of the corrected MI


class FitPanel(widgets.VBox):
    """Interactive view of a :class:`RigorousResult`'s bias-correction fit.

    - drag the orange handle left or right: gammas beyond it leave or rejoin the fit;
    - click a gamma's mean to toggle it;
    - "Automatic" restores the curvature test's choice (with the thresholds shown).

    ``panel.result`` is always the refit result (``result.refit(exclude=...)``
    exactly); ``on_change(result)`` is called after every change.

    Displayed, the panel carries a picture of its current fit (the engine's
    matplotlib plot of ``panel.result``) renewed after every change, so a saved
    notebook shows the fit the user last saw where widgets do not render.
    """

    def __init__(
        self,
        result: RigorousResult,
        on_change: Callable[[RigorousResult], None] | None = None,
    ) -> None:
        if result.fit is None:
            raise ValueError("this result has no fit (fewer than two gammas finished)")
        self._result = result
        self._on_change = on_change
        self.gammas = np.array(sorted({r.gamma for r in result.runs}), dtype=float)
        self.figure = self._figure(result)
        self.readout = widgets.HTML()
        controls = self._controls(result.fit)
        self.hint = widgets.HTML(
            "<span style='opacity:0.75;font-size:90%'>Drag the orange handle to drop or "
            "restore the largest gammas; click a gamma's mean to toggle it.</span>"
        )
        super().__init__(children=[self.readout, self.figure, controls, self.hint])
        self._syncing = False
        self._clicked: set[int] = set()  # gammas the user clicked out below the cut
        self._handles: list = []  # the outputs showing this panel, renewed on change
        self._draw()

    def _figure(self, result: RigorousResult) -> bq.Figure:
        """The plot: runs, gamma means, the fit with its band, the corrected MI, the
        one-pair bound and the drag handle (data arrive in :meth:`_draw`)."""
        top = float(self.gammas.max())
        self.x_scale = bq.LinearScale(min=-0.6, max=top + 0.9)
        self.y_scale = bq.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.runs_in = bq.Scatter(
            x=[], y=[], scales=scales, colors=[USED], default_size=12, opacities=[0.6]
        )
        self.runs_out = bq.Scatter(
            x=[], y=[], scales=scales, colors=[DROPPED], default_size=12, opacities=[0.6]
        )
        self.bars = bq.Lines(x=[], y=[], scales=scales, stroke_width=2)
        self.means = bq.Scatter(
            x=[],
            y=[],
            scales=scales,
            default_size=80,
            stroke="white",
            tooltip=bq.Tooltip(fields=["x", "y"], labels=["gamma", "mean MI"], formats=["", ".3f"]),
        )
        # The band's edges are drawn and its fill is denser than before: a 15 % fill
        # with no edges all but vanished on JupyterLab's dark background.
        self.band = bq.Lines(
            x=[],
            y=[],
            scales=scales,
            fill="between",
            colors=[FIT, FIT],
            fill_colors=[FIT],
            fill_opacities=[0.25],
            opacities=[0.6, 0.6],
            stroke_width=1,
        )
        self.line = bq.Lines(x=[], y=[], scales=scales, colors=[FIT], stroke_width=2)
        self.corrected_bar = bq.Lines(x=[], y=[], scales=scales, colors=[FIT], stroke_width=3)
        self.corrected = bq.Scatter(
            x=[], y=[], scales=scales, colors=[FIT], marker="diamond", default_size=120
        )
        self.cut_line = bq.Lines(x=[], y=[], scales=scales, colors=[HANDLE], line_style="dashed")
        self.bound_line = bq.Lines(
            x=[], y=[], scales=scales, colors=[BOUND], line_style="dashed", stroke_width=1.5
        )
        self.neighbours_bar, self.neighbours_point = _neighbour_marks(scales)
        self.handle = bq.Scatter(
            x=[top + 0.5],
            y=[0.0],
            scales=scales,
            colors=[HANDLE],
            marker="rectangle",
            default_size=220,
            enable_move=True,
            restrict_x=True,
            tooltip=bq.Tooltip(
                fields=["x"], labels=["drag: largest gamma in the fit"], formats=[".1f"]
            ),
        )
        self.means.on_element_click(self._on_click)
        self.handle.observe(self._on_handle, names=["x"])
        axes = [
            bq.Axis(
                scale=self.x_scale,
                label=f"gamma (samples per run: N/gamma, N = {result.n_samples})",
                tick_values=np.concatenate([[0], self.gammas]),
            ),
            bq.Axis(
                scale=self.y_scale, side="left", label=f"MI ({result.units})", tick_format=".2f"
            ),
        ]
        marks = [
            self.bound_line,
            self.band,
            self.line,
            self.runs_out,
            self.runs_in,
            self.bars,
            self.means,
            self.corrected_bar,
            self.corrected,
            self.neighbours_bar,
            self.neighbours_point,
            self.cut_line,
            self.handle,
        ]
        return bq.Figure(
            marks=marks,
            axes=axes,
            layout=widgets.Layout(width="100%", height="380px"),
            fig_margin={"top": 20, "bottom": 50, "left": 65, "right": 20},
        )

    def _controls(self, fit) -> widgets.HBox:
        """The Automatic button and the two thresholds of the curvature test."""
        self.automatic = widgets.Button(
            description="Automatic", icon="magic", tooltip="restore the curvature test's choice"
        )
        self.delta = widgets.BoundedFloatText(
            value=fit.delta_threshold,
            min=1e-3,
            max=10.0,
            step=0.05,
            description="delta threshold",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="190px"),
        )
        # The bound must not clip the value the fit used (a stopped analysis may have
        # fewer gammas than min_gamma_points: the box then shows why it is unreliable).
        self.min_points = widgets.BoundedIntText(
            value=fit.min_gamma_points,
            min=2,
            max=max(len(self.gammas), fit.min_gamma_points),
            description="min gammas",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="150px"),
        )
        self.automatic.on_click(lambda _b: self.set_automatic())
        self.delta.observe(lambda _c: self._refit_thresholds(), names=["value"])
        self.min_points.observe(lambda _c: self._refit_thresholds(), names=["value"])
        return widgets.HBox([self.automatic, self.delta, self.min_points])

    # ----- the result -----
    @property
    def result(self) -> RigorousResult:
        """The result as the user has refit it."""
        return self._result

    def _excluded(self) -> set[int]:
        return {int(g) for g in self.gammas} - set(self._result.gammas_used)

    def _apply(self, **refit) -> None:
        self._result = self._result.refit(
            delta_threshold=self.delta.value, min_gamma_points=self.min_points.value, **refit
        )
        self._draw()
        if self._on_change is not None:
            self._on_change(self._result)
        self._renew_pictures()

    def exclude(self, gammas) -> None:
        """Fit without ``gammas`` (manual mode), exactly ``result.refit(exclude=gammas)``."""
        self._apply(exclude=sorted(int(g) for g in gammas))

    def set_automatic(self) -> None:
        """Let the curvature test choose again."""
        self._clicked = set()
        self._apply(exclude=None)

    def _refit_thresholds(self) -> None:
        if not self._syncing:
            self._apply()  # the current choice (automatic or manual) with new thresholds

    # ----- user actions -----
    def _on_click(self, _mark, event) -> None:
        index = event.get("data", {}).get("index")
        if index is None:
            return
        excluded = self._excluded() ^ {int(self.gammas[index])}
        kept = [int(g) for g in self.gammas if int(g) not in excluded]
        if len(kept) >= 2:
            # Remember holes clicked below the cut, so dragging the handle keeps them.
            self._clicked = {g for g in excluded if g < max(kept)}
            self.exclude(excluded)

    def _on_handle(self, change) -> None:
        if self._syncing or len(change["new"]) == 0:
            return
        cut = float(change["new"][0])
        largest = int(np.clip(math.floor(cut + 1e-9), self.gammas[1], self.gammas.max()))
        tail = {int(g) for g in self.gammas if g > largest}
        holes = {g for g in self._clicked if g <= largest}
        if len(self.gammas) - len(tail | holes) < 2:
            holes = set()
        self.exclude(tail | holes)

    # ----- the picture beside the widget -----
    def png(self) -> bytes:
        """The current fit as a PNG: the engine's matplotlib plot of :attr:`result`."""
        return png_of(lambda figure: self._result.plot(ax=figure.add_subplot()))

    def mimebundle(self) -> dict:
        """The widget view with a picture and the summary of the current fit beside it."""
        return with_picture(self, self.png(), self._result.summary())

    def _ipython_display_(self) -> None:
        """``display(panel)``: the widget plus its picture, in an output this panel
        renews after every change (so the saved notebook follows the panel)."""
        from IPython.display import display

        handle = display(self.mimebundle(), raw=True, display_id=True)
        if handle is not None:
            self._handles.append(handle)

    def _renew_pictures(self) -> None:
        if self._handles:
            bundle = self.mimebundle()
            for handle in self._handles:
                handle.update(bundle, raw=True)

    # ----- drawing -----
    def _draw(self) -> None:
        r = self._result
        fit = r.fit
        used = set(fit.gammas_used)
        runs = [run for run in r.runs if math.isfinite(run.mi)]
        g = np.array([run.gamma for run in runs], dtype=float)
        mi = np.array([run.mi for run in runs])
        inside = np.isin(g, list(used))
        means = r.gamma_means()
        m = np.array([means[int(k)][0] for k in self.gammas])
        sem = np.nan_to_num(np.array([means[int(k)][1] for k in self.gammas]))
        colours = [USED if int(k) in used else DROPPED for k in self.gammas]
        grid = np.linspace(0.0, self.gammas.max(), 60)
        centre = fit.mi + fit.slope * grid
        band = np.nan_to_num(fit.band(grid))
        largest = max(used)
        ci_low, ci_high = r.interval  # one-sided at InfoNCE's ceiling: the bar runs to the top
        low = float(np.nanmin(np.concatenate([mi, [ci_low], centre - band])))
        high = float(np.nanmax(np.concatenate([mi, [min(ci_high, fit.ci[1])], centre + band])))
        bound = r.linear_mi
        show_bound = r.linear_in_view(low, high)
        if show_bound:
            low, high = min(low, bound), max(high, bound)
        knn = r.neighbours
        if knn is not None:  # an estimate of the same MI: always in view
            low, high = min(low, knn.mi - knn.se), max(high, knn.mi + knn.se)
        pad = 0.08 * (high - low or 1.0)
        self._syncing = True
        try:
            with self.figure.hold_sync():
                self.y_scale.min, self.y_scale.max = low - pad, high + pad
                self.runs_in.x, self.runs_in.y = g[inside], mi[inside]
                self.runs_out.x, self.runs_out.y = g[~inside], mi[~inside]
                self.bars.x = np.stack([self.gammas, self.gammas], axis=1)
                self.bars.y = np.stack([m - sem, m + sem], axis=1)
                self.bars.colors = colours
                self.means.x, self.means.y, self.means.colors = self.gammas, m, colours
                self.line.x, self.line.y = grid, centre
                self.band.x, self.band.y = grid, np.stack([centre - band, centre + band])
                self.corrected.x, self.corrected.y = [0.0], [fit.mi]
                self.bound_line.x = [0.0, float(self.gammas.max())] if show_bound else []
                self.bound_line.y = [bound, bound] if show_bound else []
                spot = [] if knn is None else [KNN_X]
                self.neighbours_point.x = spot
                self.neighbours_point.y = [] if knn is None else [knn.mi]
                self.neighbours_bar.x = spot * 2
                self.neighbours_bar.y = [] if knn is None else [knn.mi - knn.se, knn.mi + knn.se]
                self.corrected_bar.x = [0.0, 0.0]
                self.corrected_bar.y = [ci_low, min(ci_high, high + pad)]
                self.handle.x, self.handle.y = [largest + 0.5], [high]
                self.cut_line.x = [largest + 0.5, largest + 0.5]
                self.cut_line.y = [low - pad, high + pad]
            self.delta.value = fit.delta_threshold
            self.min_points.value = fit.min_gamma_points
        finally:
            self._syncing = False
        self.readout.value = self._readout_html()

    def _readout_html(self) -> str:
        r, fit = self._result, self._result.fit
        u = r.units
        level = round(100 * fit.confidence_level)
        badge = verdict_badge(r.is_reliable)
        dropped = ", ".join(f"{g} ({why})" for g, why in sorted(fit.dropped.items())) or "none"
        bound = ""
        if math.isfinite(r.linear_mi):
            drawn = ", green dashes" if len(self.bound_line.y) else ""
            bound = (
                f"<br>lower bound from one feature pair (no training{drawn}): {r.linear_mi:.4f} {u}"
            )
        if r.neighbours is not None:
            knn = r.neighbours
            bound += (
                f"<br>nearest-neighbour estimate (KSG, no training, purple): {knn.mi:.4f} "
                f"&plusmn; {knn.se:.4f} {u}"
            )
        return (
            f"<div><b style='font-size:115%'>corrected MI = {html.escape(r.mi_text())}</b> "
            f"({level}% {'one-sided CI' if r.lower_bound_only else 'CI'}; prediction &plusmn; "
            f"{fit.mi_error_pred:.4f}) {badge}<br>"
            f"slope {fit.slope:.4g} {u}/gamma &middot; delta {fit.delta:.3f} &middot; "
            f"R&sup2; {fit.r2:.3f} &middot; {len(fit.gammas_used)} gammas used ({fit.mode}); "
            f"dropped: {html.escape(dropped)}{bound}{_choice_html(r)}"
            f"{flags_html(r.flags)}</div>"
        )


def _neighbour_marks(scales: dict) -> tuple[bq.Lines, bq.Scatter]:
    """The nearest-neighbour (KSG) estimate of few-dimensional data: its standard-error
    bar and its point (data arrive in :meth:`FitPanel._draw`)."""
    bar = bq.Lines(x=[], y=[], scales=scales, colors=[NEIGHBOURS], stroke_width=2)
    point = bq.Scatter(
        x=[],
        y=[],
        scales=scales,
        colors=[NEIGHBOURS],
        default_size=70,
        tooltip=bq.Tooltip(fields=["y"], labels=["KSG estimate"], formats=[".3f"]),
    )
    return bar, point


def _choice_html(result) -> str:
    """The critic search's line (rigorous mode chose the critic from the data), or ""."""
    text = result.critic_choice_text()
    return f"<br><span style='font-size:90%'>{html.escape(text)}</span>" if text else ""
