"""matplotlib pictures of sweeps and dimensionality analyses (imported only when drawn)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

__all__ = ["plot_sweep", "plot_dimensionality", "sweep_lines"]


def sweep_lines(result: Any) -> list[tuple[str, list[Any], np.ndarray, np.ndarray]]:
    """The lines of a sweep's picture: (label, x values, MI, error) for each combination
    of the keys after the first (one unlabelled line for a one-key grid).  Unreliable
    points stay in; the views mark them."""
    first, *others = result.keys
    lines = []
    other_values = [result.grid[k] for k in others]
    for combo in itertools.product(*other_values) if others else [()]:
        fixed = dict(zip(others, combo, strict=True))
        chosen = [p for p in result.points if all(p.values[k] == v for k, v in fixed.items())]
        if not chosen:
            continue
        label = ", ".join(f"{k}={v}" for k, v in fixed.items())
        xs = [p.values[first] for p in chosen]
        mi = np.array([p.mi for p in chosen], dtype=float)
        err = np.array([p.mi_error for p in chosen], dtype=float)
        lines.append((label, xs, mi, err))
    return lines


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def plot_sweep(result: Any, ax=None):
    """MI against the first grid key with error bars; one line per value of the other
    keys; unreliable points drawn hollow.  Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    first = result.keys[0]
    all_values = result.grid[first]
    numeric = _numeric(all_values)
    for k, (label, xs, mi, err) in enumerate(sweep_lines(result)):
        where = xs if numeric else [all_values.index(v) for v in xs]
        colour = f"C{k % 10}"
        ax.errorbar(
            where,
            mi,
            yerr=np.nan_to_num(err),
            color=colour,
            marker="o",
            capsize=3,
            label=label or None,
        )
        bad = [i for i, p in enumerate(_points_of(result, xs, label)) if not p.is_reliable]
        if bad:
            ax.plot([where[i] for i in bad], mi[bad], "o", mfc="white", mec=colour, zorder=3)
    if not numeric:
        ax.set_xticks(range(len(all_values)), [str(v) for v in all_values])
    elif all_values and min(all_values) > 0 and max(all_values) / min(all_values) >= 16:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(first)
    ax.set_ylabel(f"MI ({result.units})")
    ax.set_title(f"MI against {first}" + (" (rigorous)" if result.rigorous else ""))
    if len(result.keys) > 1:
        ax.legend(fontsize="small")
    return ax


def _points_of(result: Any, xs: list[Any], label: str) -> list[Any]:
    first = result.keys[0]
    fixed = dict(part.split("=", 1) for part in label.split(", ")) if label else {}
    out = []
    for value in xs:
        for p in result.points:
            if p.values[first] == value and all(str(p.values[k]) == v for k, v in fixed.items()):
                out.append(p)
                break
    return out


def plot_dimensionality(result: Any, ax=None):
    """Mean MI against embedding_dim with error bars, each split faint, the dimension
    a dashed vertical line, the saturation threshold a dotted one.  Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    dims = list(result.dims_done)
    for curve in result.curves:
        ax.plot(dims, curve, color="C0", alpha=0.25, lw=1)
    mi, err = result.sweep.mi, result.sweep.mi_error
    ax.errorbar(
        dims,
        mi,
        yerr=np.nan_to_num(err),
        color="C0",
        marker="o",
        capsize=3,
        label="mean of the splits",
    )
    reading = result.reading
    if np.isfinite(reading.threshold):
        ax.axhline(reading.threshold, color="0.5", ls=":", lw=1, label="saturation threshold")
    if result.dimension is not None:
        low, high = result.dimension_range or (result.dimension, result.dimension)
        ax.axvline(
            result.dimension,
            color="C3",
            ls="--",
            lw=1.2,
            label=f"dimension {result.dimension} (splits {low}-{high})",
        )
        if high > low:
            ax.axvspan(low, high, color="C3", alpha=0.08)
    else:
        ax.set_title("the data cannot tell the dimension")
    ax.set_xlabel("embedding_dim")
    ax.set_ylabel(f"MI ({result.units})")
    if result.dimension is not None:
        ax.set_title(f"{result.mode} dimensionality: {result.dimension}")
    ax.legend(loc="lower right", fontsize="small")
    return ax
