import math

import numpy as np
import pytest

from nmi_jupyter import OptionError, generators


def test_shapes_dtypes_and_seeds():
    x, y = generators.correlated_gaussians(100, dim=3, mi=1.0, seed=0)
    assert x.shape == y.shape == (100, 3) and x.dtype == np.float64
    x2, _ = generators.correlated_gaussians(100, dim=3, mi=1.0, seed=0)
    x3, _ = generators.correlated_gaussians(100, dim=3, mi=1.0, seed=1)
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(x, x3)


@pytest.mark.parametrize("units", ["bits", "nats"])
@pytest.mark.parametrize(("mi", "dim"), [(0.1, 1), (2.0, 5), (8.0, 20)])
def test_rho_and_mi_round_trip(mi, dim, units):
    assert generators.gaussian_mi(generators.rho_for_mi(mi, dim, units), dim, units) == (
        pytest.approx(mi, rel=1e-12)
    )
    assert generators.gaussian_mi(0.5, 1, "nats") == pytest.approx(-0.5 * math.log(0.75))


def test_plug_in_gaussian_mi_of_a_large_sample_matches_the_request():
    # The plug-in Gaussian MI of n = 200000 samples has a standard error of about
    # sqrt(dim) * rho / sqrt(n) ~ 0.005 nats here; 0.02 bits is four of them.
    x, y = generators.correlated_gaussians(200_000, dim=4, mi=2.0, seed=3)
    c = np.cov(np.hstack([x, y]).T)
    nats = -0.5 * np.log(np.linalg.det(c) / (np.linalg.det(c[:4, :4]) * np.linalg.det(c[4:, 4:])))
    assert nats / math.log(2) == pytest.approx(2.0, abs=0.02)


def test_per_coordinate_correlation():
    rho = generators.rho_for_mi(1.0, 2)
    x, y = generators.correlated_gaussians(50_000, dim=2, mi=1.0, seed=1)
    # Standard error of a sample correlation ~ (1 - rho^2) / sqrt(n) ~ 0.003.
    for k in range(2):
        assert np.corrcoef(x[:, k], y[:, k])[0, 1] == pytest.approx(rho, abs=0.015)
    assert abs(np.corrcoef(x[:, 0], y[:, 1])[0, 1]) < 0.02


def test_independent_pairs():
    x, y = generators.correlated_gaussians(50_000, dim=1, mi=0.0, seed=2)
    assert abs(np.corrcoef(x[:, 0], y[:, 0])[0, 1]) < 0.02


def test_nonlinear_latent_map_is_fixed_injective_and_finite():
    x, y = generators.nonlinear_latent(500, latent_dim=2, out_dim=50, mi=1.0, seed=0)
    assert x.shape == y.shape == (500, 50) and np.all(np.isfinite(x))
    mapping = generators.make_injective_map(2, 50, 12345)
    zx, _ = generators.correlated_gaussians(500, 2, 1.0, seed=0)
    np.testing.assert_allclose(mapping(zx), x)  # the map does not depend on seed
    x_other, _ = generators.nonlinear_latent(500, latent_dim=2, out_dim=50, mi=1.0, seed=9)
    zx_other, _ = generators.correlated_gaussians(500, 2, 1.0, seed=9)
    np.testing.assert_allclose(mapping(zx_other), x_other)
    # Injective: distinct latents give distinct outputs (nearest pair stays apart).
    z = np.random.default_rng(0).normal(size=(300, 2))
    out = mapping(z)
    dz = np.linalg.norm(z[:, None] - z[None], axis=-1) + np.eye(300)
    dout = np.linalg.norm(out[:, None] - out[None], axis=-1) + np.eye(300)
    assert (dout / dz).min() > 1e-3


@pytest.mark.parametrize(
    "call",
    [
        lambda: generators.correlated_gaussians(0, 1, 1.0),
        lambda: generators.correlated_gaussians(10, 0, 1.0),
        lambda: generators.correlated_gaussians(10, 1, -1.0),
        lambda: generators.correlated_gaussians(10, 1, 1.0, units="bans"),
        lambda: generators.nonlinear_latent(10, latent_dim=5, out_dim=3),
    ],
)
def test_invalid_inputs(call):
    with pytest.raises(OptionError):
        call()
