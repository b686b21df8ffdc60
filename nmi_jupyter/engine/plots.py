"""Matplotlib figures of results (matplotlib is imported only when a plot is drawn)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nmi_jupyter.engine.rigorous_result import RigorousResult

__all__ = ["plot_gamma_fit"]


def plot_gamma_fit(result: RigorousResult, ax=None):
    """Draw the bias-correction fit of a rigorous result; returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    fit, u = result.fit, result.units
    used = set(fit.gammas_used) if fit else set()
    runs_g = np.array([r.gamma for r in result.runs], dtype=float)
    runs_mi = np.array([r.mi for r in result.runs])
    in_fit = np.isin(runs_g, list(used))
    ax.scatter(runs_g[in_fit], runs_mi[in_fit], s=10, color="C0", alpha=0.35, label="runs")
    ax.scatter(runs_g[~in_fit], runs_mi[~in_fit], s=10, color="0.6", alpha=0.5)
    for g, (mean, sem, _) in result.gamma_means().items():
        colour = "C0" if g in used else "0.6"
        ax.errorbar(
            g,
            mean,
            yerr=0 if math.isnan(sem) else sem,
            fmt="o",
            color=colour,
            capsize=3,
            ms=6,
            zorder=3,
        )
        if fit and g in fit.dropped:
            ax.annotate(
                fit.dropped[g],
                (g, mean),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize="x-small",
                color="0.45",
            )
    if fit:
        top = max(result.gammas)
        grid = np.linspace(0, top, 100)
        ax.plot(grid, fit.mi + fit.slope * grid, color="C3", lw=1.5, label="WLS fit")
        band = fit.band(grid)
        if np.all(np.isfinite(band)):
            ax.fill_between(
                grid,
                fit.mi + fit.slope * grid - band,
                fit.mi + fit.slope * grid + band,
                color="C3",
                alpha=0.15,
                label=f"{round(100 * fit.confidence_level)}% confidence band",
            )
        low, high = result.interval
        ax.errorbar(
            0,
            fit.mi,
            yerr=[[fit.mi - low], [high - fit.mi if math.isfinite(high) else 0.0]],
            fmt="D",
            color="C3",
            capsize=4,
            ms=7,
            label=f"corrected MI {result.mi_text(3)}",
            zorder=4,
        )
        if not math.isfinite(high):  # InfoNCE at its ceiling: the truth may be far above
            ax.annotate(
                "",
                xy=(0, 0.98),
                xycoords=("data", "axes fraction"),
                xytext=(0, fit.mi),
                textcoords="data",
                arrowprops={"arrowstyle": "-|>", "color": "C3", "lw": 1.5},
                zorder=4,
            )
    if result.lower_bound_only:  # the ceiling flag: draw the cap the runs ran into
        from nmi_jupyter.engine.units import from_nats
        from nmi_jupyter.engine.verdict import ceilings

        cap = float(from_nats(ceilings(result.settings, result.n_samples)[0], u))
        ax.axhline(
            cap, color="C3", ls=":", lw=1, label=f"InfoNCE ceiling log(batch_size) ({cap:.2f})"
        )
    bound = result.linear_mi
    if result.linear_in_view(*ax.get_ylim()):
        ax.axhline(
            bound,
            color="C2",
            ls="--",
            lw=1.2,
            label=f"lower bound, one feature pair ({bound:.3f}; no training)",
        )
    knn = result.neighbours
    if knn is not None:  # few dimensions: the KSG estimate, beside the corrected MI
        ax.errorbar(
            -0.25,
            knn.mi,
            yerr=knn.se,
            fmt="o",
            color="C4",  # the widgets' NEIGHBOURS colour in the default cycle
            capsize=3,
            ms=6,
            label=f"nearest-neighbour estimate, KSG ({knn.mi:.3f}; no training)",
            zorder=4,
        )
    ax.set_xlim(-0.5, max(result.gammas) + 0.6)
    ax.set_xlabel("gamma (data split into gamma chunks)")
    ax.set_ylabel(f"MI ({u})")
    verdict = "reliable" if result.is_reliable else "NOT reliable"
    ax.set_title(f"Bias correction: MI = {result.mi:.3f} {u} ({verdict})")
    n = result.n_samples
    # Samples per run at a few gammas, as labels: a function axis (n / gamma) breaks
    # down at gamma <= 0, which the plot shows for the extrapolated value.
    secondary = ax.secondary_xaxis("top")
    marks = [g for g in result.gammas if g in (1, 2, 5, 10, 20, 50)] or list(result.gammas)
    secondary.set_xticks(marks, labels=[str(n // g) for g in marks])
    secondary.set_xlabel("samples per run (N / gamma)")
    ax.legend(loc="best", fontsize="small")
    return ax
