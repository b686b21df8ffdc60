"""Conditional MI and transfer entropy: plans, the paired reducer, the verdict, save/load,
bad inputs, and tiny smoke runs of nmi.conditional and nmi.transfer (issue 21)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.dependence import lag_embedding, terms_plan
from nmi_jupyter.engine.dependence_result import (
    ConditionalResult,
    TransferResult,
    paired_difference_fit,
    paired_differences,
)
from nmi_jupyter.engine.errors import InsufficientDataError, InvalidDataError, OptionError
from nmi_jupyter.engine.plan import rigorous_plan
from nmi_jupyter.engine.results import History
from nmi_jupyter.engine.rigorous_result import RigorousResult, RunRecord, fit_runs
from nmi_jupyter.engine.sweep_result import SweepPoint

REQUEST = {
    "exclude": None,
    "use": None,
    "delta_threshold": 0.1,
    "min_gamma_points": 5,
    "confidence_level": 0.68,
}
N = 8000
SETTINGS = {
    **EstimateConfig(seed=0).to_dict(),
    "fit": REQUEST,
    "gammas": list(range(1, 11)),
}
TINY = {"epochs": 2, "batch_size": 32, "hidden_dim": 8, "embedding_dim": 4, "seed": 0}


# ----- the plan -----


def test_terms_share_rows_seeds_and_labels_and_differ_only_in_columns():
    config = EstimateConfig(seed=3)
    base = rigorous_plan(1000, [1, 2, 3], 2, True, config)
    plan = terms_plan(base, [(None, None), ((2, 3), None)])
    n = len(base.runs)
    assert len(plan.runs) == 2 * n
    assert [r.run_id for r in plan.runs] == list(range(2 * n))
    joint, marginal = plan.runs[:n], plan.runs[n:]
    for a, b, orig in zip(joint, marginal, base.runs, strict=True):
        assert a.seed == b.seed == orig.seed
        assert (a.gamma, a.chunk, a.repeat, a.control) == (b.gamma, b.chunk, b.repeat, b.control)
        assert np.array_equal(a.view.rows, b.view.rows)
        if orig.view.y_rows is not None:  # a shuffled control: the same permutation
            assert np.array_equal(a.view.y_rows, b.view.y_rows)
        assert a.view.x_columns is None and b.view.x_columns == (2, 3)
    # work units per term (each term's gamma stacks on its worker)
    assert {r.unit for r in joint}.isdisjoint({r.unit for r in marginal})


def test_lag_embedding_pairs_pasts_with_the_future_sample():
    t = np.arange(10.0)
    x = np.stack([t, 100 + t], axis=1)  # two channels
    y = 1000 + t[:, None]
    past, future = lag_embedding(x, y, history=3, horizon=2)
    assert past.shape == (6, 3 * 2 + 3) and future.shape == (6, 1 + 2)
    # row 0 is time t = 2: x at 0, 1, 2 (channels together), y at 0, 1, 2; future at t = 4
    assert past[0].tolist() == [0, 100, 1, 101, 2, 102, 1000, 1001, 1002]
    assert future[0].tolist() == [1004, 4, 104]
    assert future[-1].tolist() == [1009, 9, 109]


# ----- the reducer on synthetic run tables -----


def _record(g, c, mi, val, repeat=0, stop="early_stopping"):
    history = History(np.array([mi]), np.array([val]), np.array([val]))
    return RunRecord(g, c, repeat, 0, N // g, mi, val, 0, 1, stop, 0.0, history)


def _point(rows) -> SweepPoint:
    runs = tuple(_record(*row) for row in rows)
    result = RigorousResult(
        runs=runs,
        fit=fit_runs(runs, N, REQUEST),
        units="bits",
        n_samples=N,
        gammas=tuple(range(1, 11)),
        repeats=1,
        settings=SETTINGS,
        stop_reason="completed",
        elapsed=0.0,
        device="cpu",
    )
    return SweepPoint(values={"term": 0}, units="bits", settings=SETTINGS, rigorous=result)


def _tables(joint_mi, marginal_mi, shared=0.05, own=0.002, seed=0):
    """Two terms' run tables whose chunks share a large fluctuation (the same samples)."""
    rng = np.random.default_rng(seed)
    joint, marginal = [], []
    for g in range(1, 11):
        for c in range(g):
            common = rng.normal(scale=shared * math.sqrt(g))  # a chunk's own sample luck
            j = joint_mi - 0.01 * g + common + rng.normal(scale=own)
            m = marginal_mi - 0.004 * g + common + rng.normal(scale=own)
            joint.append((g, c, j, j - 0.01))
            marginal.append((g, c, m, m - 0.01))
    return joint, marginal


