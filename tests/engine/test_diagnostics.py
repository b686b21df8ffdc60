"""Each failure flag on synthetic runs (no training): it fires when it should, and not otherwise."""

import dataclasses
import math

import numpy as np
import pytest

from nmi_jupyter.engine.linear_bound import LinearBound
from nmi_jupyter.engine.results import History
from nmi_jupyter.engine.rigorous_result import RigorousResult, RunRecord, fit_runs
from nmi_jupyter.engine.verdict import control_estimate, diagnose

REQUEST = {
    "exclude": None,
    "use": None,
    "delta_threshold": 0.1,
    "min_gamma_points": 5,
    "confidence_level": 0.68,
}
EMPTY = History(np.zeros(1), np.zeros(1), np.zeros(1))


def _run(gamma, chunk, mi, mi_val=None, stop="early_stopping"):
    return RunRecord(
        gamma=gamma,
        chunk=chunk,
        repeat=0,
        seed=0,
        n_samples=5000 // gamma,
        mi=mi,
        mi_val=mi if mi_val is None else mi_val,
        best_epoch=0,
        epochs_run=1,
        stop_reason=stop,
        elapsed=0.0,
        history=EMPTY,
    )


def _runs(intercept=2.0, slope=0.01, val_intercept=None, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    runs = []
    for g in range(1, 11):
        for c in range(g):
            mi = intercept + slope * g + rng.normal(scale=noise)
            val = None if val_intercept is None else val_intercept + rng.normal(scale=noise)
            runs.append(_run(g, c, mi, val))
    return tuple(runs)


def _result(runs, controls=(), estimator="infonce", stop="completed", linear=None):
    settings = {"estimator": estimator, "batch_size": 128, "critic": "separable", "fit": REQUEST}
    return RigorousResult(
        runs=runs,
        fit=fit_runs(runs, 5000, REQUEST),
        units="bits",
        n_samples=5000,
        gammas=tuple(range(1, 11)),
        repeats=1,
        settings=settings,
        stop_reason=stop,
        elapsed=1.0,
        device="cpu",
        controls=controls,
        linear=linear,
    )


def _codes(result):
    return {f.code for f in result.flags}


def test_a_clean_analysis_has_no_flags():
    r = _result(_runs())
    assert _codes(r) == set() and r.is_reliable and r.reasons == ()


def test_ceiling_flag_for_infonce_only():
    runs = _runs(intercept=6.5)  # log2(128) = 7 bits
    assert "ceiling" in _codes(_result(runs))
    assert "smile" in " ".join(_result(runs).reasons)
    assert "ceiling" not in _codes(_result(runs, estimator="smile"))
    # 81 % of log(batch_size): estimates there were 6-7 % low on the suite, no flag
    assert "ceiling" not in _codes(_result(_runs(intercept=5.6, slope=0.0, noise=0.02)))
    assert "ceiling" in _codes(_result(_runs(intercept=6.1, slope=0.0, noise=0.02)))  # 87 %
    assert not _result(runs).is_reliable


def test_at_the_ceiling_the_interval_is_one_sided():
    # InfoNCE capped by log(batch_size) is only a lower bound: on the accuracy suite such
    # estimates were 10-46 % low, so the interval keeps its lower end and opens upwards.
    capped = _result(_runs(intercept=6.5))
    assert capped.lower_bound_only
    low, high = capped.interval
    assert low == capped.fit.ci[0] and high == math.inf
    assert "at least" in capped.summary().splitlines()[0]
    assert "one-sided" in capped.summary().splitlines()[0]
    assert "lower bound" in repr(capped)
    # the same runs under SMILE (no ceiling), or InfoNCE far below it: two-sided
    for r in (_result(_runs(intercept=6.5), estimator="smile"), _result(_runs())):
        assert not r.lower_bound_only and r.interval == r.fit.ci
        assert "±" in r.mi_text() and "at least" not in r.summary()


def _bound(bits, se_bits=0.01, pair=(3, 1)):
    return LinearBound(bits * math.log(2), se_bits * math.log(2), pair, 5000)


def test_an_estimate_far_below_the_linear_bound_is_flagged():
    # The runs say 2 bits; one feature pair alone certifies 3: the critic missed it.
    low = _result(_runs(intercept=2.0), estimator="smile", linear=_bound(3.0))
    assert "below_linear_bound" in _codes(low) and not low.is_reliable
    flag = next(f for f in low.flags if f.code == "below_linear_bound")
    assert "X[:, 3] and Y[:, 1]" in flag.message and "33% below" in flag.message
    assert "lower bound from one feature pair (X[:, 3], Y[:, 1]" in low.summary()
    assert "3.0000 ± 0.0100 bits" in low.summary()
    # within 15 % of the bound (2.0 vs 2.3), near zero, or with no bound: no flag
    for ok in (
        _result(_runs(intercept=2.0), estimator="smile", linear=_bound(2.3)),
        _result(_runs(intercept=0.0, slope=0.0), estimator="smile", linear=_bound(0.04)),
        _result(_runs(intercept=2.0), estimator="smile"),
    ):
        assert "below_linear_bound" not in _codes(ok)
    # a noisy bound (few samples) gets 2 standard errors of room: 2.0 vs 2.6 +- 0.35
    noisy = _result(_runs(intercept=2.0), estimator="smile", linear=_bound(2.6, se_bits=0.35))
    assert "below_linear_bound" not in _codes(noisy)
    assert "lower bound from one feature pair" not in _result(_runs()).summary()


def test_unstable_runs_are_excluded_and_flagged():
    runs = list(_runs())
    runs[5] = _run(3, 2, 50.0, stop="diverged")  # a wild value that must not enter the fit
    r = _result(tuple(runs))
    assert r.mi == pytest.approx(2.0, abs=0.03)
    flag = next(f for f in r.flags if f.code == "unstable_runs")
    assert not flag.unreliable and "1 of 55" in flag.message  # one run: a warning
    many = list(_runs())
    for i in range(10):
        many[20 + i] = _run(many[20 + i].gamma, many[20 + i].chunk, math.nan, stop="diverged")
    assert not _result(tuple(many)).is_reliable


def test_runs_lost_on_an_executor_are_a_flag_of_their_own():
    runs = list(_runs())
    for i in (1, 2):  # the gamma = 2 unit failed: its runs never trained, no value
        assert runs[i].gamma == 2
        runs[i] = _run(runs[i].gamma, runs[i].chunk, math.nan, stop="failed")
    r = _result(tuple(runs))
    codes = _codes(r)
    assert "failed_runs" in codes and "unstable_runs" not in codes
    flag = next(f for f in r.flags if f.code == "failed_runs")
    assert "2 of 55" in flag.message and "executor" in flag.message and not flag.unreliable
    assert r.mi == pytest.approx(2.0, abs=0.05)  # the other gammas still fit


def test_overfitting_and_disagreeing_extrapolations():
    r = _result(_runs(intercept=2.0, val_intercept=1.0))
    codes = _codes(r)
    assert {"overfitting", "extrapolations_disagree"} <= codes
    assert not r.is_reliable
    agree = _result(_runs(intercept=2.0, val_intercept=2.0))
    assert not {"overfitting", "extrapolations_disagree"} & _codes(agree)


def test_disagreement_is_relative_and_either_way():
    # A precise but small gap (22 %, many standard errors) is not a disagreement: the
    # interval carries it as model error instead.  (Accurate fits had gaps up to 23 %.)
    close = _result(_runs(intercept=2.0, val_intercept=1.55, noise=0.001))
    assert "extrapolations_disagree" not in _codes(close) and close.is_reliable
    assert close.fit.se_model == pytest.approx(0.45, abs=0.01)
    # A validation intercept 28 % *above* the training one, however noisy (the SMILE
    # +27 % miss on Student-t data of the suite looked like this), is one.
    above = _result(_runs(intercept=2.0, val_intercept=2.6, noise=0.1))
    assert "extrapolations_disagree" in _codes(above) and not above.is_reliable
    assert "28% apart" in " ".join(above.reasons)


def test_shuffled_control():
    clean = (_run(2, 0, 0.02), _run(4, 0, 0.03), _run(4, 1, 0.05))
    assert control_estimate(clean) == pytest.approx(0.02 - 2 * (0.04 - 0.02) / 2)
    assert "shuffled_control" not in _codes(_result(_runs(), clean))
    biased = (_run(2, 0, 0.4), _run(4, 0, 0.45), _run(4, 1, 0.45))
    r = _result(_runs(), biased)
    assert "shuffled_control" in _codes(r) and not r.is_reliable
    assert r.control_mi == pytest.approx(0.35)


def test_partial_analysis_is_flagged():
    r = _result(_runs(), stop="cancelled")
    assert "partial" in _codes(r) and not r.is_reliable


def test_fit_flags_carry_codes():
    curved = tuple(_run(g, c, 2 + 0.05 * g + 0.05 * g * g) for g in range(1, 11) for c in range(g))
    assert "curvature" in _codes(_result(curved))


def test_summary_and_html_show_flags_as_badges():
    r = _result(_runs(intercept=6.5))
    assert "unreliable because InfoNCE runs reach" in r.summary()
    html = r._repr_html_()
    assert "not reliable" in html and ">ceiling</span>" in html


def test_summary_lists_the_error_budget_that_makes_the_interval():
    r = _result(_runs(intercept=2.0, val_intercept=1.8))
    f = r.fit
    line = next(x for x in r.summary().splitlines() if x.startswith("error budget"))
    for value in (f.se_intercept, f.se_data, f.se_model):
        assert f"{value:.4f}" in line
    # the three standard errors are what the interval is made of
    assert math.sqrt(f.se_intercept**2 + f.se_data**2 + f.se_model**2) == pytest.approx(
        f.se_interval
    )


def test_diagnose_is_pure_numbers():
    runs = _runs()
    fit = fit_runs(runs, 5000, REQUEST)
    assert diagnose(runs, (), fit, {"estimator": "smile"}, "bits") == ()


def test_negative_slope_means_under_fitting():
    falling = _result(_runs(intercept=2.0, slope=-0.08))  # loses 40 % by gamma 10
    assert "negative_slope" in _codes(falling)
    # a warning: on the accuracy suite steep falls were as common in accurate fits
    assert falling.is_reliable and any("under-fits" in w for w in falling.warnings)
    mild = _result(_runs(intercept=2.0, slope=-0.03))  # loses 15 %: accurate fits did too
    assert "negative_slope" not in _codes(mild)
    # Loses 28 %, as the accurate (-1 %) d = 1 Gaussian smile fit of the suite did:
    # no flag (NEGATIVE_SLOPE_DROP = 0.3; the misses lost 33 % and more).
    accurate = _result(_runs(intercept=2.0, slope=-0.056))
    assert "negative_slope" not in _codes(accurate)
    flat = _result(_runs(intercept=2.0, slope=0.0, noise=0.02))
    assert "negative_slope" not in _codes(flat)


# ----- one run: the same verdict module (verdict.estimate_flags) -----
def _estimate(mi_bits, *, batch=128, n_train=1800, x_dim=2, varying=None, stop="early_stopping"):
    from nmi_jupyter.engine.results import EstimateResult

    return EstimateResult(
        mi=mi_bits,
        mi_val=mi_bits,
        units="bits",
        best_epoch=2,
        stop_reason=stop,
        history=History(np.full(3, mi_bits), np.full(3, mi_bits), np.full(3, mi_bits)),
        settings={"estimator": "infonce", "batch_size": batch, "critic": "separable", "epochs": 9},
        n_train=n_train,
        n_val=200,
        x_dim=x_dim,
        y_dim=1,
        elapsed=1.0,
        device="cpu",
        threads=1,
        varying_samples=varying,
    )


def test_one_ceiling_one_fraction_for_flag_summary_and_property():
    from nmi_jupyter.engine.verdict import CEILING_FRACTION

    # Notebook 03: 6.74 bits with batch_size 64 was printed as "(ceiling 6.00)".  The
    # reported value is evaluated in blocks of 512 (here 3 blocks of 600): its ceiling
    # is log2(600), and it is flagged at CEILING_FRACTION of log2(64), the training cap.
    r = _estimate(6.74, batch=64, n_train=1800)
    assert r.ceiling == pytest.approx(math.log2(600)) and r.mi < r.ceiling
    assert r.training_ceiling == pytest.approx(6.0)
    assert "ceiling" in {f.code for f in r.flags} and not r.is_reliable
    assert "9.23 bits for the reported value" in r.summary()
    # at the fraction (the summary used 0.9, the plot 0.6): flag and summary agree
    near = _estimate((CEILING_FRACTION + 0.01) * 7.0)
    assert "ceiling" in {f.code for f in near.flags} and "unreliable because" in near.summary()
    below = _estimate((CEILING_FRACTION - 0.01) * 7.0)
    assert below.flags == () and below.is_reliable and "unreliable" not in below.summary()


def test_the_rigorous_ceiling_uses_the_same_definition():
    # eval blocks smaller than the batch: the reported values' own cap binds
    runs = _runs(intercept=4.0)  # 57 % of log2(128), but 4 / log2(16) = 100 %
    settings = {"eval_batch_size": 16}
    r = _result(runs)
    assert "ceiling" not in _codes(r)
    capped = dataclasses.replace(r, settings={**r.settings, **settings})
    assert "ceiling" in _codes(capped)


def test_estimate_flags_for_samples_and_degenerate_variables():
    from nmi_jupyter.engine.verdict import varying_samples

    assert [f.code for f in _estimate(1.0, n_train=450, x_dim=1000).flags] == ["too_few_samples"]
    assert not _estimate(1.0, n_train=450, x_dim=1000).is_reliable
    few = _estimate(1.0, n_train=4500, x_dim=1000)  # 4.5 per feature: a warning
    assert [f.code for f in few.flags] == ["too_few_samples"] and few.is_reliable
    y = np.zeros((5000, 1))
    y[3] = 1.0
    counts = {"x_train": 4500, "x_val": 500, "y_train": varying_samples(y[:4500]), "y_val": 0}
    assert (
        counts["y_train"] == 1
        and varying_samples(np.random.default_rng(0).normal(size=(9, 3))) >= 8
    )
    flagged = _estimate(0.1, varying=counts)
    assert [f.code for f in flagged.flags] == ["degenerate_variable"] and not flagged.is_reliable
    assert "y varies in 0 validation samples" in flagged.flags[0].message
    assert "degenerate_variable" in repr(flagged) and "degenerate_variable" in flagged._repr_html_()
