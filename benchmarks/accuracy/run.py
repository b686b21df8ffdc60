"""Accuracy of rigorous mode against closed-form MI, and whether its verdicts are honest.

    OMP_NUM_THREADS=1 python benchmarks/accuracy/run.py --quick        # ~1.5 minutes
    OMP_NUM_THREADS=1 python benchmarks/accuracy/run.py                # ~15 minutes
    python benchmarks/accuracy/run.py --estimators infonce --seeds 0,1 --json out.json
    OMP_NUM_THREADS=1 python benchmarks/accuracy/run.py --save-dir acc/s0  # then recalibrate.py

For every case of ``cases.py`` (``--quick``: the small subset), estimator and seed it runs
``nmi.rigorous(x, y, seed=seed, estimator=est, device="cpu")`` and prints one row: the
corrected MI and the truth (bits), the relative error, the confidence interval and
whether it covers the truth, the verdict (``is_reliable``), the time and the reasons.
Then a summary:

* coverage: how often the interval holds the truth, against its nominal level;
* misses: |relative error| > 15% (for MI = 0, |estimate| > 0.1 bits), and how many of
  them the verdict caught (flagged unreliable): an honest verdict flags every miss;
* good estimates (not misses) that carry no flag: an honest verdict does not cry wolf;
* the mean |relative error| over cases with MI > 0.

A case that raises prints an error row and the run goes on.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import math
import platform
import sys
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from cases import DEFAULT, FAMILIES, QUICK, Case  # this script's folder is on sys.path

import nmi_jupyter as nmi

MISS_RELATIVE = 0.15  # a miss: |estimate - truth| > 15% of truth
MISS_ABSOLUTE_AT_ZERO = 0.1  # bits; a miss at MI = 0: |estimate| > 0.1 bits
FLAGS_WIDTH = 70
BITS_PER_NAT = 1 / math.log(2)


@dataclass
class Row:
    """One (case, estimator, seed) outcome; numbers in bits, NaN where there are none."""

    case: str
    family: str
    estimator: str
    seed: int
    n: int
    truth: float
    estimate: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    reliable: bool = False
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    confidence_level: float = math.nan
    seconds: float = math.nan
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def covered(self) -> bool:
        return self.lo <= self.truth <= self.hi  # False for a NaN interval

    @property
    def rel_error(self) -> float:
        return (self.estimate - self.truth) / self.truth if self.truth > 0 else math.nan

    @property
    def miss(self) -> bool:
        if not math.isfinite(self.estimate):
            return True
        if self.truth > 0:
            return abs(self.rel_error) > MISS_RELATIVE
        return abs(self.estimate) > MISS_ABSOLUTE_AT_ZERO


def run_case(
    case: Case,
    estimator: str,
    seed: int,
    save_dir: Path | None = None,
    extra: dict | None = None,
) -> Row:
    """Generate the case's data and run rigorous mode on it; errors become an error row.

    With ``save_dir`` the result is also saved there as ``<case>__<estimator>__s<seed>.json``
    (every run kept), so ``recalibrate.py`` can refit and re-diagnose it without training.
    """
    row = Row(case.name, case.family, estimator, seed, case.n, case.truth)
    start = time.perf_counter()
    try:
        x, y = case.generate(seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            options = {**case.options, **(extra or {})}
            rr = nmi.rigorous(x, y, seed=seed, estimator=estimator, device="cpu", **options)
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            rr.save(save_dir / result_name(case.name, estimator, seed))
        to_bits = BITS_PER_NAT if rr.units == "nats" else 1.0
        interval = getattr(rr, "interval", None)
        if interval is None:  # older engines: the symmetric confidence interval
            interval = (rr.mi - rr.mi_error, rr.mi + rr.mi_error)
        row.estimate = rr.mi * to_bits
        row.lo, row.hi = (v * to_bits for v in interval)
        row.reliable = bool(rr.is_reliable)
        row.reasons = [str(r) for r in rr.reasons]
        row.warnings = [str(w.message) for w in caught]
        if rr.fit is not None:
            row.confidence_level = float(rr.fit.confidence_level)
    except Exception as exc:  # one failing case must not end the benchmark
        row.error = f"{type(exc).__name__}: {exc}"
        row.warnings.append(traceback.format_exc(limit=3))
    row.seconds = time.perf_counter() - start
    return row


def result_name(case: str, estimator: str, seed: int) -> str:
    """The file name under ``--save-dir`` of one (case, estimator, seed) result."""
    return f"{case}__{estimator}__s{seed}.json"


# ----- printing -----

HEADER = (
    f"{'case':<28} {'est':<8} {'estimate':>8} {'truth':>7} {'rel.err':>7} "
    f"{'interval':>17} {'cov':>3} {'verdict':<10} {'time':>6}  flags"
)


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def flags_text(row: Row) -> str:
    parts = [shorten(r, 40) for r in row.reasons]
    parts += [shorten("warning: " + w, 40) for w in row.warnings]
    return shorten("; ".join(parts), FLAGS_WIDTH) or "-"


def format_row(row: Row) -> str:
    lead = f"{shorten(row.case, 28):<28} {row.estimator:<8}"
    if not row.ok:
        return f"{lead} ERROR ({row.seconds:.1f} s): {shorten(row.error, 110)}"
    rel = f"{100 * row.rel_error:+6.1f}%" if row.truth > 0 else f"{'-':>7}"
    interval = f"[{row.lo:7.3f},{row.hi:7.3f}]"
    verdict = "reliable" if row.reliable else "UNRELIABLE"
    return (
        f"{lead} {row.estimate:8.3f} {row.truth:7.3f} {rel} {interval:>17} "
        f"{'yes' if row.covered else 'NO':>3} {verdict:<10} {row.seconds:5.1f}s  "
        f"{flags_text(row)}"
    )


def fraction(hits: int, total: int) -> str:
    return f"{hits}/{total} = {100 * hits / total:.0f}%" if total else "n/a (none)"


def summary_lines(rows: list[Row], nominal: float) -> list[str]:
    done = [r for r in rows if r.ok]
    errors = len(rows) - len(done)
    lines = [
        "",
        f"summary: {len(done)} results, {errors} errors; nominal coverage "
        f"{100 * nominal:.0f}% (the confidence level of the gamma fit)",
        f"coverage, all: {fraction(sum(r.covered for r in done), len(done))}",
    ]
    for family in FAMILIES:
        group = [r for r in done if r.family == family]
        if group:
            # Per family, as issue 18 asks: coverage, the median two-sided half-width (% of
            # the truth) and the misses flagged unreliable.
            widths = [
                (r.hi - r.lo) / 2 / r.truth
                for r in group
                if r.truth > 0 and math.isfinite(r.hi - r.lo)
            ]
            width = f"half-width {100 * float(np.median(widths)):.1f}%" if widths else ""
            misses = [r for r in group if r.miss]
            flagged = sum(not r.reliable for r in misses)
            caught = f"misses flagged {flagged}/{len(misses)}" if misses else ""
            lines.append(
                f"  {family:<13} {fraction(sum(r.covered for r in group), len(group)):<14} "
                f"{width:<20} {caught}".rstrip()
            )
    for est in sorted({r.estimator for r in done}):
        group = [r for r in done if r.estimator == est]
        lines.append(f"  {est:<12} {fraction(sum(r.covered for r in group), len(group))}")
    core = [r for r in done if r.family in ("gaussian", "latent")]  # the target
    lines.append(
        f"coverage, gaussian + latent: {fraction(sum(r.covered for r in core), len(core))}"
    )
    reliable = [r for r in done if r.reliable]
    lines.append(
        f"coverage, reliable only: {fraction(sum(r.covered for r in reliable), len(reliable))}"
    )
    misses = [r for r in done if r.miss]
    good = [r for r in done if not r.miss]
    caught = sum(not r.reliable for r in misses)
    uncaught = ", ".join(f"{r.case}/{r.estimator}" for r in misses if r.reliable) or "none"
    lines += [
        f"misses (|rel.err| > {100 * MISS_RELATIVE:.0f}%, or |estimate| > "
        f"{MISS_ABSOLUTE_AT_ZERO} bits at MI = 0): {fraction(len(misses), len(done))}",
        f"  misses flagged unreliable: {fraction(caught, len(misses))}",
        f"  misses called reliable: {uncaught}",
        f"good estimates with no flag: {fraction(sum(r.reliable for r in good), len(good))}",
    ]
    rel = [abs(r.rel_error) for r in done if r.truth > 0 and math.isfinite(r.estimate)]
    lines.append(
        f"mean |relative error| (MI > 0): {100 * float(np.mean(rel)):.1f}%"
        if rel
        else "mean |relative error| (MI > 0): n/a"
    )
    # One-sided intervals (InfoNCE at its ceiling) have no width: left out here.
    two_sided = [r for r in done if r.truth > 0 and math.isfinite(r.hi - r.lo)]
    if two_sided:
        lines.append(
            f"median half-width of the two-sided intervals (MI > 0): "
            f"{np.median([r.hi - r.lo for r in two_sided]) / 2:.3f} bits, "
            f"{100 * np.median([(r.hi - r.lo) / 2 / r.truth for r in two_sided]):.1f}% of the truth"
        )
    return lines


def nominal_level(rows: list[Row]) -> float:
    """The confidence level the results report, else the engine's default."""
    levels = {r.confidence_level for r in rows if math.isfinite(r.confidence_level)}
    if levels:
        return min(levels) if len(levels) == 1 else float(np.mean(sorted(levels)))
    try:
        from nmi_jupyter.engine.extrapolate import DEFAULT_CONFIDENCE_LEVEL
    except ImportError:
        return math.nan
    return DEFAULT_CONFIDENCE_LEVEL


