"""Speed of a pairwise map: all pairs as one batched plan against one nmi.estimate per pair.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/pairwise_speed.py
    OMP_NUM_THREADS=1 python benchmarks/pairwise_speed.py --n 2000 --epochs 20 --channels 8

Eight channels (28 pairs i < j), the same options and seed both ways (so the same
splits, initialisations and minibatch orders; stacked arithmetic rounds differently,
which can move an early stop by an epoch, so the maps agree to a few hundredths of a
bit), measured side by side in one run.  Prints the CPU time (this process, all threads) and
the wall time of each way and their ratios, and the largest difference between the two
matrices.  CPU time is the fair measure on a shared machine; tests never assert times.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nmi_jupyter as nmi


def channels(n: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` channels; consecutive pairs (0, 1), (2, 3), ... share a latent."""
    rng = np.random.default_rng(seed)
    out = rng.normal(size=(n, count))
    for k in range(0, count - 1, 2):
        z = rng.normal(size=n)
        out[:, k] += 2 * z
        out[:, k + 1] += 2 * z
    return out


def timed(call):
    cpu, wall = time.process_time(), time.perf_counter()
    value = call()
    return value, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    x = channels(args.n, args.channels)
    options = {"epochs": args.epochs, "seed": 0, "threads": 1}
    nmi.estimate(x[:200, :1], x[:200, 1:2], epochs=1, batch_size=32, seed=0)  # warm-up
    batched, cpu_b, wall_b = timed(lambda: nmi.pairwise(x, **options))

    def one_by_one() -> np.ndarray:
        m = np.full((args.channels, args.channels), np.nan)
        for i, j in batched.pairs:
            m[i, j] = m[j, i] = nmi.estimate(x[:, i], x[:, j], **options).mi
        return m

    single, cpu_s, wall_s = timed(one_by_one)
    pairs = len(batched.pairs)
    print(f"pairwise map, {args.channels} channels ({pairs} pairs), N = {args.n}, "
          f"{args.epochs} epochs max (early stopping on), 1 thread")  # fmt: skip
    print(f"  batched (nmi.pairwise):      CPU {cpu_b:7.1f} s, wall {wall_b:7.1f} s")
    print(f"  one by one (nmi.estimate):   CPU {cpu_s:7.1f} s, wall {wall_s:7.1f} s")
    print(f"  ratio: CPU {cpu_s / cpu_b:.1f}x, wall {wall_s / wall_b:.1f}x")
    diff = np.nanmax(np.abs(batched.matrix - single))
    print(f"  largest |difference| between the two maps: {diff:.2e} bits")
    linked = [round(float(batched.matrix[k, k + 1]), 2) for k in range(0, args.channels - 1, 2)]
    print(f"  linked pairs (bits): {linked}")


if __name__ == "__main__":
    main()
