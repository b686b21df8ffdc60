"""Few samples, many dimensions: the reference library's rigorous-estimation showcase.

A 10-dimensional Gaussian latent with I(Z_x; Z_y) = 3 bits, each side seen through 100
nonlinear channels, N = 2000 (``nmi.generators.nonlinear_latent``: a fixed random
injective map per side, so the MI of (x, y) is exactly that of the latents).  For each
lever (a set of options on top of the defaults) and data seed it runs
``nmi.rigorous(x, y, seed=seed, **options)`` and prints the corrected MI, the interval,
the verdict and the training/validation MI at gamma 1, then one line per lever:
mean |error|, seeds within 5 %, reliable count, coverage.

    OMP_NUM_THREADS=1 python benchmarks/showcase.py    # every lever: about 20 minutes
    OMP_NUM_THREADS=1 python benchmarks/showcase.py --levers default,sn,layers1  # a few
    OMP_NUM_THREADS=1 python benchmarks/showcase.py --seeds 0,1 --json out.json
    OMP_NUM_THREADS=1 python benchmarks/showcase.py --levers search,default --data tlatent
    OMP_NUM_THREADS=1 python benchmarks/showcase.py --levers default --data softplus
    OMP_NUM_THREADS=1 python benchmarks/showcase.py --levers default --n 4000 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings

import numpy as np

import nmi_jupyter as nmi

TRUTH_BITS = 3.0
N, LATENT_DIM, OUT_DIM = 2000, 10, 100

#: lever name -> options given to ``nmi.rigorous`` on top of the defaults
LEVERS: dict[str, dict] = {
    "default": {},  # the default critic (critic_search is opt-in)
    # lr 1e-3 with a learning-rate drop at the first stall (docs/research/training.md)
    "lr1e-3+drop": {"lr": 1e-3, "lr_drop": 0.25},
    "search": {"critic_search": True},  # the critic search (engine/critic_search.py)
    "no-search": {"critic_search": False},  # the same as "default", named for old commands
    # regularising the critic
    "sn": {"spectral_norm": True},
    "sn+lr2e-3": {"spectral_norm": True, "lr": 2e-3},
    "sn+emb16": {"spectral_norm": True, "embedding_dim": 16},
    "wd1e-2": {"weight_decay": 1e-2},
    "wd1e-1": {"weight_decay": 1e-1},
    "wd1": {"weight_decay": 1.0},
    "wd10": {"weight_decay": 10.0},
    # smaller critics
    "hidden16": {"hidden_dim": 16, "embedding_dim": 16},
    "emb8": {"embedding_dim": 8},
    "emb16": {"embedding_dim": 16},
    "emb32": {"embedding_dim": 32},
    "layers1": {"n_layers": 1},
    "layers1+sn": {"n_layers": 1, "spectral_norm": True},
    "layers1+h32": {"n_layers": 1, "hidden_dim": 32},
    "layers1+h128": {"n_layers": 1, "hidden_dim": 128},
    # optimisation and early stopping
    "lr2e-3": {"lr": 2e-3},
    "batch32": {"batch_size": 32},
    "val0.2": {"val_fraction": 0.2},
    # the inputs
    "no-copula": {"copula": False},
    "layers1+no-copula": {"n_layers": 1, "copula": False},
    # the reference tutorial's settings, without and with its spectral normalisation
    "ref-tut": {"hidden_dim": 128, "epochs": 100, "patience": 20},
    "ref-tut+sn": {"hidden_dim": 128, "epochs": 100, "patience": 20, "spectral_norm": True},
}


def _channels(zx, zy):
    """Each side's latent through the showcase's fixed injective maps (MI unchanged)."""
    maps = [nmi.generators.make_injective_map(LATENT_DIM, OUT_DIM, 12345, stream=k) for k in (0, 1)]
    return maps[0](zx), maps[1](zy)


def _softplus_channels(zx, zy, hidden: int = 64):
    """Each side's latent through a fixed random network with one softplus hidden layer
    (LATENT_DIM -> hidden -> OUT_DIM, weights and biases uniform in +-1/sqrt(fan_in)): the
    design of the reference library's own generator, milder than ``make_injective_map``.
    Injective (both weight matrices have full column rank, softplus is strictly
    increasing), so the MI is the latents'."""
    out = []
    for side, z in enumerate((zx, zy)):
        rng = np.random.default_rng((777, side))
        w1, b1 = rng.uniform(-1, 1, (hidden, LATENT_DIM)), rng.uniform(-1, 1, hidden)
        w2, b2 = rng.uniform(-1, 1, (OUT_DIM, hidden)), rng.uniform(-1, 1, OUT_DIM)
        w1, b1 = w1 / math.sqrt(LATENT_DIM), b1 / math.sqrt(LATENT_DIM)
        w2, b2 = w2 / math.sqrt(hidden), b2 / math.sqrt(hidden)
        out.append(np.logaddexp(0.0, z @ w1.T + b1) @ w2.T + b2)
    return tuple(out)


