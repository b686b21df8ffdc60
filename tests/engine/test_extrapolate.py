"""The gamma fit on synthetic (gamma, MI) data whose answer is known."""

import math

import numpy as np
import pytest
from scipy import stats

from nmi_jupyter import OptionError
from nmi_jupyter.engine.extrapolate import (
    GammaFit,
    curvature_delta,
    curvature_z,
    fit_gamma_line,
    wls,
)
from nmi_jupyter.engine.verdict import CURVATURE_Z, SAMPLE_FLOOR, fit_flags


def _runs(gammas=range(1, 11), per_gamma=None):
    """One run per chunk: gamma g has g runs, as in rigorous mode."""
    g = []
    for gamma in gammas:
        g += [gamma] * (per_gamma or gamma)
    return np.array(g, dtype=float)


def _textbook_line(x, y, w, level):
    """Hand-derived weighted simple regression (used only here)."""
    W = w.sum()
    xbar, ybar = (w * x).sum() / W, (w * y).sum() / W
    sxx = (w * (x - xbar) ** 2).sum()
    slope = (w * (x - xbar) * (y - ybar)).sum() / sxx
    intercept = ybar - slope * xbar
    resid = y - intercept - slope * x
    s2 = (w * resid**2).sum() / (len(x) - 2)
    se = math.sqrt(s2 * (1 / W + xbar**2 / sxx))
    t = stats.t.ppf(0.5 + level / 2, len(x) - 2)
    r2 = 1 - (w * resid**2).sum() / (w * (y - ybar) ** 2).sum()
    return intercept, slope, se, s2, t, r2


def _pooled_chunk_variance(g, mi):
    """c/N: chunk variance at each gamma >= 2 divided by gamma, pooled by dof."""
    num = den = 0.0
    for gamma in sorted(set(g)):
        v = [m for gg, m in zip(g, mi, strict=True) if gg == gamma]
        if gamma >= 2 and len(v) >= 2:
            mean = sum(v) / len(v)
            var = sum((e - mean) ** 2 for e in v) / (len(v) - 1)
            num += (len(v) - 1) * var / gamma
            den += len(v) - 1
    return num / den


@pytest.mark.parametrize("seed", range(5))
def test_matches_textbook_wls_to_1e10(seed):
    rng = np.random.default_rng(seed)
    g = _runs()
    mi = 2.0 + 0.03 * g + rng.normal(scale=0.05, size=len(g))
    fit = fit_gamma_line(g, mi, use=range(1, 11), delta_threshold=1e9)
    w = 1.0 / np.array([np.sum(g == v) for v in g])
    intercept, slope, se, s2, t, r2 = _textbook_line(g, mi, w, 0.68)
    data_var = _pooled_chunk_variance(list(g), list(mi))
    assert fit.mi == pytest.approx(intercept, abs=1e-10)
    assert fit.slope == pytest.approx(slope, abs=1e-10)
    assert fit.se_intercept == pytest.approx(se, abs=1e-10)
    assert fit.se_data == pytest.approx(math.sqrt(data_var), abs=1e-10)
    # The reported interval adds the dataset-level variance to the textbook one.
    assert fit.mi_error == pytest.approx(t * math.sqrt(se**2 + data_var), abs=1e-10)
    assert fit.mi_error_pred == pytest.approx(t * math.sqrt(se**2 + data_var + s2), abs=1e-10)
    assert fit.r2 == pytest.approx(r2, abs=1e-10)
    assert fit.ci == pytest.approx((intercept - fit.mi_error, intercept + fit.mi_error), abs=1e-10)


def test_data_error_is_the_chunk_spread_shared_by_every_gamma():
    # Chunk estimates with variance c*gamma/N around a line: se_data ~ sqrt(c/N).
    rng = np.random.default_rng(0)
    g = _runs(range(1, 11))
    mi = 1.0 + 0.01 * g + rng.normal(size=len(g)) * np.sqrt(0.004 * g)
    fit = fit_gamma_line(g, mi)
    assert fit.se_data == pytest.approx(math.sqrt(0.004), rel=0.3)
    assert fit.se_total > fit.se_data


def _noisy(seed, intercept, slope=0.03, noise=0.05):
    rng = np.random.default_rng(seed)
    g = _runs()
    return g, intercept + slope * g + rng.normal(scale=noise, size=len(g))


def test_validation_in_agreement_adds_little_model_error():
    # Train and validation MI that extrapolate to the same value: the model error is
    # their small gap, and the interval is close to the statistical one.
    g, mi = _noisy(0, 2.0)
    _, val = _noisy(1, 2.0, slope=-0.02)
    plain = fit_gamma_line(g, mi)
    fit = fit_gamma_line(g, mi, mi_val=val)
    assert fit.mi_val == pytest.approx(2.0, abs=0.05)
    assert fit.se_model == pytest.approx(abs(fit.mi - fit.mi_val)) and fit.se_model < 0.05
    assert plain.se_model == 0.0 and math.isnan(plain.mi_val)  # no validation values
    assert plain.mi_error < fit.mi_error < 2 * plain.mi_error


