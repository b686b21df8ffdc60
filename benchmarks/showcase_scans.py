"""The critic search in the analyses of several rigorous points, on showcase-like data.

Few samples in many dimensions (the reference library's showcase: a 10-dimensional
Gaussian latent with 3 bits, each side seen through 100 nonlinear channels, N = 2000).
For each data seed, with the critic search (the default) and without it
(``critic_search=False``), it runs

* ``lag``: ``nmi.lag(x, y, lags=[-2, 0, 2], rigorous=True)`` on the showcase data (i.i.d.
  samples, so the truth is 3 bits at lag 0 and 0 elsewhere; blocked split, the lag
  default), and reports lag 0;
* ``conditional``: ``nmi.conditional(x, y, z)`` where z is a noisy view of half of y's
  latent (w = z_y[:5] + unit noise) through 50 nonlinear channels: I(X;Y|Z) =
  3 - sum_k I(z_x,k; w_k) = 2.327 bits in closed form (Gaussian latents, injective maps);

* ``transfer``: ``nmi.transfer(x, y)`` where (x_k, y_k), k = 1..10, are independent
  ``generators.var1_pair`` processes (coupling 0.6; x drives y) seen through 100 nonlinear
  channels per series: TE(X->Y) = 10 times the pair's closed form = 2.617 bits.
  Transfer entropy does not search (this measurement is why): "search" here trains the
  default critic and each candidate and keeps what the engine's rule would keep (the
  smallest gap at the strongest term, ``critic_search.choose``);

then one line per analysis and setting: the MI per seed, mean |error|, seeds within 5 %,
reliable, covered, CPU seconds per analysis.

    OMP_NUM_THREADS=1 python benchmarks/showcase_scans.py --seeds 0,1,2,3,4
    OMP_NUM_THREADS=1 python benchmarks/showcase_scans.py --analyses lag --seeds 0,1
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
from nmi_jupyter.generators import correlated_gaussians, make_injective_map

N, LATENT_DIM, OUT_DIM, MI_BITS = 2000, 10, 100, 3.0
# I(X;Y|Z) with Z a unit-noise view of the first 5 latent coordinates of y: each of
# those pairs keeps I(a;b) - I(a;w), with corr(a, w)^2 = rho^2 / 2.
_RHO2 = 1 - 2 ** (-2 * MI_BITS / LATENT_DIM)
CONDITIONAL_TRUTH = MI_BITS - 5 * (-0.5 * math.log2(1 - _RHO2 / 2))


def lag_case(seed: int, search: bool) -> dict:
    x, y = nmi.generators.nonlinear_latent(N, LATENT_DIM, OUT_DIM, MI_BITS, seed=seed)
    result = nmi.lag(
        x, y, lags=[-2, 0, 2], rigorous=True, seed=seed, device="cpu", critic_search=search
    )
    point = next(p for p in result.sweep.points if p.values["lag"] == 0)
    return _row(point.rigorous, MI_BITS, result.settings, peak=result.peak_lag)


def conditional_case(seed: int, search: bool) -> dict:
    zx, zy = correlated_gaussians(N, LATENT_DIM, MI_BITS, seed=seed)
    w = zy[:, :5] + np.random.default_rng(1000 + seed).standard_normal((N, 5))
    x = make_injective_map(LATENT_DIM, OUT_DIM, 12345, stream=0)(zx)
    y = make_injective_map(LATENT_DIM, OUT_DIM, 12345, stream=1)(zy)
    z = make_injective_map(5, 50, 12345, stream=2)(w)
    result = nmi.conditional(x, y, z, seed=seed, device="cpu", critic_search=search)
    return _row(result, CONDITIONAL_TRUTH, result.settings)


def _row(result, truth: float, settings: dict, **extra) -> dict:
    lo, hi = result.interval
    choice = settings.get("critic_choice") or {}
    return {
        "mi": float(result.mi),
        "truth": truth,
        "lo": float(lo),
        "hi": float(hi),
        "reliable": bool(result.is_reliable),
        "chosen": choice.get("chosen"),
        **extra,
    }


def transfer_case(seed: int, search: bool) -> dict:
    from nmi_jupyter.engine import critic_search
    from nmi_jupyter.generators import var1_matrices, var1_pair, var1_transfer_entropy

    pairs, coupling = 10, 0.6
    truth = pairs * var1_transfer_entropy(*var1_matrices(coupling))[0]
    runs = [var1_pair(N, coupling=coupling, seed=1000 * seed + k) for k in range(pairs)]
    xs, ys = zip(*runs, strict=True)
    x = make_injective_map(pairs, OUT_DIM, 12345, stream=0)(np.stack(xs, 1) / np.std(xs))
    y = make_injective_map(pairs, OUT_DIM, 12345, stream=1)(np.stack(ys, 1) / np.std(ys))
    critics = [{}, *critic_search.CANDIDATES] if search else [{}]
    results = [nmi.transfer(x, y, seed=seed, device="cpu", **c) for c in critics]
    peaks = [
        critic_search.strongest(
            [r.xy.joint_point, r.xy.marginal_point, r.yx.joint_point, r.yx.marginal_point]
        )
        for r in results
    ]
    kept = results[critic_search.choose(peaks)]
    return _row(kept.xy, truth, {}, te_yx=float(kept.yx.mi))


CASES = {"lag": lag_case, "conditional": conditional_case, "transfer": transfer_case}


def summarise(name: str, search: bool, rows: list[dict]) -> str:
    errors = [(r["mi"] - r["truth"]) / r["truth"] for r in rows]
    half = sorted((r["hi"] - r["lo"]) / 2 for r in rows)[len(rows) // 2]
    values = " ".join(f"{r['mi']:.2f}" for r in rows)
    return (
        f"{name:<12} {'search' if search else 'default alone':<14} "
        f"[{values}] (truth {rows[0]['truth']:.3f})  "
        f"mean |err| {100 * sum(map(abs, errors)) / len(errors):4.1f} %  "
        f"within 5 %: {sum(abs(e) <= 0.05 for e in errors)}/{len(rows)}  "
        f"reliable: {sum(r['reliable'] for r in rows)}  "
        f"covered: {sum(r['lo'] <= r['truth'] <= r['hi'] for r in rows)}  "
        f"median half-width {half:.2f}  "
        f"CPU s each {sum(r['cpu'] for r in rows) / len(rows):.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", default="lag,conditional")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--json", help="write every row here")
    args = parser.parse_args(argv)
    names = args.analyses.split(",")
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown analyses {unknown}; choose from {list(CASES)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, lines = [], []
    for name in names:
        for search in (True, False):
            mine = []
            for seed in seeds:
                start = time.process_time()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    row = CASES[name](seed, search)
                row.update(analysis=name, search=search, seed=seed, cpu=time.process_time() - start)
                print(row, flush=True)
                mine.append(row)
            lines.append(summarise(name, search, mine))
            rows += mine
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