#: data -> (seed, n) -> (x, y) of n samples (the showcase's N by default), every one with
#: I(X;Y) = TRUTH_BITS: the showcase (a Gaussian latent), a heavy-tailed latent (Student-t,
#: df 5, scaled to unit spread) and a warped one (``generators.swirl`` of the Gaussian
#: latent), each through the same channels; and the Gaussian latent through the milder
#: softplus channels of the reference's design.
DATA = {
    "showcase": lambda s, n=N: nmi.generators.nonlinear_latent(
        n, LATENT_DIM, OUT_DIM, TRUTH_BITS, seed=s
    ),
    "tlatent": lambda s, n=N: _channels(
        *[a / a.std() for a in nmi.generators.student_t(n, LATENT_DIM, TRUTH_BITS, df=5, seed=s)]
    ),
    "softplus": lambda s, n=N: _softplus_channels(
        *nmi.generators.correlated_gaussians(n, LATENT_DIM, TRUTH_BITS, seed=s)
    ),
    "swirl": lambda s, n=N: _channels(
        *[
            nmi.generators.swirl(a, 1.0)
            for a in nmi.generators.correlated_gaussians(n, LATENT_DIM, TRUTH_BITS, seed=s)
        ]
    ),
}


def run(lever: str, seed: int, data: str = "showcase", n: int = N) -> dict:
    x, y = DATA[data](seed, n)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rr = nmi.rigorous(x, y, seed=seed, device="cpu", **LEVERS[lever])
    means = rr.gamma_means()
    g1 = [r for r in rr.runs if r.gamma == 1]
    lo, hi = rr.interval
    return {
        "lever": lever,
        "seed": seed,
        "mi": rr.mi,
        "lo": lo,
        "hi": hi,
        "reliable": bool(rr.is_reliable),
        "train_g1": g1[0].mi if g1 else math.nan,
        "val_g1": g1[0].mi_val if g1 else math.nan,
        "mean_g10": means[max(means)][0] if means else math.nan,
        "seconds": time.perf_counter() - start,
        "reasons": list(rr.reasons),
    }


def summarise(rows: list[dict]) -> str:
    errors = [(r["mi"] - TRUTH_BITS) / TRUTH_BITS for r in rows]
    within = sum(abs(e) <= 0.05 for e in errors)
    covered = sum(r["lo"] <= TRUTH_BITS <= r["hi"] for r in rows)
    reliable = sum(r["reliable"] for r in rows)
    per_seed = " ".join(f"{r['mi']:.2f}" for r in rows)
    mean_abs = sum(abs(e) for e in errors) / len(errors)
    return (
        f"{rows[0]['lever']:<10} MI per seed [{per_seed}]  mean |err| {100 * mean_abs:5.1f} %  "
        f"within 5 %: {within}/{len(rows)}  reliable: {reliable}/{len(rows)}  "
        f"covered: {covered}/{len(rows)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levers", default=",".join(LEVERS), help="comma-separated lever names")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated data seeds")
    parser.add_argument("--json", help="write every row here")
    parser.add_argument(
        "--data", default="showcase", choices=list(DATA), help="which latent through the channels"
    )
    parser.add_argument(
        "--n", type=int, default=N, help=f"samples per data set (default {N}, the showcase's)"
    )
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be a positive number of samples, not {args.n}")
    levers = args.levers.split(",")
    unknown = [name for name in levers if name not in LEVERS]
    if unknown:
        parser.error(f"unknown lever(s) {unknown}; choose from {list(LEVERS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        f"truth {TRUTH_BITS} bits; {args.data} latent ({LATENT_DIM}-d) through {OUT_DIM} "
        f"channels, N = {args.n}"
    )
    print(
        f"{'lever':<10} {'seed':>4} {'MI':>6} {'interval':>15} {'rel':>3} "
        f"{'tr g1':>6} {'va g1':>6} {'g10':>6} {'s':>5}"
    )
    all_rows, summaries = [], []
    for lever in levers:
        rows = []
        for seed in seeds:
            try:
                r = run(lever, seed, args.data, args.n)
            except nmi.NeuralMIError as err:  # too few samples, a bad option: one sentence
                parser.error(f"{lever}, seed {seed}, N = {args.n}: {err}")
            rows.append(r)
            print(
                f"{lever:<10} {seed:>4} {r['mi']:6.3f} [{r['lo']:6.3f}, {r['hi']:6.3f}] "
                f"{'yes' if r['reliable'] else 'no':>3} {r['train_g1']:6.3f} {r['val_g1']:6.3f} "
                f"{r['mean_g10']:6.3f} {r['seconds']:5.0f}",
                flush=True,
            )
        summaries.append(summarise(rows))
        all_rows += rows
    print()
    print("\n".join(summaries))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
