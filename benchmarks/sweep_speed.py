"""Speed of a sweep: ``nmi.sweep`` against the same estimates run one after another.

A sweep of 6 embedding dimensions (1, 2, 4, 8, 16, 32) with 3 estimates per point on
correlated Gaussians (N = 5000, d = 5, 2 bits): ``nmi.sweep`` (each point's runs
stacked in the batched trainer, the points one after another) against a loop of
``nmi.estimate`` calls with the same options and seeds (18 runs, one at a time).
Both are measured in this run, interleaved, as CPU seconds of this process (one torch
thread), and printed as a ratio with the largest difference between the two curves.
Tests never assert times.

    OMP_NUM_THREADS=1 python benchmarks/sweep_speed.py              # about 2 minutes
    OMP_NUM_THREADS=1 python benchmarks/sweep_speed.py --rounds 2
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import nmi_jupyter as nmi
from nmi_jupyter.engine.plan import REPEAT_SEED_STREAM, run_seed

DIMS = (1, 2, 4, 8, 16, 32)


def one_after_another(x, y, dims, repeats, seed):
    """The sweep's estimates with ``nmi.estimate``: the same seeds as the sweep's runs."""
    curve = []
    for k in dims:
        values = [
            nmi.estimate(x, y, embedding_dim=k, seed=run_seed(seed, REPEAT_SEED_STREAM, 0, r)).mi
            for r in range(repeats)
        ]
        curve.append(float(np.mean(values)))
    return np.array(curve)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    x, y = nmi.generators.correlated_gaussians(args.n, 5, 2.0, seed=args.seed)
    print(
        f"sweep of embedding_dim {list(DIMS)}, {args.repeats} estimates per point, "
        f"correlated_gaussians({args.n}, dim=5, mi=2), 1 torch thread"
    )
    for round_ in range(args.rounds):
        start = time.process_time()
        sw = nmi.sweep(
            x, y, grid={"embedding_dim": list(DIMS)}, repeats=args.repeats, seed=args.seed
        )
        swept = time.process_time() - start
        start = time.process_time()
        loop = one_after_another(x, y, DIMS, args.repeats, args.seed)
        looped = time.process_time() - start
        print(
            f"round {round_}: nmi.sweep {swept:6.1f} CPU s; one after another {looped:6.1f} "
            f"CPU s; ratio {looped / swept:.1f}x; largest |difference| of the curves "
            f"{np.max(np.abs(sw.mi - loop)):.3f} bits"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
