"""Where a rigorous estimate's error comes from: the analysis, the data sample, or bias.

    OMP_NUM_THREADS=1 python benchmarks/accuracy/error_sources.py  # about 40 minutes; SMILE 55
    OMP_NUM_THREADS=1 python benchmarks/accuracy/error_sources.py --cases 'gauss_d5*' \\
        --data-seeds 0,1,2 --analysis-seeds 100,101 --json out.json
    python benchmarks/accuracy/error_sources.py --load out.json       # the table again
    OMP_NUM_THREADS=1 python benchmarks/accuracy/error_sources.py --set n_layers=1  # another critic

For each case (the accuracy suite's, by name, ``cases.py``; ``showcase`` is the reference
library's showcase, ``nonlinear_latent(2000, 10, 100, 3)``), every data seed d and every
analysis seed a, it runs ``nmi.rigorous(x_d, y_d, seed=a, estimator=..., device="cpu")``:
the same sample analysed with other master orders, initialisations and minibatches, and
other samples.  From the corrected MI of the D x A analyses (bits) it prints, per case (in %
of the truth; the spreads need A >= 2):

* ``bias``: mean error over all analyses; ``rmse``: root mean squared error;
* ``sd analysis``: spread between analyses of one sample (pooled within data seeds);
* ``sd data``: spread of the sample itself (between data seeds' means, less the
  analysis spread that those means still hold);
* what the interval says on average: its fit, dataset and model (train/validation gap)
  standard errors and half-width, and its coverage;
* ``rmse of a mean of A``: the error left when the A analyses of one sample are averaged
  (what repeating an analysis over master orders could buy).

So each of the interval's terms can be set against the error source it stands for.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import sys
import time
import warnings

import numpy as np
from cases import DEFAULT, QUICK, Case, latent  # this script's folder is on sys.path
from run import _finite, parse_settings

import nmi_jupyter as nmi
from nmi_jupyter.engine.results import write_atomically

#: The suite's cases by name, and the showcase.
CASES: dict[str, Case] = {c.name: c for c in (*DEFAULT, *QUICK)}
CASES["showcase"] = latent(10, 100, 3.0, 2000)

DEFAULT_CASES = (
    "gauss_d1_2nat_n2000",
    "gauss_d5_2nat_n5000",
    "gauss_d20_4nat_n10000",
    "latent_2to100_2bit_n5000",
    "latent_4to200_4bit_n10000",
    "t_df3_d1_1bit_n5000",
    "t_df5_d5_2bit_n5000",
    "exp_d5_2bit_n5000",
    "swirl_d2_2bit_n5000",
    "uniform_d1_2bit_n5000",
    "showcase",
)


def analyse(
    case: Case, data_seed: int, analysis_seed: int, estimator: str, settings: dict | None = None
) -> dict:
    """One analysis of one sample (``settings``: options on top of the case's): its numbers
    (bits) and the interval's terms."""
    x, y = case.generate(data_seed)
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rr = nmi.rigorous(
            x,
            y,
            seed=analysis_seed,
            estimator=estimator,
            device="cpu",
            **{**case.options, **(settings or {})},
        )
    fit = rr.fit
    lo, hi = rr.interval
    return {
        "case": case.name,
        "family": case.family,
        "truth": case.truth,
        "data_seed": data_seed,
        "analysis_seed": analysis_seed,
        "estimator": estimator,
        "mi": rr.mi,
        "lo": lo,
        "hi": hi,
        "reliable": bool(rr.is_reliable),
        "se_fit": fit.se_intercept if fit else math.nan,
        "se_data": fit.se_data if fit else math.nan,
        "se_model": fit.se_model if fit else math.nan,
        "cpu": time.process_time() - start,
    }


def decompose(rows: list[dict]) -> dict:
    """The error sources of one case's analyses (see the module docstring)."""
    truth = rows[0]["truth"]
    seeds = sorted({r["data_seed"] for r in rows})
    by_seed = [np.array([r["mi"] for r in rows if r["data_seed"] == d]) for d in seeds]
    errors = np.concatenate(by_seed) - truth
    within = [v.var(ddof=1) for v in by_seed if len(v) > 1]
    var_analysis = float(np.mean(within)) if within else math.nan
    per_sample = len(by_seed[0])
    means = np.array([v.mean() for v in by_seed])
    var_means = float(means.var(ddof=1)) if len(means) > 1 else math.nan
    var_data = max(var_means - var_analysis / per_sample, 0.0)
    two_sided = [r for r in rows if math.isfinite(r["lo"]) and math.isfinite(r["hi"])]
    covered = sum(r["lo"] <= truth <= r["hi"] for r in rows)
    scale = abs(truth) if truth else 1.0
    return {
        "case": rows[0]["case"],
        "truth": truth,
        "n": len(rows),
        "bias": float(errors.mean()) / scale,
        "rmse": float(np.sqrt((errors**2).mean())) / scale,
        "sd_analysis": math.sqrt(var_analysis) / scale,
        "sd_data": math.sqrt(var_data) / scale,
        "rmse_mean": float(np.sqrt(((means - truth) ** 2).mean())) / scale,
        "se_fit": float(np.nanmean([r["se_fit"] for r in rows])) / scale,
        "se_data": float(np.nanmean([r["se_data"] for r in rows])) / scale,
        "se_model": float(np.nanmean([r["se_model"] for r in rows])) / scale,
        "half_width": float(np.median([(r["hi"] - r["lo"]) / 2 for r in two_sided])) / scale
        if two_sided
        else math.nan,
        "covered": covered,
        "reliable": sum(r["reliable"] for r in rows),
        "per_sample": per_sample,
    }


def table(rows: list[dict]) -> str:
    """One line per case, every number in % of the truth (bits at MI = 0)."""
    names = list(dict.fromkeys(r["case"] for r in rows))
    head = (
        f"{'case':<27} {'n':>3} {'bias':>6} {'rmse':>6} {'sd an.':>6} {'sd data':>7} "
        f"{'se fit':>6} {'se data':>7} {'se mod':>6} {'half-w':>6} {'covers':>6} "
        f"{'rel.':>4} {'rmse of mean':>12}"
    )
    lines = [head]
    for name in names:
        s = decompose([r for r in rows if r["case"] == name])
        pct = 1.0 if s["truth"] == 0 else 100.0
        lines.append(
            f"{name:<27} {s['n']:>3} {pct * s['bias']:>+6.1f} {pct * s['rmse']:>6.1f} "
            f"{pct * s['sd_analysis']:>6.1f} {pct * s['sd_data']:>7.1f} {pct * s['se_fit']:>6.1f} "
            f"{pct * s['se_data']:>7.1f} {pct * s['se_model']:>6.1f} "
            f"{pct * s['half_width']:>6.1f} {s['covered']:>3}/{s['n']:<2} {s['reliable']:>4} "
            f"{pct * s['rmse_mean']:>12.1f}"
        )
    lines.append(
        "numbers in % of the truth; 'sd an.': between analyses of one sample; 'sd data': "
        "between samples; 'rmse of mean': of the mean of one sample's analyses"
    )
    return "\n".join(lines)


def _save(path: str, rows: list[dict]) -> None:
    """``rows`` as strict JSON (NaN and infinite numbers as null), written atomically."""
    write_atomically(path, json.dumps(_finite(rows)))


def _load(path: str) -> list[dict]:
    """Rows saved by :func:`_save`, with their nulls read back (an interval's missing
    ends as infinite, other numbers as NaN)."""
    try:
        with open(path) as f:
            rows = json.load(f)
    except (OSError, ValueError) as error:
        raise SystemExit(f"Cannot read {path!r} as saved by --json: {error}") from None
    for row in rows:
        for key, value in row.items():
            if value is None:
                row[key] = {"lo": -math.inf, "hi": math.inf}.get(key, math.nan)
    return rows


def _seeds(text: str, flag: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"{flag} takes comma-separated integers, not {text!r}") from None


def _selected(patterns: str) -> list[Case]:
    chosen = []
    for pattern in patterns.split(","):
        matches = [c for name, c in CASES.items() if fnmatch.fnmatch(name, pattern)]
        if not matches:
            raise SystemExit(f"no case matches {pattern!r}; cases: {', '.join(CASES)}")
        chosen += [c for c in matches if c not in chosen]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), help="names or patterns")
    parser.add_argument("--data-seeds", default="0,1,2,3,4")
    parser.add_argument("--analysis-seeds", default="100,101,102,103")
    parser.add_argument("--estimator", default="infonce")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an option given to every rigorous() call (a Python literal); repeatable",
    )
    parser.add_argument("--json", help="write every analysis here")
    parser.add_argument("--load", help="print the table of a --json file and stop")
    args = parser.parse_args(argv)
    if args.load:
        print(table(_load(args.load)))
        return 0
    data_seeds = _seeds(args.data_seeds, "--data-seeds")
    analysis_seeds = _seeds(args.analysis_seeds, "--analysis-seeds")
    settings = parse_settings(args.set)
    rows: list[dict] = []
    for case in _selected(args.cases):
        for d in data_seeds:
            for a in analysis_seeds:
                try:
                    row = analyse(case, d, a, args.estimator, settings)
                except nmi.NeuralMIError as error:  # a wrong option or data: say so, stop
                    where = f"{case.name}, data seed {d}, analysis seed {a}"
                    raise SystemExit(f"{where}: {error}") from None
                rows.append(row)
                print(
                    f"{case.name:<27} data {d:>3} analysis {a:>4}: {row['mi']:.3f} bits "
                    f"(truth {case.truth:.3f}) [{row['lo']:.3f}, {row['hi']:.3f}] "
                    f"{'reliable' if row['reliable'] else 'flagged'} {row['cpu']:.0f} s",
                    flush=True,
                )
        if args.json:  # after every case, so an interrupted run keeps what it did
            _save(args.json, rows)
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
