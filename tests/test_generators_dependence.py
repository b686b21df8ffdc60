"""Closed forms of the conditional-MI and transfer-entropy generators against sample statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nmi_jupyter import generators as gen
from nmi_jupyter.engine.errors import OptionError


@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("units", ["bits", "nats"])
def test_conditional_gaussians_closed_form_is_the_log_det_formula(dim, units):
    cov = gen.conditional_gaussians_cov(dim, 0.7, 0.8, units=units)
    x, y, z = range(dim), range(dim, 2 * dim), range(2 * dim, 3 * dim)
    assert gen.gaussian_cmi(cov, x, y, z, units) == pytest.approx(0.7, abs=1e-12)
    # the common cause adds to the unconditional MI
    assert gen.gaussian_cmi(cov, x, y, units=units) > 0.7


def test_conditional_gaussians_samples_match_the_covariance_and_the_cmi():
    n, dim = 200_000, 2
    x, y, z = gen.conditional_gaussians(n, dim, 1.0, confounding=0.6, seed=3)
    sample = np.cov(np.hstack([x, y, z]).T)
    exact = gen.conditional_gaussians_cov(dim, 1.0, 0.6)
    assert np.max(np.abs(sample - exact)) < 0.02  # s.e. of a covariance ~ 1/sqrt(n)
    cmi = gen.gaussian_cmi(sample, [0, 1], [2, 3], [4, 5])
    assert cmi == pytest.approx(1.0, abs=0.02)


def test_gaussian_cmi_without_z_is_the_gaussian_mi():
    rho = 0.6
    cov = np.array([[1.0, rho], [rho, 1.0]])
    assert gen.gaussian_cmi(cov, [0], [1]) == pytest.approx(gen.gaussian_mi(rho))


def test_var1_stationary_cov_solves_the_lyapunov_equation():
    a, q = gen.var1_matrices(0.8, 0.4, 0.7, 1.5)
    g = gen.var1_stationary_cov(a, q)
    assert np.allclose(g, a @ g @ a.T + q)
    x, y = gen.var1_pair(200_000, coupling=0.8, a_x=0.4, a_y=0.7, noise=1.5, seed=1)
    assert np.allclose(np.cov(np.stack([x, y])), g, rtol=0.03)


def test_var1_transfer_entropy_history_one_is_the_variance_ratio():
    a, q = gen.var1_matrices(1.0)
    g = gen.var1_stationary_cov(a, q)
    lag1 = (a @ g)[1, 1]  # Cov(y_t, y_{t-1})
    var_given_own_past = g[1, 1] - lag1**2 / g[1, 1]
    expected = 0.5 * math.log2(var_given_own_past / q[1, 1])
    te_xy, te_yx = gen.var1_transfer_entropy(a, q)
    assert te_xy == pytest.approx(expected, rel=1e-10)
    assert te_yx == pytest.approx(0.0, abs=1e-12)  # x is not driven by y


def test_var1_transfer_entropy_matches_sample_covariances():
    a, q = gen.var1_matrices(1.0)
    x, y = gen.var1_pair(200_000, coupling=1.0, seed=2)
    s = np.stack([x[:-1], y[:-1], x[1:], y[1:]])
    sample = np.cov(s)
    te_xy, te_yx = gen.var1_transfer_entropy(a, q)
    assert gen.gaussian_cmi(sample, [0], [3], [1]) == pytest.approx(te_xy, abs=0.01)
    assert gen.gaussian_cmi(sample, [1], [2], [0]) == pytest.approx(te_yx, abs=0.01)


def test_longer_history_and_horizon_have_closed_forms_too():
    a, q = gen.var1_matrices(1.0)
    te1, _ = gen.var1_transfer_entropy(a, q)
    te_h2, yx_h2 = gen.var1_transfer_entropy(a, q, history=2)
    te_k2, _ = gen.var1_transfer_entropy(a, q, horizon=2)
    assert 0 < te_h2 <= te1 and 0 < te_k2 < te1 and abs(yx_h2) < 1e-12


def test_unstable_var_and_bad_arguments_are_sentences():
    with pytest.raises(OptionError, match="not stationary"):
        gen.var1_pair(100, a_x=1.0)
    with pytest.raises(OptionError, match="confounding"):
        gen.conditional_gaussians(10, confounding=1.0)
    with pytest.raises(OptionError, match="history"):
        gen.var1_transfer_entropy(*gen.var1_matrices(), history=0)
