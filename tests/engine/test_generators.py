"""Generators of data with closed-form MI: shapes, seeding, the closed form, injectivity."""

import math

import numpy as np
import pytest

from nmi_jupyter.engine.errors import InvalidDataError, OptionError
from nmi_jupyter.generators import (
    INJECTIVE_MAP_SLOPE,
    correlated_gaussians,
    gaussian_mi,
    make_injective_map,
    nonlinear_latent,
    rho_for_mi,
)


def plug_in_gaussian_mi_nats(x: np.ndarray, y: np.ndarray) -> float:
    """-1/2 ln(det C / (det Cxx det Cyy)) from the joint sample covariance C, in nats."""
    dx = x.shape[1]
    c = np.cov(np.hstack([x, y]), rowvar=False)
    _, logdet = np.linalg.slogdet(c)
    _, logdet_x = np.linalg.slogdet(c[:dx, :dx])
    _, logdet_y = np.linalg.slogdet(c[dx:, dx:])
    return -0.5 * (logdet - logdet_x - logdet_y)


# --- correlated_gaussians, gaussian_mi, rho_for_mi -------------------------------------


def test_correlated_gaussians_shapes_and_dtype():
    x, y = correlated_gaussians(7, dim=3, mi=1.0, seed=0)
    assert x.shape == y.shape == (7, 3)
    assert x.dtype == y.dtype == np.float64


def test_correlated_gaussians_is_reproducible_and_seed_dependent():
    a = correlated_gaussians(50, dim=2, seed=1)
    b = correlated_gaussians(50, dim=2, seed=1)
    c = correlated_gaussians(50, dim=2, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    assert not np.allclose(a[1], c[1])


def test_bits_and_nats_describe_the_same_distribution():
    xb, yb = correlated_gaussians(100, dim=2, mi=1.5, units="bits", seed=3)
    xn, yn = correlated_gaussians(100, dim=2, mi=1.5 * math.log(2), units="nats", seed=3)
    np.testing.assert_allclose(xb, xn)
    np.testing.assert_allclose(yb, yn)


def test_gaussian_mi_known_value():
    # rho = sqrt(3)/2 gives 1 - rho^2 = 1/4, so I = -1/2 ln(1/4) = ln 2 nats = 1 bit per pair.
    rho = math.sqrt(3) / 2
    assert gaussian_mi(rho) == pytest.approx(1.0, rel=1e-12)
    assert gaussian_mi(rho, dim=4, units="nats") == pytest.approx(4 * math.log(2), rel=1e-12)
    assert gaussian_mi(-rho) == pytest.approx(1.0, rel=1e-12)
    assert gaussian_mi(0.0) == 0.0
    assert gaussian_mi(1.0) == math.inf
    assert isinstance(gaussian_mi(0.5), float)


def test_gaussian_mi_accepts_arrays():
    rhos = np.array([[0.0, 0.3], [0.6, 0.9]])
    out = gaussian_mi(rhos, dim=2, units="nats")
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)
    np.testing.assert_allclose(out, -np.log1p(-(rhos**2)))


