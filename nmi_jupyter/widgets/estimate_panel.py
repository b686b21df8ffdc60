"""The live panel of one run (``nmi.estimate``): training, validation and smoothed
validation MI per epoch, and the best epoch so far."""

from __future__ import annotations

import html
import math

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nmi_jupyter.widgets.buffers import decimate
from nmi_jupyter.widgets.colours import MUTED, TRAIN, VAL
from nmi_jupyter.widgets.static import png_of
from nmi_jupyter.widgets.training_panel import TrainingPanel, integer_ticks

__all__ = ["EstimatePanel"]


class EstimatePanel(TrainingPanel):
    """Curves of one training run as it trains (see :class:`TrainingPanel`)."""

    mode = "estimate"

    def _figures(self, x: bq.LinearScale, y: bq.LinearScale) -> list[bq.Figure]:
        scales = {"x": x, "y": y}
        self.train_line = bq.Lines(
            x=[], y=[], scales=scales, colors=[TRAIN], labels=["training"], display_legend=True
        )
        # The raw validation curve is thin, the smoothed one thick, both fully opaque:
        # a faint line (and its legend entry) vanished in the dark theme.
        self.val_line = bq.Lines(
            x=[],
            y=[],
            scales=scales,
            colors=[VAL],
            opacities=[0.85],
            stroke_width=1,
            labels=["validation"],
            display_legend=True,
        )
        self.smooth_line = bq.Lines(
            x=[],
            y=[],
            scales=scales,
            colors=[VAL],
            stroke_width=2.5,
            labels=["validation (smoothed)"],
            display_legend=True,
        )
        self.best_mark = bq.Lines(
            x=[], y=[], scales=scales, colors=[MUTED], line_style="dashed", labels=["best epoch"]
        )
        return [
            bq.Figure(
                marks=[self.train_line, self.val_line, self.smooth_line, self.best_mark],
                axes=[self.epoch_axis, self.y_axis],
                layout=widgets.Layout(width="100%", height="300px"),
                legend_location="bottom-right",
                fig_margin={"top": 20, "bottom": 40, "left": 60, "right": 20},
            )
        ]

    def _draw(self, units: str) -> None:
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
        self.epoch_axis.tick_values = integer_ticks(int(ex[-1]) + 1)
        epoch = len(trace.val)
        rate = trace.elapsed / epoch if epoch else math.nan
        eta = rate * max(trace.max_epochs - epoch, 0)
        self.status.value = (
            f"<b>epoch {epoch}</b> of at most {trace.max_epochs} &middot; "
            f"{trace.elapsed:.1f} s elapsed, at most {eta:.0f} s left &middot; best epoch "
            f"{trace.best_epoch + 1} ({trace.stalled}/{trace.patience} epochs "
            f"without improvement{'; learning rate dropped' if trace.lr_dropped else ''})"
        )

    def _number_html(self, result, fit_below: bool, reason: str) -> str:
        return (
            f"<b>MI = {result.mi:.3f} {result.units}</b> (validation {result.mi_val:.3f}) "
            f"&middot; stopped at epoch {result.epochs_run}: {html.escape(reason)}"
        )

    def _no_number_sentence(self, result, reason: str) -> str:
        when = reason or "stopped"
        return f"The run was {when} before its first epoch finished: there is no estimate yet."

    def png_fallback(self, result) -> bytes:
        """The training curves of the run: the result's own plot."""
        return png_of(lambda figure: result.plot(ax=figure.add_subplot()))
