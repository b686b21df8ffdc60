"""Time one default estimate (N = 5000, d = 5) and compare torch thread counts.

    OMP_NUM_THREADS=1 python benchmarks/bench_estimate.py [--repeats 2]

Prints epochs/second and training samples/second for each thread count, measured
side by side in this run, and the ratio to one thread.  Tests never assert times;
this script is where speed is watched.
"""

from __future__ import annotations

import argparse
import time

import torch

import nmi_jupyter as nmi


def time_estimate(x, y, threads: int, repeats: int, epochs: int) -> tuple[float, float, float]:
    """Best-of-``repeats`` seconds per epoch, epochs/s and samples/s (all epochs run)."""
    best = float("inf")
    for _ in range(repeats):
        # patience >= epochs: every run does the same number of epochs.
        start = time.perf_counter()
        r = nmi.estimate(
            x, y, seed=0, epochs=epochs, patience=epochs, threads=threads, device="cpu"
        )
        best = min(best, (time.perf_counter() - start) / r.epochs_run)
    return best, 1.0 / best, r.n_train / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    x, y = nmi.generators.correlated_gaussians(n=args.n, dim=args.dim, mi=2.0, seed=0)
    print(
        f"one estimate: N={args.n}, d={args.dim}, {args.epochs} epochs, torch {torch.__version__}"
    )
    base = None
    for threads in sorted({1, 2, torch.get_num_threads()}):
        per_epoch, eps, sps = time_estimate(x, y, threads, args.repeats, args.epochs)
        base = base or per_epoch
        print(
            f"threads={threads}: {per_epoch * 1e3:7.1f} ms/epoch  {eps:6.1f} epochs/s  "
            f"{sps:9.0f} train samples/s  (time ratio to 1 thread: {per_epoch / base:.2f})"
        )
    # Full default run (early stopping on) for the headline number.
    start = time.perf_counter()
    r = nmi.estimate(x, y, seed=0, device="cpu")
    wall = time.perf_counter() - start
    print(
        f"default estimate: {wall:.2f} s, {r.epochs_run} epochs, MI {r.mi:.3f} bits (truth 2.000)"
    )


if __name__ == "__main__":
    main()
