"""Speed of a sweep: ``nmi.sweep`` against the same estimates run one after another.

A sweep of 6 embedding dimensions (1, 2, 4, 8, 16, 32) with 3 estimates per point on
correlated Gaussians (N = 5000, d = 5, 2 bits), three ways, in this run, interleaved:

- ``nmi.sweep``: the 18 runs of every width in one stack (narrower embeddings
  zero-padded to the widest);
- per point: one ``nmi.sweep`` per embedding dimension, each point's 3 runs stacked and
  the points one after another (what ``nmi.sweep`` did before widths shared a stack);
- one after another: a loop of ``nmi.estimate`` calls (18 runs, one at a time).

All three use the same options and seeds, so they train the same runs; the curves
agree up to float rounding.  Times are CPU seconds of this process (one torch
thread), printed as ratios, with the largest difference between the curves.

``--dimensionality`` measures ``nmi.dimensionality(x, y, embedding_dims=range(1, 7),
splits=3, epochs=20)`` on ``latent_channels(3000, 2, 40, seed=1)`` (hybrid critic)
against the same runs as one single-point sweep per dimension (per point, as before).
Tests never assert times.

    OMP_NUM_THREADS=1 python benchmarks/sweep_speed.py              # about 3 minutes
    OMP_NUM_THREADS=1 python benchmarks/sweep_speed.py --rounds 2
    OMP_NUM_THREADS=1 python benchmarks/sweep_speed.py --dimensionality
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import nmi_jupyter as nmi
from nmi_jupyter.engine.plan import REPEAT_SEED_STREAM, run_seed
from nmi_jupyter.engine.sweep import HYBRID_DIMENSIONALITY_DEFAULTS

DIMS = (1, 2, 4, 8, 16, 32)
LATENT_DIMS = range(1, 7)


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


def per_point(x, y, dims, repeats, **options):
    """One single-point ``nmi.sweep`` per dimension: each point's runs stacked, the
    points one after another (same seeds as the whole sweep)."""
    return np.array(
        [
            nmi.sweep(x, y, grid={"embedding_dim": [k]}, repeats=repeats, **options).mi[0]
            for k in dims
        ]
    )


def timed(call):
    start = time.process_time()
    value = call()
    return value, time.process_time() - start


def sweep_rounds(args) -> None:
    x, y = nmi.generators.correlated_gaussians(args.n, 5, 2.0, seed=args.seed)
    print(
        f"sweep of embedding_dim {list(DIMS)}, {args.repeats} estimates per point, "
        f"correlated_gaussians({args.n}, dim=5, mi=2), 1 torch thread"
    )
    grid = {"embedding_dim": list(DIMS)}
    for round_ in range(args.rounds):
        sw, swept = timed(lambda: nmi.sweep(x, y, grid=grid, repeats=args.repeats, seed=args.seed))
        points, pointed = timed(lambda: per_point(x, y, DIMS, args.repeats, seed=args.seed))
        loop, looped = timed(lambda: one_after_another(x, y, DIMS, args.repeats, args.seed))
        print(
            f"round {round_}: nmi.sweep {swept:6.1f} CPU s; per point {pointed:6.1f} CPU s; "
            f"one after another {looped:6.1f} CPU s; ratios: one after another / sweep "
            f"{looped / swept:.1f}x, per point / sweep {pointed / swept:.2f}x; largest "
            f"|difference| of the curves {np.max(np.abs(sw.mi - loop)):.3f} bits (loop), "
            f"{np.max(np.abs(sw.mi - points)):.2g} bits (per point)"
        )


def dimensionality_rounds(args) -> None:
    x, y = nmi.generators.latent_channels(3000, 2, 40, seed=1)
    options = {"epochs": 20, "seed": args.seed}
    print(
        f"nmi.dimensionality(embedding_dims={list(LATENT_DIMS)}, splits=3, epochs=20) on "
        "latent_channels(3000, 2, 40, seed=1), 1 torch thread"
    )
    for round_ in range(args.rounds):
        dim, whole = timed(
            lambda: nmi.dimensionality(x, y, embedding_dims=LATENT_DIMS, splits=3, **options)
        )
        curve, pointed = timed(
            lambda: per_point(
                x, y, LATENT_DIMS, 3, critic="hybrid", **HYBRID_DIMENSIONALITY_DEFAULTS, **options
            )
        )
        print(
            f"round {round_}: nmi.dimensionality {whole:6.1f} CPU s; per point {pointed:6.1f} "
            f"CPU s; ratio {pointed / whole:.2f}x; dimension {dim.dimension}; largest "
            f"|difference| of the curves {np.max(np.abs(dim.sweep.mi - curve)):.2g} bits"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dimensionality", action="store_true")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.dimensionality:
        dimensionality_rounds(args)
    else:
        sweep_rounds(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