def _finite(value: object) -> object:
    """``value`` with every NaN or infinite float replaced by None: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def parse_settings(items: list[str]) -> dict:
    """``--set NAME=VALUE`` items as options: each value a Python literal, else a string."""
    settings = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            settings[name.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            settings[name.strip()] = value.strip()
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="six small cases (N <= 5000)")
    parser.add_argument("--estimators", default="infonce,smile", help="comma-separated")
    parser.add_argument("--seeds", default="0", help="comma-separated integers")
    parser.add_argument(
        "--cases",
        default="",
        help="only these cases: comma-separated names or glob patterns (gauss_*)",
    )
    parser.add_argument("--json", type=Path, help="write every row and the summary here")
    parser.add_argument(
        "--no-copula",
        action="store_true",
        help="rigorous(copula=False): raw (standardised) inputs instead of the default ranks",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an option given to every rigorous() call (a Python literal), e.g. "
        "--set n_layers=1 --set spectral_norm=True; repeatable",
    )
    parser.add_argument(
        "--save-dir",
        type=Path,
        help="save every RigorousResult here as JSON (for recalibrate.py: refit, no training)",
    )
    args = parser.parse_args(argv)
    estimators = [e.strip() for e in args.estimators.split(",") if e.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    cases = QUICK if args.quick else DEFAULT
    settings = parse_settings(args.set)
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",") if w.strip()]
        cases = tuple(c for c in cases if any(fnmatch.fnmatchcase(c.name, w) for w in wanted))

    print(
        f"nmi_jupyter {nmi.__version__} accuracy benchmark ({'quick' if args.quick else 'full'}): "
        f"{len(cases)} cases x {len(estimators)} estimators x {len(seeds)} seeds; "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    print(
        f"intervals: rigorous-mode confidence intervals, nominal coverage "
        f"{100 * nominal_level([]):.0f}%; truth and estimates in bits; a miss is "
        f"|rel.err| > {100 * MISS_RELATIVE:.0f}% (|estimate| > {MISS_ABSOLUTE_AT_ZERO} bits "
        "at MI = 0)",
        flush=True,
    )
    print(HEADER, flush=True)
    rows: list[Row] = []
    start = time.perf_counter()
    interrupted = False
    try:
        for case in cases:
            for est in estimators:
                for seed in seeds:
                    extra = {**({"copula": False} if args.no_copula else {}), **settings}
                    row = run_case(case, est, seed, args.save_dir, extra)
                    rows.append(row)
                    print(format_row(row), flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: summary of the finished rows", flush=True)
    total = time.perf_counter() - start
    nominal = nominal_level(rows)
    for line in summary_lines(rows, nominal):
        print(line)
    print(f"total time: {total:.1f} s", flush=True)
    if args.json:
        report = {
            "version": nmi.__version__,
            "quick": args.quick,
            "estimators": estimators,
            "seeds": seeds,
            "nominal_coverage": nominal,
            "interrupted": interrupted,
            "seconds": total,
            "cases": {c.name: {"call": c.call, "family": c.family, "n": c.n} for c in cases},
            "rows": [
                {**asdict(r), "covered": r.covered, "miss": r.miss, "rel_error": r.rel_error}
                for r in rows
            ],
            "summary": summary_lines(rows, nominal)[1:],
        }
        args.json.write_text(json.dumps(_finite(report), indent=1, default=str))
        print(f"wrote {args.json}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
