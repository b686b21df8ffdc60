"""The verdict does not depend on the units: the same runs in bits and in nats get the
same flags (every threshold compares in nats).  Synthetic run tables, no training."""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from verdict_cases import all_snapshots  # tests/engine
from verdict_cases import rigorous as _rigorous
from verdict_cases import table as _table

from nmi_jupyter.engine.linear_bound import LinearBound
from nmi_jupyter.engine.results import EstimateResult, History
from nmi_jupyter.engine.units import NATS_PER_BIT


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


def test_the_verdict_is_the_committed_engines_on_120_synthetic_results():
    # verdict_expected.json: the flags (code, sentence, unreliable), reliability, reasons,
    # warnings and MI of 80 rigorous analyses (40 run tables under six conditions: fewer
    # samples, a manual choice, a tight delta, diverged runs, an interrupt, few gammas;
    # bits and nats) and 40 estimates, scored by the engine before the verdict moved to
    # engine/verdict.py (`python tests/engine/verdict_cases.py` on that checkout).
    expected = json.loads((Path(__file__).parent / "verdict_expected.json").read_text())
    now = all_snapshots()
    assert now.keys() == expected.keys()
    for name, want in expected.items():
        got = now[name]
        assert got["flags"] == want["flags"], name
        assert (got["is_reliable"], got["reasons"], got["warnings"]) == (
            want["is_reliable"],
            want["reasons"],
            want["warnings"],
        ), name
        assert got["mi"] == pytest.approx(want["mi"], rel=1e-12, abs=1e-15, nan_ok=True), name


def test_the_linear_bound_is_in_the_results_units():
    table = _table(0)
    bits, nats = _rigorous(table, "bits"), _rigorous(table, "nats")
    assert bits.linear.units == "bits" and nats.linear.units == "nats"
    assert bits.linear.mi == pytest.approx(table["linear"][0])  # the table gives bits
    assert bits.linear.mi_nats == nats.linear.mi == pytest.approx(bits.linear.mi * NATS_PER_BIT)
    assert bits.linear_mi == bits.linear.mi and bits.linear.se * NATS_PER_BIT == pytest.approx(
        bits.linear.se_nats
    )
    # the saved file keeps nats, and a loaded result has its bound in its own units again
    assert bits.linear.to_dict()["mi"] == bits.linear.mi_nats
    saved = json.loads(json.dumps(bits.to_dict()))
    saved["settings"]["epochs"] = 50
    back = type(bits).from_dict(saved)
    assert back.linear == bits.linear and back.linear.mi == bits.linear.mi