def test_disagreeing_validation_intercept_widens_the_interval_by_the_gap():
    # Validation MI extrapolating 0.4 below the training MI: the runs are not in the
    # 1/N regime, the chunk spread cannot show it, and the interval must: the gap is
    # one more standard error, so the half-width is at least t * 0.4.
    g, mi = _noisy(0, 2.0)
    _, val = _noisy(1, 1.6, slope=-0.02)
    plain = fit_gamma_line(g, mi)
    fit = fit_gamma_line(g, mi, mi_val=val)
    gap = fit.mi - fit.mi_val
    assert gap == pytest.approx(0.4, abs=0.1)
    assert fit.se_model == pytest.approx(gap, rel=1e-12)
    t = stats.t.ppf(0.84, fit.dof)
    assert fit.mi_error == pytest.approx(t * math.hypot(plain.se_total, gap))
    assert fit.mi_error > 3 * plain.mi_error and fit.mi == plain.mi
    assert fit.se_total == plain.se_total  # the statistical part is reported unchanged
    assert fit.se_interval == pytest.approx(math.hypot(plain.se_total, gap))


def test_validation_values_must_match_the_runs():
    with pytest.raises(OptionError, match="mi_val"):
        fit_gamma_line([1, 2, 3], [1.0, 1.1, 1.2], mi_val=[1.0, 1.1])


def test_exact_line_is_recovered():
    g = _runs()
    fit = fit_gamma_line(g, 1.5 + 0.02 * g)
    assert fit.mi == pytest.approx(1.5, abs=1e-12)
    assert fit.slope == pytest.approx(0.02, abs=1e-12)
    assert fit.gammas_used == tuple(range(1, 11)) and fit.dropped == {}
    assert fit.reliable and fit.mode == "automatic"
    assert fit.mi_error == pytest.approx(0, abs=1e-9)


def test_weights_make_every_gamma_count_once():
    # gamma 1 has one run, gamma 2 has 100 runs: unweighted, gamma 2 would dominate
    # the mean; weighted 1/count, the line goes through both gamma means.
    g = np.array([1.0] + [2.0] * 100 + [3.0])
    mi = np.array([1.0] + [2.0] * 50 + [2.4] * 50 + [3.4])
    fit = fit_gamma_line(g, mi, min_gamma_points=2)
    means = np.array([1.0, 2.2, 3.4])
    slope, intercept = np.polyfit([1, 2, 3], means, 1)
    assert fit.mi == pytest.approx(intercept, abs=1e-10)
    assert fit.slope == pytest.approx(slope, abs=1e-10)


def test_quadratic_tail_is_dropped_down_to_the_linear_part():
    g = _runs()
    # Linear up to gamma 6, then bending upward sharply.
    mi = 2.0 + 0.05 * g + 0.2 * np.clip(g - 6, 0, None) ** 2
    fit = fit_gamma_line(g, mi)
    assert fit.gammas_used == (1, 2, 3, 4, 5, 6)
    assert fit.dropped == {7: "curvature", 8: "curvature", 9: "curvature", 10: "curvature"}
    assert fit.mi == pytest.approx(2.0, abs=1e-10)
    assert fit.delta < 0.1 and fit.reliable


def test_too_much_curvature_is_unreliable():
    g = _runs()
    mi = 2.0 + 0.05 * g + 0.05 * g**2  # curved everywhere
    fit = fit_gamma_line(g, mi)
    assert len(fit.gammas_used) == 5  # dropping stops at min_gamma_points
    assert not fit.reliable
    assert any("not linear" in r for r in fit.reasons)


def test_curvature_within_the_noise_is_not_flagged():
    # A nearly flat, noisy line: delta = |a2/a1| is large because a1 is small, but a2
    # is within its noise.  The gammas are dropped as before; the flag needs a2 to be
    # CURVATURE_Z standard errors from zero.
    rng = np.random.default_rng(16)
    g = _runs()
    mi = 2.0 + 0.002 * g + rng.normal(scale=0.05, size=len(g))
    fit = fit_gamma_line(g, mi)
    assert fit.delta >= fit.delta_threshold and len(fit.gammas_used) == 5
    assert curvature_z(*_used(g, mi, fit)) < CURVATURE_Z
    assert "curvature" not in {f.code for f in fit.flags}
    curved = fit_gamma_line(g, mi + 0.04 * g**2)  # the same noise, a real bend
    assert curvature_z(*_used(g, mi + 0.04 * g**2, curved)) >= CURVATURE_Z
    assert "curvature" in {f.code for f in curved.flags}


def _used(g, mi, fit):
    keep = np.isin(g, fit.gammas_used)
    return g[keep], mi[keep]


