"""A sweep of the embedding dimension on a 4-dimensional correlated Gaussian pair.

The truth does not depend on the embedding dimension k of the separable critic
g(x)·h(y); the estimate does: a width-k dot product can carry k of the 4 coupled
directions (and Gaussians' optimal critic also has a term in y alone, which costs one
more).  So the sweep's MI should rise with k and level off at the truth, within its
errors, once k reaches 5.  This script runs ``nmi.sweep`` and prints each point, the
truth, and whether the points from ``--plateau-from`` on agree with the truth within
two of their standard errors plus ``--tolerance`` (the estimator's own finite-sample
bias at this N).

    OMP_NUM_THREADS=1 python benchmarks/sweep_levels.py                 # about 2 minutes
    OMP_NUM_THREADS=1 python benchmarks/sweep_levels.py --seeds 0,1,2 --n 10000
"""

from __future__ import annotations

import argparse
import time

import nmi_jupyter as nmi

TRUTH_BITS = 2.0
DIM = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--dims", default="1,2,3,4,5,6,8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plateau-from", type=int, default=5)
    parser.add_argument("--tolerance", type=float, default=0.05, help="relative, of the truth")
    args = parser.parse_args(argv)
    dims = [int(d) for d in args.dims.split(",")]
    ok_all = True
    for seed in (int(s) for s in args.seeds.split(",")):
        x, y = nmi.generators.correlated_gaussians(args.n, DIM, TRUTH_BITS, seed=seed)
        start = time.process_time()
        sw = nmi.sweep(x, y, grid={"embedding_dim": dims}, repeats=args.repeats, seed=seed)
        cpu = time.process_time() - start
        print(
            f"seed {seed}: correlated_gaussians({args.n}, dim={DIM}, mi={TRUTH_BITS}) "
            f"truth {TRUTH_BITS:.3f} bits; {cpu:.1f} CPU s"
        )
        print(f"  {'k':>3} {'MI':>7} {'± se':>7}  {'vs truth':>9}")
        plateau_ok = True
        for k, mi, se in zip(dims, sw.mi, sw.mi_error, strict=True):
            within = abs(mi - TRUTH_BITS) <= 2 * se + args.tolerance * TRUTH_BITS
            mark = ""
            if k >= args.plateau_from:
                plateau_ok &= bool(within)
                mark = "level, at the truth" if within else "level, NOT at the truth"
            print(f"  {k:>3} {mi:7.3f} {se:7.3f}  {mi - TRUTH_BITS:+9.3f}  {mark}")
        rising = all(b >= a - 0.05 for a, b in zip(sw.mi[:-1], sw.mi[1:], strict=True))
        print(
            f"  rises with k: {'yes' if rising else 'NO'}; levels off at the truth from "
            f"k = {args.plateau_from}: {'yes' if plateau_ok else 'NO'}"
        )
        ok_all &= plateau_ok and rising
    print("all seeds:", "yes" if ok_all else "NO")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
