"""Re-score saved accuracy-suite results with the current engine: refit, no training.

    OMP_NUM_THREADS=1 python benchmarks/accuracy/run.py --save-dir acc/s0           # trains
    python benchmarks/accuracy/recalibrate.py acc/s0                                 # seconds
    python benchmarks/accuracy/recalibrate.py acc/s0 acc/s1 --by-seed --csv fits.csv

Every ``*.json`` under the given folders (written by ``run.py --save-dir``) is loaded with
``nmi_jupyter.load``, which recomputes the gamma fit, the interval and every flag with the
code installed now.  The rows and the summary are those of ``run.py``, so a change to the
interval or to a flag threshold can be scored on the whole suite in seconds.  ``--csv``
writes one line per result with the fit's inner numbers (slope and its standard error,
curvature delta, leverage shift, train/validation gap ...) for threshold studies.
Results saved before the engine recorded the linear lower bound or the nearest-neighbour
estimate get them computed from the case's data, regenerated from its seed (milliseconds
to seconds per case).

Thresholds tuned on one seed should be judged on another (``--by-seed``): tuning and
reporting on the same results overfits the verdict.

``--gammas 1,2,3,5,10`` scores each result as if its analysis had trained only those
gammas (the other gammas' runs are dropped, the fit and flags redone: a run's chunk and
seed do not depend on which other gammas an analysis has, so this is the analysis that
``gammas=`` would have trained) and prints the share of the training work (epochs times
training samples, controls included) that those runs took.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import math
import sys
from pathlib import Path

import numpy as np
from cases import DEFAULT, QUICK  # this script's folder is on sys.path
from run import BITS_PER_NAT, Row, format_row, nominal_level, summary_lines

import nmi_jupyter as nmi
from nmi_jupyter.engine.data import check_pair
from nmi_jupyter.engine.extrapolate import _weights, fit_gamma_line, wls
from nmi_jupyter.engine.linear_bound import linear_bound
from nmi_jupyter.engine.neighbours import neighbour_estimate
from nmi_jupyter.engine.rigorous_result import _fit_request, fit_runs

CASES = {c.name: c for c in (*DEFAULT, *QUICK)}


@functools.cache
def case_bound(name: str, seed: int):
    """The linear lower bound of one case's data (both estimators share it)."""
    return linear_bound(*check_pair(*CASES[name].generate(seed)))


@functools.cache
def case_neighbours(name: str, seed: int):
    """The nearest-neighbour estimate of one case's data (None above its dimensions)."""
    return neighbour_estimate(*check_pair(*CASES[name].generate(seed)), seed=seed)


def parse_name(path: Path) -> tuple[str, str, int]:
    """``<case>__<estimator>__s<seed>.json`` -> (case, estimator, seed)."""
    case, estimator, seed = path.stem.split("__")
    return case, estimator, int(seed.lstrip("s"))


def training_samples(runs, val_fraction: float = 0.1) -> int:
    """Samples the runs trained on: epochs times training samples."""
    return sum(
        r.epochs_run * (r.n_samples - max(round(r.n_samples * val_fraction), 1)) for r in runs
    )


def only_gammas(rr, gammas: tuple[int, ...]):
    """``rr`` as if its analysis had trained only ``gammas`` (refit, automatic mode)."""
    gammas = tuple(g for g in rr.gammas if g in gammas)
    runs = tuple(r for r in rr.runs if r.gamma in gammas)
    request = {**rr.settings.get("fit", {}), "exclude": None, "use": None}
    request = _fit_request(request, gammas)
    return dataclasses.replace(
        rr,
        runs=runs,
        gammas=gammas,
        fit=fit_runs(runs, rr.n_samples, request),
        settings={**rr.settings, "gammas": list(gammas), "fit": request},
    )


WORK = {"all": 0, "kept": 0}  # training samples of every run / of the runs --gammas keeps


def score(
    path: Path, inner: bool = False, gammas: tuple[int, ...] | None = None
) -> tuple[Row, dict]:
    """The run.py row of one saved result, refit now, and (``inner``) its fit's inner
    numbers (without, this works with older engines too: the "before" numbers);
    ``gammas``: only those gammas' runs (see ``only_gammas``)."""
    name, estimator, seed = parse_name(path)
    case = CASES[name]
    rr = nmi.load(path)
    if gammas is not None:
        fraction = rr.settings.get("val_fraction", 0.1)
        WORK["all"] += training_samples(rr.runs + rr.controls, fraction)
        rr = only_gammas(rr, gammas)
        WORK["kept"] += training_samples(rr.runs + rr.controls, fraction)
    if getattr(rr, "linear", False) is None:  # saved before the bound existed
        rr = dataclasses.replace(rr, linear=case_bound(name, seed))
    if getattr(rr, "neighbours", False) is None:  # none computed, or saved before it existed
        rr = dataclasses.replace(rr, neighbours=case_neighbours(name, seed))
    to_bits = BITS_PER_NAT if rr.units == "nats" else 1.0
    row = Row(name, case.family, estimator, seed, case.n, case.truth)
    row.estimate = rr.mi * to_bits
    row.lo, row.hi = (v * to_bits for v in rr.interval)
    row.reliable = bool(rr.is_reliable)
    row.reasons = [f.code for f in rr.flags if f.unreliable]
    row.warnings = [f.code for f in rr.flags if not f.unreliable]
    row.confidence_level = float(rr.fit.confidence_level) if rr.fit else math.nan
    row.seconds = float(rr.elapsed)
    return row, features(rr, row, to_bits) if inner else {}