@pytest.mark.parametrize("units", ["bits", "nats"])
@pytest.mark.parametrize("dim", [1, 3, 10])
@pytest.mark.parametrize("mi", [0.0, 1e-9, 0.5, 2.0, 8.0])
def test_rho_for_mi_inverts_gaussian_mi(mi, dim, units):
    rho = rho_for_mi(mi, dim, units)
    assert 0.0 <= rho < 1.0
    assert gaussian_mi(rho, dim, units) == pytest.approx(mi, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("rho", [0.0, 0.1, 0.5, 0.99, -0.7])
def test_gaussian_mi_inverts_rho_for_mi(rho):
    assert rho_for_mi(gaussian_mi(rho, 3), 3) == pytest.approx(abs(rho), rel=1e-12)


def test_per_coordinate_correlation_matches_rho():
    n, dim, mi = 20_000, 3, 1.0
    x, y = correlated_gaussians(n, dim, mi, seed=4)
    rho = rho_for_mi(mi, dim)
    corr = np.corrcoef(x, y, rowvar=False)[:dim, dim:]
    # A sample correlation has standard error about (1 - rho^2)/sqrt(n) (0.0045 here;
    # 1/sqrt(n) = 0.007 for the uncorrelated pairs); 5 standard errors leave a false
    # failure chance below 1e-6 per entry while a wrong rho (e.g. 1 nat read as 1 bit,
    # rho 0.61 -> 0.69) misses by far more.
    tol_matched = 5 * (1 - rho**2) / math.sqrt(n)
    tol_crossed = 5 / math.sqrt(n)
    np.testing.assert_allclose(np.diag(corr), rho, atol=tol_matched)
    off_diag = corr[~np.eye(dim, dtype=bool)]
    np.testing.assert_allclose(off_diag, 0.0, atol=tol_crossed)
    # Standard normal marginals: variance 1 with standard error sqrt(2/n) = 0.01.
    np.testing.assert_allclose(x.var(axis=0), 1.0, atol=5 * math.sqrt(2 / n))
    np.testing.assert_allclose(y.var(axis=0), 1.0, atol=5 * math.sqrt(2 / n))


@pytest.mark.parametrize(
    ("mi", "dim", "units"), [(0.0, 3, "bits"), (1.0, 3, "bits"), (3.0, 3, "bits"), (2.0, 1, "nats")]
)
def test_plug_in_mi_matches_requested_mi(mi, dim, units):
    n = 200_000
    x, y = correlated_gaussians(n, dim, mi, units=units, seed=5)
    estimate = plug_in_gaussian_mi_nats(x, y)
    truth = mi * math.log(2) if units == "bits" else mi
    rho = rho_for_mi(mi, dim, units)
    # The plug-in MI has asymptotic standard deviation sqrt(sum_i rho_i^2 / n) nats over the
    # canonical correlations rho_i (delta method on -1/2 ln(1 - r^2), var r ~ (1-rho^2)^2/n),
    # at most 0.0034 nats here, and a positive bias of about dim^2/(2n) nats (2e-5) that
    # dominates at mi = 0.  Five standard deviations plus ten times the bias catches a
    # wrong unit conversion (a factor ln 2) or a per-coordinate instead of total mi.
    tol = 5 * math.sqrt(dim * rho**2 / n) + 10 * dim**2 / (2 * n)
    assert abs(estimate - truth) < tol, (estimate, truth, tol)


def test_huge_mi_stays_finite():
    x, y = correlated_gaussians(1000, dim=2, mi=500.0, units="nats", seed=6)
    assert np.isfinite(y).all()
    # exp(-250) noise: y equals x to double precision, and is not NaN or inf.
    np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12)


# --- nonlinear_latent and make_injective_map -------------------------------------------


def test_nonlinear_latent_shapes_dtype_and_scale():
    x, y = nonlinear_latent(5000, latent_dim=2, out_dim=30, mi=1.0, seed=0)
    assert x.shape == y.shape == (5000, 30)
    assert x.dtype == y.dtype == np.float64
    assert np.isfinite(x).all() and np.isfinite(y).all()
    # Of order 1: the map is built so that no column collapses or blows up.
    for v in (x, y):
        std = v.std(axis=0)
        assert std.min() > 0.05 and std.max() < 5, std
        assert np.abs(v).max() < 10


