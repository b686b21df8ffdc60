"""matplotlib pictures of pairwise maps and permutation tests (imported only when drawn)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["plot_pairwise", "plot_permutation"]


def plot_pairwise(result: Any, ax=None):
    """The MI matrix as a heatmap (channels labelled, empty cells for the diagonal and
    pairs without a value), unreliable pairs marked with a cross.  Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.4))
    matrix = np.ma.masked_invalid(result.matrix)
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0, origin="upper")
    ax.figure.colorbar(image, ax=ax, label=f"MI ({result.units})")
    rows, columns = result.shape
    ax.set_xticks(range(columns), result.y_names, rotation=90 if columns > 8 else 0)
    ax.set_yticks(range(rows), result.x_names)
    ax.set_xlabel("x channel" if result.within else "y channel")
    ax.set_ylabel("x channel")
    for (i, j), point in zip(result.pairs, result.points, strict=True):
        if not point.is_reliable:
            for a, b in ((i, j), (j, i)) if result.within else ((i, j),):
                ax.plot(b, a, marker="x", color="red", ms=6)
    ax.set_title(f"pairwise MI, {len(result.points)} pairs")
    return ax


def plot_permutation(result: Any, ax=None):
    """A histogram of the null runs' MI, the observed MI as a vertical line, the
    p-value in the title.  Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    null = result.null
    if len(null):
        ax.hist(null, bins=max(5, min(40, len(null) // 5)), color="0.6", label="null runs")
    if math.isfinite(result.mi):
        ax.axvline(result.mi, color="C3", lw=2, label="observed")
    p = result.p_value
    ax.set_title(f"permutation test: p = {p:.3g}" if math.isfinite(p) else "permutation test")
    ax.set_xlabel(f"MI ({result.units})")
    ax.set_ylabel("null runs")
    ax.legend(loc="best")
    return ax