def test_manual_drops_are_honoured_and_reported():
    g = _runs()
    mi = 2.0 + 0.05 * g + 0.2 * np.clip(g - 6, 0, None) ** 2
    fit = fit_gamma_line(g, mi, exclude={9, 10})
    assert fit.mode == "manual"
    assert fit.gammas_used == tuple(range(1, 9))
    assert fit.dropped == {9: "manual", 10: "manual"}
    assert not fit.reliable  # gammas 7 and 8 still bend the line
    same = fit_gamma_line(g, mi, use=range(1, 9))
    assert same.mi == fit.mi and same.dropped == fit.dropped
    clean = fit_gamma_line(g, mi, use=[1, 2, 3, 4, 5, 6])
    assert clean.reliable and clean.mi == pytest.approx(2.0, abs=1e-10)


def test_too_few_gammas_is_unreliable_with_a_reason():
    g = _runs(range(1, 4))
    fit = fit_gamma_line(g, 1.0 + 0.1 * g)
    assert not fit.reliable
    assert any("fewer than min_gamma_points" in r for r in fit.reasons)


def test_leaning_on_gamma_1_is_flagged():
    rng = np.random.default_rng(0)
    g = _runs()
    mi = 2.0 + 0.01 * g + rng.normal(scale=0.01, size=len(g))
    mi[g == 1] += 0.5  # gamma = 1 is far off the line of the others
    fit = fit_gamma_line(g, mi, delta_threshold=1e9)
    assert fit.loo_shift < 0
    assert any("gamma = 1" in r for r in fit.reasons) and not fit.reliable


@pytest.mark.parametrize(("offset", "flagged"), [(0.01, False), (0.1, True)])
def test_leverage_counts_the_shift_in_its_own_standard_errors(offset, flagged):
    # Runs with variance growing like gamma (as chunk estimates do); gamma = 1 moved by
    # one standard deviation of its own noise is not leverage, ten are.  (Each fit's own
    # residual scale once made this shift's error near zero and the flag fire.)
    rng = np.random.default_rng(3)
    g = _runs()
    mi = 2.0 + 0.01 * g + rng.normal(scale=0.01, size=len(g)) * np.sqrt(g)
    mi[g == 1] += offset
    fit = fit_gamma_line(g, mi, delta_threshold=1e9)
    assert ("leverage" in {f.code for f in fit.flags}) is flagged


def test_sample_floor_warning():
    g = _runs()
    assert SAMPLE_FLOOR == 300
    fit = fit_gamma_line(g, 1 + 0.01 * g, n_samples=2000)
    assert fit.reliable and fit.warnings
    assert "gamma 7, 8, 9, 10" in fit.warnings[0]
    # N = 500: 9 of 10 gammas below 300 samples per run: unreliable, not a warning
    tiny = fit_gamma_line(g, 1 + 0.01 * g, n_samples=500)
    assert not tiny.reliable and "most of the fit rests on runs this small" in tiny.reasons[0]


def test_the_fit_is_numbers_and_the_verdict_reads_them():
    # fit_gamma_line returns numbers (no flags field); its verdict is verdict.fit_flags
    names = {f for f in GammaFit.__dataclass_fields__}
    assert "flags" not in names and {"loo_z", "curvature_z", "n_samples"} <= names
    g = _runs()
    mi = 1.0 + 0.05 * g + 0.01 * g**2
    fit = fit_gamma_line(g, mi, n_samples=500)
    assert fit.flags == fit_flags(fit) and fit.flags
    assert fit.curvature_z == pytest.approx(curvature_z(*_used(g, mi, fit)))
    assert fit.n_samples == 500
    assert fit.to_dict()["flags"] == [f.to_dict() for f in fit.flags]  # saved for readers


def test_non_finite_runs_are_ignored():
    g = _runs()
    mi = 1.0 + 0.01 * g
    mi[3] = np.nan
    assert fit_gamma_line(g, mi).mi == pytest.approx(1.0, abs=1e-12)


def test_curvature_delta_is_ratio_of_quadratic_to_linear_coefficient():
    g = np.arange(1.0, 8.0)
    assert curvature_delta(g, 1 + 0.5 * g + 0.1 * g**2) == pytest.approx(0.2, abs=1e-10)
    assert math.isnan(curvature_delta(np.array([1.0, 2.0]), np.array([1.0, 2.0])))


def test_wls_polynomial_matches_numpy_for_unit_weights():
    x = np.arange(10.0)
    y = np.sin(x)
    fit = wls(x, y, np.ones(10), degree=2)
    np.testing.assert_allclose(fit.coef[::-1], np.polyfit(x, y, 2), atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exclude": {1}, "use": {2}}, "either exclude= or use="),
        ({"delta_threshold": 0}, "delta_threshold"),
        ({"min_gamma_points": 1}, "min_gamma_points"),
        ({"confidence_level": 1.5}, "confidence_level"),
        ({"use": [3]}, "at least two gammas"),
    ],
)
def test_bad_fit_options(kwargs, message):
    g = _runs()
    with pytest.raises(OptionError, match=message):
        fit_gamma_line(g, 1 + 0.01 * g, **kwargs)