def features(rr, row: Row, to_bits: float) -> dict:
    """The fit's inner numbers, in bits where they are MI values."""
    f = rr.fit
    out = {
        "case": row.case,
        "family": row.family,
        "estimator": row.estimator,
        "seed": row.seed,
        "n": row.n,
        "truth": row.truth,
        "estimate": row.estimate,
        "rel_error": row.rel_error,
        "miss": row.miss,
        "covered": row.covered,
        "reliable": row.reliable,
        "flags": " ".join(row.reasons),
        "warnings": " ".join(row.warnings),
    }
    if f is None:
        return out
    finished = [r for r in rr.runs if math.isfinite(r.mi)]
    g = np.array([r.gamma for r in finished], dtype=float)
    mi = np.array([r.mi for r in finished]) * to_bits
    val = np.array([r.mi_val for r in finished]) * to_bits
    used = np.isin(g, f.gammas_used)
    quad = wls(g[used], mi[used], _weights(g[used]), 2) if len(f.gammas_used) >= 4 else None
    first = used & (g <= 5)
    loo_z = math.nan
    if 1 in f.gammas_used and len(f.gammas_used) >= 3:
        wo = used & (g != 1)
        without = wls(g[wo], mi[wo], _weights(g[wo]), 1)
        full = wls(g[used], mi[used], _weights(g[used]), 1)
        extra = full.scale * (without.cov[0, 0] / without.scale - full.cov[0, 0] / full.scale)
        loo_z = f.loo_shift * to_bits / math.sqrt(max(extra, 1e-12))
    val_fit = fit_gamma_line(g[used], val[used], delta_threshold=math.inf)
    se_slope = math.sqrt(f.cov[1][1]) * to_bits if f.dof > 0 else math.nan
    out.update(
        half_width=(row.hi - row.lo) / 2,
        err_over_half=(row.estimate - row.truth) / ((row.hi - row.lo) / 2),
        se_intercept=f.se_intercept * to_bits,
        se_data=f.se_data * to_bits,
        se_model=f.se_model * to_bits,
        dof=f.dof,
        n_used=len(f.gammas_used),
        slope=f.slope * to_bits,
        slope_z=f.slope * to_bits / se_slope,
        drop=-f.slope * max(f.gammas_used) / max(abs(f.mi), 1e-12),
        delta=f.delta,
        loo_shift=f.loo_shift * to_bits,
        loo_z=loo_z,
        val_mi=val_fit.mi,
        val_gap=row.estimate - val_fit.mi,
        gamma1=float(np.mean(mi[g == 1])),
        quad_mi=float(quad.coef[0]) if quad is not None else math.nan,
        quad_z=float(quad.coef[2] / math.sqrt(quad.cov[2, 2])) if quad is not None else math.nan,
        val_gap_z=(row.estimate - val_fit.mi) / math.hypot(f.se_total * to_bits, val_fit.se_total),
        ceiling_ratio=float(np.max(mi)) / math.log2(rr.settings["batch_size"]),
        first_mi=(
            fit_gamma_line(g[first], mi[first], delta_threshold=math.inf).mi
            if len(set(g[first])) >= 3
            else math.nan
        ),
        max_run=float(np.max(mi)),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="+", type=Path, help="run.py --save-dir folders")
    parser.add_argument("--by-seed", action="store_true", help="one summary per seed as well")
    parser.add_argument("--quiet", action="store_true", help="summaries only, no rows")
    parser.add_argument("--csv", type=Path, help="write the fits' inner numbers here")
    parser.add_argument(
        "--gammas", help="score as if only these gammas had trained, e.g. 1,2,3,5,10"
    )
    args = parser.parse_args(argv)
    gammas = None if args.gammas is None else tuple(int(g) for g in args.gammas.split(","))
    paths = sorted(p for folder in args.folders for p in folder.glob("*.json"))
    if not paths:
        print("no saved results (*.json) in " + ", ".join(map(str, args.folders)))
        return 1
    scored = [score(p, inner=args.csv is not None, gammas=gammas) for p in paths]
    order: dict[str, int] = {}
    for c in (*DEFAULT, *QUICK):
        order.setdefault(c.name, len(order))
    scored.sort(key=lambda s: (s[0].seed, order[s[0].case], s[0].estimator))
    rows = [s[0] for s in scored]
    if not args.quiet:
        for row in rows:
            print(format_row(row))
    nominal = nominal_level(rows)
    groups = [("all", rows)]
    if args.by_seed:
        groups += [
            (f"seed {s}", [r for r in rows if r.seed == s]) for s in sorted({r.seed for r in rows})
        ]
    for label, group in groups:
        print(f"\n== {label} ==", end="")
        for line in summary_lines(group, nominal):
            print(line)
    if gammas is not None:
        share = WORK["kept"] / max(WORK["all"], 1)
        print(f"\ngammas {args.gammas}: {100 * share:.1f} % of the training samples of all gammas")
    if args.csv:
        keys: list[str] = []
        for _, feat in scored:
            keys += [k for k in feat if k not in keys]
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            for _, feat in scored:
                writer.writerow(feat)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
