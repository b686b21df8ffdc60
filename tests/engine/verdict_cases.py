"""Synthetic results for verdict checks: run tables and single runs, no training.

Shared by ``test_units_verdict.py`` (the same verdict in bits and in nats; the same
verdict as the committed engine's, stored in ``verdict_expected.json``).  Every
table is built from a seed with the public constructors only, so the same cases
can be scored by an older checkout of the engine (see ``snapshot``).
"""

from __future__ import annotations

import math

import numpy as np

from nmi_jupyter.engine.linear_bound import LinearBound
from nmi_jupyter.engine.results import EstimateResult, History
from nmi_jupyter.engine.rigorous_result import RigorousResult, RunRecord, fit_runs
from nmi_jupyter.engine.units import NATS_PER_BIT

REQUEST = {
    "exclude": None,
    "use": None,
    "delta_threshold": 0.1,
    "min_gamma_points": 5,
    "confidence_level": 0.68,
}
N = 5000


def table(seed: int) -> dict:
    """A random analysis in bits: small MI (0.02-0.3 bits, where the absolute floors of
    the flags matter; 0.08 bits split the verdict before) or large (InfoNCE near its
    ceiling), noisy, with train/validation gaps, a control and a linear bound."""
    rng = np.random.default_rng(seed)
    intercept = rng.choice([rng.uniform(0.02, 0.3), rng.uniform(3.0, 7.5)])
    slope = rng.normal(0.0, 0.02)
    noise = rng.uniform(0.002, 0.05)
    val_offset = rng.normal(0.0, 0.06)
    rows = []
    for g in range(1, 11):
        for c in range(g):
            mi = intercept + slope * g + rng.normal(scale=noise)
            val = mi - abs(rng.normal(0.03, 0.03)) * g + val_offset
            rows.append((g, c, mi, val))
    controls = [(2, 0, rng.normal(0.0, 0.05)), (4, 0, rng.normal(0.0, 0.05))]
    return {
        "rows": rows,
        "controls": controls,
        "estimator": rng.choice(["infonce", "smile"]),
        "linear": (rng.uniform(0.0, 1.5) * intercept, rng.uniform(0.001, 0.02)),
    }


def record(g, c, mi, val, scale, n=N, stop="early_stopping", partial=False):
    return RunRecord(
        gamma=g,
        chunk=c,
        repeat=0,
        seed=0,
        n_samples=n // g,
        mi=mi * scale,
        mi_val=val * scale,
        best_epoch=0,
        epochs_run=1,
        stop_reason=stop,
        elapsed=0.0,
        history=History(np.zeros(1), np.zeros(1), np.zeros(1)),
        partial=partial,
    )


def rigorous(tab: dict, units: str, n: int = N, request=None, stop="completed") -> RigorousResult:
    scale = 1.0 if units == "bits" else NATS_PER_BIT
    request = request or REQUEST
    runs = tuple(record(g, c, mi, val, scale, n, *extra) for g, c, mi, val, *extra in tab["rows"])
    controls = tuple(record(g, c, mi, mi, scale, n) for g, c, mi in tab["controls"])
    bound_bits, se_bits = tab["linear"]
    return RigorousResult(
        runs=runs,
        fit=fit_runs(runs, n, request),
        units=units,
        n_samples=n,
        gammas=tuple(range(1, 11)),
        repeats=1,
        settings={
            "estimator": str(tab["estimator"]),
            "batch_size": 128,
            "critic": "separable",
            "fit": request,
        },
        stop_reason=stop,
        elapsed=1.0,
        device="cpu",
        controls=controls,
        linear=LinearBound(bound_bits * NATS_PER_BIT, se_bits * NATS_PER_BIT, (0, 0), n),
    )


def varied(seed: int, units: str) -> RigorousResult:
    """The seed's table under one of several conditions, so that every flag of the fit
    has cases: fewer samples (sample floor), a manual choice, a tight delta threshold,
    diverged runs, a stopped analysis with partial runs, fewer gammas."""
    tab = table(seed)
    kind = seed % 6
    if kind == 0:
        return rigorous(tab, units, n=[600, 1500, 2500][seed // 6 % 3])
    if kind == 1:
        return rigorous(tab, units, request={**REQUEST, "exclude": [9, 10]})
    if kind == 2:
        return rigorous(tab, units, request={**REQUEST, "delta_threshold": 0.01})
    if kind == 3:
        rows = [
            (g, c, math.nan, math.nan, "diverged") if (g + c + seed) % 7 == 0 else (g, c, m, v)
            for g, c, m, v in tab["rows"]
        ]
        return rigorous({**tab, "rows": rows}, units)
    if kind == 4:
        rows = [(g, c, m, v, "early_stopping", g >= 8) for g, c, m, v in tab["rows"] if g <= 9]
        return rigorous({**tab, "rows": rows}, units, stop="interrupted")
    rows = [r for r in tab["rows"] if r[0] in (1, 2, 3, 6)]
    fewest = 3 if seed % 12 == 5 else 5
    return rigorous({**tab, "rows": rows}, units, request={**REQUEST, "min_gamma_points": fewest})


def estimate(seed: int, units: str) -> EstimateResult:
    rng = np.random.default_rng(seed)
    mi = float(rng.uniform(0.01, 7.0))
    val = mi - float(rng.uniform(0.0, 0.1) if seed % 3 else rng.uniform(0.0, 2.0))
    scale = 1.0 if units == "bits" else NATS_PER_BIT
    stop = ["early_stopping", "max_epochs", "diverged", "cancelled"][seed % 4]
    return EstimateResult(
        mi=mi * scale,
        mi_val=val * scale,
        units=units,
        best_epoch=3,
        stop_reason=stop,
        history=History(np.full(5, mi * scale), np.full(5, val * scale), np.full(5, val * scale)),
        settings={
            "estimator": str(rng.choice(["infonce", "smile"])),
            "batch_size": 128,
            "critic": "separable",
            "epochs": 9,
        },
        n_train=int(rng.integers(50, 5000)),
        n_val=500,
        x_dim=int(rng.integers(1, 100)),
        y_dim=1,
        elapsed=1.0,
        device="cpu",
        threads=1,
        linear=LinearBound(rng.uniform(0, 2) * mi * NATS_PER_BIT, 0.01, (0, 0), 0.5),
        varying_samples={
            "x_train": 100,
            "x_val": 50,
            "y_train": int(rng.integers(0, 20)),
            "y_val": 30,
        },
    )


def snapshot(result) -> dict:
    """What the verdict says about ``result``, as plain data."""
    return {
        "flags": [[f.code, f.message, f.unreliable] for f in result.flags],
        "is_reliable": result.is_reliable,
        "reasons": list(result.reasons),
        "warnings": list(result.warnings),
        "mi": None if not math.isfinite(result.mi) else result.mi,
    }


def all_snapshots() -> dict:
    out = {}
    for units in ("bits", "nats"):
        for seed in range(40):
            out[f"rigorous {units} {seed}"] = snapshot(varied(seed, units))
        for seed in range(20):
            out[f"estimate {units} {seed}"] = snapshot(estimate(seed, units))
    return out


if __name__ == "__main__":  # writes the expected values (run against the committed engine)
    import json
    import sys

    json.dump(all_snapshots(), sys.stdout, indent=1, sort_keys=True)
