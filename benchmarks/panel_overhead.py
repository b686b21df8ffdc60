"""What the live panel costs: the same analysis with and without it, side by side.

    OMP_NUM_THREADS=1 python benchmarks/panel_overhead.py

Headless: widgets still serialise every update for the comm (as in a kernel),
only the socket is missing.  Prints wall times, the overhead ratio and the
number of redraws.  The target is under 5 % of training time.
"""

from __future__ import annotations

import time

import nmi_jupyter as nmi
from nmi_jupyter.widgets.training_panel import TrainingPanel


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    x, y = nmi.generators.correlated_gaussians(n=5000, dim=5, mi=2.0, seed=0)
    cases = {
        "estimate": (nmi.estimate, "estimate", 1),
        "rigorous": (nmi.rigorous, "rigorous", 58),
    }
    for label, (api, mode, runs) in cases.items():
        plain, panelled, redraws = [], [], 0
        for _ in range(2):  # interleaved, best of two each
            plain.append(timed(lambda f=api: f(x, y, seed=0, device="cpu")))
            panel = TrainingPanel(mode, total_runs=runs)
            panelled.append(timed(lambda f=api, p=panel: f(x, y, seed=0, device="cpu", observer=p)))
            redraws = panel.redraws
        a, b = min(plain), min(panelled)
        print(
            f"{label}: without panel {a:.2f} s, with panel {b:.2f} s, "
            f"overhead {100 * (b - a) / a:+.1f} % ({redraws} redraws)"
        )


if __name__ == "__main__":
    main()