def _conditional(joint_rows, marginal_rows) -> ConditionalResult:
    return ConditionalResult(
        joint_point=_point(joint_rows),
        marginal_point=_point(marginal_rows),
        units="bits",
        rigorous=True,
        n_samples=N,
        settings=SETTINGS,
        stop_reason="completed",
        elapsed=0.0,
        device="cpu",
    )


def test_paired_fit_is_the_difference_and_narrower_than_independent_errors():
    joint, marginal = _tables(2.0, 1.0)
    r = _conditional(joint, marginal)
    # on the same gammas (same weights) the paired intercept is the terms' difference
    used = r.fit.gammas_used
    assert r.mi == pytest.approx(
        r.joint.refit(use=used).mi - r.marginal.refit(use=used).mi, abs=1e-9
    )
    assert r.mi == pytest.approx(1.0, abs=0.03)
    assert r.interval[0] <= 1.0 <= r.interval[1]
    # the shared fluctuation cancels in the pairs, not when errors are added
    assert r.mi_error < 0.5 * r.mi_error_independent
    assert r.is_reliable and r.flags == ()


def test_pairs_match_on_gamma_chunk_and_repeat_and_skip_diverged_runs():
    joint, marginal = _tables(2.0, 1.0)
    marginal[0] = (*marginal[0], 0, "diverged")  # gamma 1's run diverged in one term
    joint_runs = tuple(_record(*row) for row in joint)
    marginal_runs = tuple(_record(*row) for row in marginal[::-1])  # order does not matter
    points = paired_differences(joint_runs, marginal_runs)
    assert len(points) == 54 and 1 not in {g for g, _, _ in points}
    assert all(d == pytest.approx(1.0 - 0.006 * g, abs=0.02) for g, d, _ in points)
    fit = paired_difference_fit(joint_runs, marginal_runs, REQUEST, N)
    assert 1 not in fit.gammas_used and fit.mi == pytest.approx(1.0, abs=0.03)


def test_a_difference_negative_beyond_its_error_is_flagged():
    joint, marginal = _tables(1.0, 1.5)
    r = _conditional(joint, marginal)
    assert r.interval[1] < 0
    assert [f.code for f in r.flags] == ["negative"]
    assert not r.is_reliable and "negative beyond its error" in r.reasons[0]
    # a slightly negative difference within its error is no finding
    joint, marginal = _tables(1.0, 1.0, seed=2)
    assert "negative" not in {f.code for f in _conditional(joint, marginal).flags}


def test_term_flags_are_carried_with_the_terms_name():
    joint, marginal = _tables(2.0, 1.0)
    bent = [(g, c, mi + 0.05 * g * g, val) for g, c, mi, val in marginal]  # curved in gamma
    r = _conditional(joint, bent)
    assert any(m.startswith("I(Z;Y): ") for m in r.reasons)
    # the paired line is bent too, and says so on its own
    assert any(m.startswith("the difference's fit: MI is not linear") for m in r.reasons)


def test_conditional_and_transfer_results_save_and_load(tmp_path):
    joint, marginal = _tables(2.0, 1.0)
    r = _conditional(joint, marginal)
    r.save(tmp_path / "c.json")
    back = nmi.load(tmp_path / "c.json")
    assert isinstance(back, ConditionalResult)
    assert back.mi == r.mi and back.mi_error == r.mi_error and back.flags == r.flags
    assert back.joint.runs == r.joint.runs
    t = TransferResult(
        xy=r,
        yx=_conditional(*_tables(1.0, 1.0, seed=4)),
        history=2,
        horizon=1,
        units="bits",
        n_samples=N,
        settings=SETTINGS,
        stop_reason="completed",
        elapsed=0.0,
        device="cpu",
    )
    t.save(tmp_path / "t.json")
    back = nmi.load(tmp_path / "t.json")
    assert isinstance(back, TransferResult) and back.history == 2
    assert back.te_xy == t.te_xy and back.te_yx == t.te_yx
    assert back.directionality == pytest.approx(t.directionality)
    assert "TE(X->Y)" in back.summary() and "directionality" in back.summary()


