"""Calibration of nmi.permutation_test: p-values of independent data, and of a clear link.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/permutation_calibration.py
    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/permutation_calibration.py --timeseries

i.i.d. (default): 20 independent null data sets (x, y independent Gaussians) tested
with 99 permutations each; a valid test puts about 5 % of p-values below 0.05 (1 of
20 expected; 2 or fewer in 20 with probability 0.92).  Then one clear dependence
(1 bit), which should get the smallest p-value 99 permutations allow, 0.01.

``--timeseries``: 20 pairs of independent AR(1) series (phi = 0.95), tested with
``null="circular"`` and with ``null="permute"`` (which ignores the autocorrelation
and should give too many small p-values), blocked split.  Tests never assert these.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nmi_jupyter as nmi


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(n)
    out[0] = rng.normal()
    for t in range(1, n):
        out[t] = phi * out[t - 1] + np.sqrt(1 - phi**2) * rng.normal()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--permutations", type=int, default=99)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--timeseries", action="store_true")
    args = parser.parse_args()
    options = {"epochs": args.epochs, "batch_size": 64, "threads": 1}
    start = time.process_time()
    if args.timeseries:
        for null in ("circular", "permute"):
            ps = []
            for k in range(args.datasets):
                rng = np.random.default_rng(100 + k)
                x, y = ar1(args.n, 0.95, rng), ar1(args.n, 0.95, rng)
                r = nmi.permutation_test(
                    x, y, args.permutations, null=null, split="blocked", seed=k, **options
                )
                ps.append(r.p_value)
            ps = np.array(ps)
            print(f"AR(1) pairs, null={null}: {np.sum(ps < 0.05)} of {len(ps)} p < 0.05; "
                  f"p-values {np.round(np.sort(ps), 3).tolist()}")  # fmt: skip
    else:
        ps, nulls = [], []
        for k in range(args.datasets):
            rng = np.random.default_rng(k)
            x, y = rng.normal(size=(args.n, 1)), rng.normal(size=(args.n, 1))
            r = nmi.permutation_test(x, y, args.permutations, seed=k, **options)
            ps.append(r.p_value)
            nulls.append(np.median(r.null))
        ps = np.array(ps)
        print(f"independent data, {args.datasets} data sets, N = {args.n}, "
              f"{args.permutations} permutations, {args.epochs} epochs: "
              f"{np.sum(ps < 0.05)} of {len(ps)} p < 0.05")  # fmt: skip
        print(f"  p-values: {np.round(np.sort(ps), 3).tolist()}")
        print(f"  median null MI (bits): {np.median(nulls):.4f}")
        x, y = nmi.generators.correlated_gaussians(args.n, 1, 1.0, seed=0)
        r = nmi.permutation_test(x, y, args.permutations, seed=0, **options)
        print(f"clear dependence (1 bit): MI {r.mi:.3f} bits, null max {r.null.max():.3f}, "
              f"p = {r.p_value:.4g} (smallest possible {r.min_p_value:.4g})")  # fmt: skip
    print(f"CPU time: {time.process_time() - start:.0f} s")


if __name__ == "__main__":
    main()
