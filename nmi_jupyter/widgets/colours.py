"""The panels' colours, readable in JupyterLab's light and dark themes.

bqplot draws marks with fixed colours (no theme variables), so every colour here
has a contrast of at least 3:1 (WCAG's level for graphics) against both a white
background and JupyterLab's dark one (#111111).  The old viridis
key started at #440154 (1.1:1 on dark: gamma 1 vanished) and ended at #fde725
(1.3:1 on white).
"""

from __future__ import annotations

__all__ = [
    "GAMMA_COLOURS",
    "gamma_colour",
    "TRAIN",
    "VAL",
    "HIGHLIGHT",
    "FIT",
    "MUTED",
    "DROPPED",
    "BOUND",
    "NEIGHBOURS",
    "HANDLE",
]

# One per gamma 1..10: hue from blue to orange (the colour-blind-safe axis) through
# purple and red, lightness rising slightly with gamma (CIELAB L* 50-60, chroma 50);
# 3.1-4.3:1 on white, 4.3-6.0:1 on #111111.
GAMMA_COLOURS = [
    "#007ecc",
    "#4778cd",
    "#7a72c8",
    "#9e6bbd",
    "#b965ab",
    "#cc6298",
    "#d76382",
    "#db686e",
    "#d9725b",
    "#d07d4b",
]
TRAIN = "#1f77b4"  # 4.8:1 on white, 3.9:1 on dark
VAL = "#e8710a"  # 3.1:1 on white, 6.1:1 on dark (matplotlib's #ff7f0e is 2.5:1 on white)
HIGHLIGHT = "#d62728"  # the one run training now; 5.0:1 on white, 3.8:1 on dark
FIT = "#d62728"  # the extrapolation line, its band and the corrected MI
DROPPED = "#8a8a8a"  # gammas left out of the fit: 3.5:1 on white, 5.5:1 on dark
BOUND = "#2ca02c"  # the one-pair lower bound: 3.4:1 on white, 5.6:1 on dark
NEIGHBOURS = "#9467bd"  # the nearest-neighbour (KSG) estimate: 4.3:1 on white, 4.4:1 on dark
HANDLE = "#ff7f0e"  # the drag handle, a filled block (2.5:1 on white; 6.5:1 on dark)
MUTED = "#808080"  # provisional fits, best-epoch marks: 4.0:1 on white, 4.8:1 on dark


def gamma_colour(gamma: int | None) -> str:
    """The key's colour of ``gamma`` (cycling past 10)."""
    return GAMMA_COLOURS[((gamma or 1) - 1) % len(GAMMA_COLOURS)]