def test_nonlinear_latent_is_reproducible_and_seed_dependent():
    a = nonlinear_latent(100, 2, 20, seed=1)
    b = nonlinear_latent(100, 2, 20, seed=1)
    c = nonlinear_latent(100, 2, 20, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


@pytest.mark.parametrize("seed", [0, 1])
def test_nonlinear_latent_uses_a_map_fixed_by_map_seed_only(seed):
    # Regenerate the latent sample and push it through the documented maps: the maps are
    # the same whatever the sample seed, and x and y use different streams.
    x, y = nonlinear_latent(200, 3, 15, mi=2.0, seed=seed, map_seed=7)
    zx, zy = correlated_gaussians(200, 3, 2.0, seed=seed)
    np.testing.assert_array_equal(x, make_injective_map(3, 15, 7, stream=0)(zx))
    np.testing.assert_array_equal(y, make_injective_map(3, 15, 7, stream=1)(zy))


def test_maps_differ_across_streams_and_map_seeds():
    z = np.random.default_rng(0).standard_normal((50, 2))
    base = make_injective_map(2, 10, 7)(z)
    assert not np.allclose(base, make_injective_map(2, 10, 7, stream=1)(z))
    assert not np.allclose(base, make_injective_map(2, 10, 8)(z))
    x1, _ = nonlinear_latent(50, 2, 10, seed=0, map_seed=7)
    x2, _ = nonlinear_latent(50, 2, 10, seed=0, map_seed=8)
    assert not np.allclose(x1, x2)


def test_map_accepts_single_points_and_batches():
    f = make_injective_map(2, 5, 0)
    z = np.random.default_rng(1).standard_normal((4, 2))
    np.testing.assert_allclose(np.stack([f(row) for row in z]), f(z), rtol=1e-12)
    assert f(z[0]).shape == (5,)
    with pytest.raises(InvalidDataError):
        f(np.zeros((4, 3)))


@pytest.mark.parametrize(("in_dim", "out_dim"), [(1, 1), (2, 2), (2, 100), (5, 8)])
def test_map_is_injective_with_the_documented_lower_lipschitz_bound(in_dim, out_dim):
    f = make_injective_map(in_dim, out_dim, 12345)
    rng = np.random.default_rng(in_dim * 1000 + out_dim)
    # Pairs at all distances, from typical latent values to far in the tails where both
    # tanh stages saturate (the regime where a merely monotone map could flatten out).
    scale = rng.choice([1.0, 5.0, 50.0], size=(4000, 1))
    a = scale * rng.standard_normal((4000, in_dim))
    step = rng.choice([1e-6, 1e-3, 1.0, 10.0], size=(4000, 1))
    b = a + step * rng.standard_normal((4000, in_dim))
    ratio = np.linalg.norm(f(a) - f(b), axis=1) / np.linalg.norm(a - b, axis=1)
    bound = INJECTIVE_MAP_SLOPE * math.sqrt(out_dim / in_dim)
    # Rounding perturbs the ratio at the 1e-9 level for the 1e-6 steps; 1% slack covers it.
    assert ratio.min() >= 0.99 * bound, (ratio.min(), bound)


def test_map_gives_distinct_outputs_for_distinct_latent_points():
    z = np.random.default_rng(2).standard_normal((20_000, 2))
    out = make_injective_map(2, 50, 12345)(z)
    assert len(np.unique(z, axis=0)) == len(np.unique(out, axis=0)) == 20_000


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: correlated_gaussians(0), "n must be"),
        (lambda: correlated_gaussians(10, dim=0), "dim must be"),
        (lambda: correlated_gaussians(10, dim=1.5), "dim must be"),
        (lambda: correlated_gaussians(10, mi=-0.1), "mi must be"),
        (lambda: correlated_gaussians(10, mi=float("nan")), "mi must be"),
        (lambda: correlated_gaussians(10, units="nat"), "units must be"),
        (lambda: gaussian_mi(1.5), "rho must"),
        (lambda: gaussian_mi(np.array([0.1, np.nan])), "rho must"),
        (lambda: gaussian_mi(0.5, dim=0), "dim must be"),
        (lambda: gaussian_mi(0.5, units="bytes"), "units must be"),
        (lambda: rho_for_mi(-1.0), "mi must be"),
        (lambda: rho_for_mi(1.0, dim=0), "dim must be"),
        (lambda: nonlinear_latent(0), "n must be"),
        (lambda: nonlinear_latent(10, latent_dim=0), "latent_dim must be"),
        (lambda: nonlinear_latent(10, latent_dim=3, out_dim=2), "out_dim"),
        (lambda: nonlinear_latent(10, mi=-1.0), "mi must be"),
        (lambda: nonlinear_latent(10, units="nits"), "units must be"),
        (lambda: nonlinear_latent(10, map_seed=-1), "map_seed must be"),
        (lambda: make_injective_map(3, 2, 0), "out_dim"),
    ],
)
def test_invalid_inputs_raise_option_error(call, fragment):
    with pytest.raises(OptionError, match=fragment) as info:
        call()
    message = str(info.value)
    assert message.endswith(".") and message.count(". ") == 0, message


def test_unknown_units_suggest_the_closest():
    with pytest.raises(OptionError, match="did you mean 'nats'"):
        correlated_gaussians(10, units="nat")