def test_plot_shows_both_terms_and_the_difference_of_each_direction():
    import matplotlib

    matplotlib.use("Agg")
    xy = _conditional(*_tables(2.0, 1.0))
    ax = xy.plot()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["I([X,Z];Y)", "I(Z;Y)", "difference"]
    assert [p.get_height() for p in ax.patches][2] == pytest.approx(xy.mi)
    t = TransferResult(xy, xy, 1, 1, "bits", N, SETTINGS, "completed", 0.0, "cpu")
    assert len(t.plot().patches) == 6


def test_directionality_counts_a_negative_estimate_as_zero():
    xy = _conditional(*_tables(2.0, 1.0))
    yx = _conditional(*_tables(1.0, 1.02, seed=5))
    t = TransferResult(xy, yx, 1, 1, "bits", N, SETTINGS, "completed", 0.0, "cpu")
    assert yx.mi < 0 and t.directionality == 1.0


# ----- bad inputs -----


def test_bad_inputs_are_sentences():
    x, y, z = nmi.generators.conditional_gaussians(300, seed=0)
    with pytest.raises(InvalidDataError, match="z must have the same number of samples"):
        nmi.conditional(x, y, z[:200], **TINY)
    with pytest.raises(OptionError, match="history"):
        nmi.transfer(x, y, history=0, **TINY)
    with pytest.raises(OptionError, match="horizon"):
        nmi.transfer(x, y, horizon=-1, **TINY)
    with pytest.raises(InsufficientDataError, match="time points"):
        nmi.transfer(x[:5], y[:5], history=3, horizon=2, **TINY)
    with pytest.raises(OptionError, match="Unknown option 'histroy'"):
        nmi.transfer(x, y, histroy=2, **TINY)
    with pytest.raises(OptionError, match="Unknown option"):
        nmi.conditional(x, y, z, history=2, **TINY)


# ----- tiny real runs -----


def test_conditional_smoke_run_trains_both_terms_in_one_plan():
    x, y, z = nmi.generators.conditional_gaussians(900, 1, 1.0, seed=1)
    started = []
    r = nmi.conditional(
        x,
        y,
        z,
        gammas=[1, 2, 3],
        min_gamma_points=2,
        control=False,
        observer=lambda e: started.append(e.run_id) if type(e).__name__ == "RunStarted" else None,
        **TINY,
    )
    assert isinstance(r, ConditionalResult) and isinstance(r.joint, RigorousResult)
    assert sorted(started) == list(range(12))  # 6 runs per term, one plan
    assert [run.seed for run in r.joint.runs] == [run.seed for run in r.marginal.runs]
    assert math.isfinite(r.mi) and math.isfinite(r.mi_error)
    assert "I(X;Y|Z)" in r.summary() and "conditional" in r._repr_html_()
    quick = nmi.conditional(x, y, z, rigorous=False, repeats=2, **TINY)
    assert isinstance(quick.joint, SweepPoint) and len(quick.joint.runs) == 2
    assert math.isfinite(quick.mi_error)


def test_transfer_smoke_run_has_both_directions_and_a_blocked_split():
    x, y = nmi.generators.var1_pair(900, seed=0)
    r = nmi.transfer(x, y, history=2, gammas=[1, 2, 3], min_gamma_points=2, control=False, **TINY)
    assert isinstance(r, TransferResult) and r.yx is not None
    assert r.settings["split"] == "blocked" and r.settings["gap"] == 2
    assert r.n_samples == 900 - 2 - 1 + 1
    assert math.isfinite(r.te_xy) and math.isfinite(r.te_yx)
    assert r.xy.labels[1] == "I(Y_past;Y_future)"
    one = nmi.transfer(x, y, both=False, rigorous=False, **TINY)
    assert one.yx is None and math.isnan(one.te_yx) and math.isnan(one.directionality)


def test_an_executor_trains_the_terms_as_units_with_the_same_numbers():
    import concurrent.futures as cf

    x, y, z = nmi.generators.conditional_gaussians(600, 1, 1.0, seed=2)
    options = {"gammas": [1, 2], "min_gamma_points": 2, "control": False, **TINY}
    here = nmi.conditional(x, y, z, **options)
    with cf.ThreadPoolExecutor(2) as pool:
        there = nmi.conditional(x, y, z, executor=pool, **options)
    assert there.mi == here.mi and there.mi_error == here.mi_error
    for term in ("joint", "marginal"):
        runs = [getattr(r, term).runs for r in (here, there)]
        assert [r.mi for r in runs[0]] == [r.mi for r in runs[1]]
