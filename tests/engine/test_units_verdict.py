"""The verdict does not depend on the units: the same runs in bits and in nats get the
same flags (every threshold compares in nats).  Synthetic run tables, no training."""

import dataclasses
import math

import numpy as np
import pytest

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


def _table(seed: int) -> dict:
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


def _record(g, c, mi, val, scale):
    return RunRecord(
        gamma=g,
        chunk=c,
        repeat=0,
        seed=0,
        n_samples=N // g,
        mi=mi * scale,
        mi_val=val * scale,
        best_epoch=0,
        epochs_run=1,
        stop_reason="early_stopping",
        elapsed=0.0,
        history=History(np.zeros(1), np.zeros(1), np.zeros(1)),
    )


def _rigorous(table: dict, units: str) -> RigorousResult:
    scale = 1.0 if units == "bits" else NATS_PER_BIT
    runs = tuple(_record(g, c, mi, val, scale) for g, c, mi, val in table["rows"])
    controls = tuple(_record(g, c, mi, mi, scale) for g, c, mi in table["controls"])
    bound_bits, se_bits = table["linear"]
    return RigorousResult(
        runs=runs,
        fit=fit_runs(runs, N, REQUEST),
        units=units,
        n_samples=N,
        gammas=tuple(range(1, 11)),
        repeats=1,
        settings={
            "estimator": str(table["estimator"]),
            "batch_size": 128,
            "critic": "separable",
            "fit": REQUEST,
        },
        stop_reason="completed",
        elapsed=1.0,
        device="cpu",
        controls=controls,
        linear=LinearBound(bound_bits * NATS_PER_BIT, se_bits * NATS_PER_BIT, (0, 0), 0.5),
    )


def _codes(result):
    return sorted((f.code, f.unreliable) for f in result.flags)


def test_bits_and_nats_give_the_same_flags_over_many_fits():
    seen = set()
    for seed in range(40):
        table = _table(seed)
        bits, nats = _rigorous(table, "bits"), _rigorous(table, "nats")
        assert _codes(bits) == _codes(nats), seed
        assert bits.is_reliable == nats.is_reliable
        assert math.isclose(bits.mi * NATS_PER_BIT, nats.mi, rel_tol=1e-9, abs_tol=1e-12)
        seen.update(code for code, _ in _codes(bits))
    # the property is exercised on the flags with absolute floors, not only on clean fits
    assert {"extrapolations_disagree", "overfitting", "ceiling"} <= seen


def test_the_case_that_split_the_verdict():
    # 0.08 bits: a train/validation gap of 0.03 bits is 38 % of the 0.1-bit floor but
    # 54 % of a 0.1-nat floor: before, unreliable in nats only (or the reverse).
    rows = [
        (g, c, 0.08 + 0.002 * g, 0.08 + 0.002 * g - 0.03) for g in range(1, 11) for c in range(g)
    ]
    table = {"rows": rows, "controls": [], "estimator": "smile", "linear": (0.0, 0.001)}
    assert _codes(_rigorous(table, "bits")) == _codes(_rigorous(table, "nats"))


@pytest.mark.parametrize("seed", range(10))
def test_an_estimate_gets_the_same_flags_in_bits_and_nats(seed):
    rng = np.random.default_rng(seed)
    mi = float(rng.uniform(0.01, 7.0))
    val = mi - float(rng.uniform(0.0, 0.1))
    bits = EstimateResult(
        mi=mi,
        mi_val=val,
        units="bits",
        best_epoch=3,
        stop_reason="early_stopping",
        history=History(np.full(5, mi), np.full(5, val), np.full(5, val)),
        settings={"estimator": "infonce", "batch_size": 128, "critic": "separable", "epochs": 9},
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
    h = bits.history
    nats = dataclasses.replace(
        bits,
        mi=mi * NATS_PER_BIT,
        mi_val=val * NATS_PER_BIT,
        units="nats",
        history=History(
            h.train * NATS_PER_BIT, h.val * NATS_PER_BIT, h.val_smoothed * NATS_PER_BIT
        ),
    )
    assert _codes(bits) == _codes(nats)
    assert math.isclose(bits.ceiling * NATS_PER_BIT, nats.ceiling)
