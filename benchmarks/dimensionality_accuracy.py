"""Accuracy of nmi.dimensionality on data with a known latent dimension (issue 19).

    OMP_NUM_THREADS=1 python benchmarks/dimensionality_accuracy.py            # the issue's protocol
    OMP_NUM_THREADS=1 python benchmarks/dimensionality_accuracy.py --quick    # a small version

The protocol (the defaults): generators.latent_channels with latent dimension k in
{2, 4, 6}, 40 channels, N = 10000, seeds 0-4; for each, the interaction dimensionality
(x, y: two populations reading the same latent) and the internal one (x alone, random
halves of its channels), embedding dims 1..k+4, with nmi.dimensionality's own defaults
unless options are given.  It prints one line per analysis (the dimension read, its
per-split range, the truth, the mean MI curve) and, per k and mode, how many seeds
read exactly k, the issue's bar being at least 4 of 5.  The full protocol trains
2 x 3 x 5 analyses of 5 splits x up to 10 dims at N = 10000: hours on a laptop's CPU,
minutes on a GPU (--device cuda).  --quick: k in {2, 4}, seed 1, N = 3000, 3 splits,
60 epochs, hidden_dim 32 (about 20 minutes on one CPU thread).
"""

from __future__ import annotations

import argparse
import json
import time

import nmi_jupyter as nmi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version (minutes)")
    parser.add_argument("--ks", type=int, nargs="+", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--channels", type=int, default=40)
    parser.add_argument("--splits", type=int, default=None)
    parser.add_argument("--modes", nargs="+", default=["interaction", "internal"])
    parser.add_argument("--critic", default=None, help="default: nmi.dimensionality's own")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--hidden-dim", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", default=None, help="also write every reading to this file")
    args = parser.parse_args()
    quick = {"ks": [2, 4], "seeds": [1], "n": 3000, "splits": 3, "epochs": 60, "hidden_dim": 32}
    full = {"ks": [2, 4, 6], "seeds": [0, 1, 2, 3, 4], "n": 10000, "splits": 5}
    plan = quick if args.quick else full
    ks = args.ks or plan["ks"]
    seeds = args.seeds or plan["seeds"]
    n = args.n or plan["n"]
    splits = args.splits or plan["splits"]
    options = {"device": args.device, "threads": 1}
    for key in ("critic", "epochs", "hidden_dim"):
        value = getattr(args, key) if getattr(args, key) is not None else plan.get(key)
        if value is not None:
            options[key] = value
    print(
        f"latent_channels: k in {ks}, {args.channels} channels, N = {n}, seeds {seeds}; "
        f"{splits} splits; options {options}"
    )
    readings = []
    for k in ks:
        dims = list(range(1, k + 5))
        for mode in args.modes:
            hits = 0
            for seed in seeds:
                start = time.perf_counter()
                if mode == "interaction":
                    x, y = nmi.generators.latent_channels(n, k, args.channels, seed=seed)
                else:
                    x = nmi.generators.latent_channels(n, k, args.channels, seed=seed, pair=False)
                    y = None
                r = nmi.dimensionality(
                    x, y, embedding_dims=dims, splits=splits, seed=seed, **options
                )
                hits += r.dimension == k
                curve = " ".join(f"{m:.2f}" for m in r.sweep.mi)
                print(
                    f"k={k} {mode:<11} seed={seed}: dimension {r.dimension} "
                    f"(splits {r.dimension_range}), truth {k}; MI [{r.units}] by dim: {curve} "
                    f"({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
                readings.append(
                    {
                        "k": k,
                        "mode": mode,
                        "seed": seed,
                        "dimension": r.dimension,
                        "range": r.dimension_range,
                        "mi": list(r.sweep.mi),
                        "critic": r.settings["critic"],
                    }
                )
            bar = "meets" if hits >= 0.8 * len(seeds) else "misses"
            print(f"k={k} {mode}: {hits}/{len(seeds)} seeds read exactly k ({bar} the 4-of-5 bar)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(readings, f, indent=1)


if __name__ == "__main__":
    main()
