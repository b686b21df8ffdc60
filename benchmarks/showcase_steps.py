"""The showcase (see benchmarks/showcase.py) with as many optimisation steps at every gamma.

Each chunk of gamma chunks is estimated on its own with ``epochs = 50 * gamma`` and
``patience = 10 * gamma`` (so a chunk of N/gamma samples gets as many steps as the full
data), then the training MI of all runs is fitted as rigorous mode does.  It tests
whether the training MI falling with gamma on this data is a lack of steps.
Measured: it is not (docs/research/showcase.md).

    OMP_NUM_THREADS=1 python benchmarks/showcase_steps.py --seeds 0,1    # ~1 minute a seed
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import nmi_jupyter as nmi
from nmi_jupyter.engine.extrapolate import fit_gamma_line

N, LATENT_DIM, OUT_DIM, TRUTH_BITS = 2000, 10, 100, 3.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    for seed in (int(s) for s in args.seeds.split(",")):
        x, y = nmi.generators.nonlinear_latent(N, LATENT_DIM, OUT_DIM, TRUTH_BITS, seed=seed)
        order = np.random.default_rng(seed).permutation(N)
        start = time.process_time()
        gammas, train, val = [], [], []
        for g in range(1, 11):
            for k, rows in enumerate(np.array_split(order, g)):
                e = nmi.estimate(
                    x[rows], y[rows], seed=seed * 1000 + g * 10 + k, epochs=50 * g, patience=10 * g
                )
                if e.stop_reason != "diverged":
                    gammas.append(g)
                    train.append(e.mi)
                    val.append(e.mi_val)
        fit = fit_gamma_line(gammas, train, mi_val=val, n_samples=N)
        g, tr, va = map(np.asarray, (gammas, train, val))
        per_gamma = " ".join(
            f"{k}:{tr[g == k].mean():.2f}/{va[g == k].mean():.2f}" for k in range(1, 11)
        )
        print(
            f"seed {seed}: corrected {fit.mi:.3f} bits (truth {TRUTH_BITS}), validation "
            f"intercept {fit.mi_val:.3f}, {time.process_time() - start:.0f} CPU s; "
            f"per gamma train/val: {per_gamma}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
