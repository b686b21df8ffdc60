"""Time of one fit-panel interaction (refit + redraw) for a 55-run analysis.

    OMP_NUM_THREADS=1 python benchmarks/fit_panel.py

Headless: the widgets serialise their state as they would for a browser.  The
target is well under 50 ms per drag or click.
"""

from __future__ import annotations

import time

import numpy as np

import nmi_jupyter as nmi
from nmi_jupyter.widgets.fit_panel import FitPanel


def main() -> None:
    x, y = nmi.generators.correlated_gaussians(n=5000, dim=5, mi=2.0, seed=0)
    result = nmi.rigorous(x, y, seed=0, epochs=5, device="cpu")  # 55 runs; numbers don't matter
    panel = FitPanel(result)
    drags, clicks, refits = [], [], []
    for cut in np.linspace(3.5, 10.5, 30):
        start = time.perf_counter()
        panel.handle.x = [cut]
        drags.append(time.perf_counter() - start)
    for index in range(10):
        start = time.perf_counter()
        panel._on_click(panel.means, {"data": {"index": index}})
        clicks.append(time.perf_counter() - start)
    for _ in range(30):
        start = time.perf_counter()
        result.refit(exclude={9, 10})
        refits.append(time.perf_counter() - start)
    print(
        f"{len(result.runs)} runs: refit alone {1e3 * np.median(refits):.2f} ms; "
        f"drag (refit + redraw) median {1e3 * np.median(drags):.2f} ms, "
        f"max {1e3 * max(drags):.2f} ms; click median {1e3 * np.median(clicks):.2f} ms "
        f"(target < 50 ms)"
    )


if __name__ == "__main__":
    main()
