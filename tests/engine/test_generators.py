"""Generators of data with closed-form MI: shapes, seeding, the closed form, injectivity."""

import math

import numpy as np
import pytest
from scipy import stats

from nmi_jupyter.engine.errors import InvalidDataError, OptionError
from nmi_jupyter.generators import (
    INJECTIVE_MAP_SLOPE,
    correlated_gaussians,
    gaussian_mi,
    make_injective_map,
    nonlinear_latent,
    rho_for_mi,
    rho_for_student_t_mi,
    student_t,
    student_t_mi,
    transform_marginals,
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
        (lambda: student_t(0), "n must be"),
        (lambda: student_t(10, dim=0), "dim must be"),
        (lambda: student_t(10, df=0), "df \\(degrees of freedom\\) must be"),
        (lambda: student_t(10, df=float("inf")), "df \\(degrees of freedom\\) must be"),
        (lambda: student_t(10, df=True), "df \\(degrees of freedom\\) must be"),
        (lambda: student_t(10, mi=-1.0), "mi must be"),
        (lambda: student_t(10, units="nat"), "units must be"),
        (lambda: student_t(10, dim=5, mi=0.1, df=3), "unreachable"),
        (lambda: student_t_mi(1.5), "rho must"),
        (lambda: student_t_mi(0.5, df=-1.0), "df \\(degrees of freedom\\) must be"),
        (lambda: student_t_mi(0.5, units="bytes"), "units must be"),
        (lambda: rho_for_student_t_mi(0.0, dim=2, df=3), "unreachable"),
        (lambda: transform_marginals(np.zeros(3), kind="square"), "kind must be"),
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


# --- student_t, student_t_mi, rho_for_student_t_mi -------------------------------------


def test_student_t_shapes_dtype_and_seeding():
    x, y = student_t(7, dim=3, mi=2.0, df=4, seed=0)
    assert x.shape == y.shape == (7, 3)
    assert x.dtype == y.dtype == np.float64
    again = student_t(7, dim=3, mi=2.0, df=4, seed=0)
    np.testing.assert_array_equal(x, again[0])
    np.testing.assert_array_equal(y, again[1])
    assert not np.allclose(x, student_t(7, dim=3, mi=2.0, df=4, seed=1)[0])


def test_student_t_mi_at_zero_correlation_is_the_bivariate_cauchy_value():
    # df = 1, dim = 1 by hand from lgamma(1/2) = ln(pi)/2, digamma(1/2) = -gamma - 2 ln 2,
    # digamma(1) = -gamma, digamma(3/2) = digamma(1/2) + 2: the excess is ln(8 pi) - 3.
    assert student_t_mi(0.0, 1, 1, "nats") == pytest.approx(math.log(8 * math.pi) - 3, rel=1e-12)


def test_student_t_mi_excess_is_positive_and_vanishes_in_the_gaussian_limit():
    rho, dim = 0.6, 3
    gauss = gaussian_mi(rho, dim)
    excesses = [student_t_mi(rho, dim, df) - gauss for df in (1, 3, 5, 30, 1e3)]
    assert all(e > 0 for e in excesses)
    assert all(a > b for a, b in zip(excesses, excesses[1:], strict=False))  # falls with df
    assert student_t_mi(rho, dim, 1e7) == pytest.approx(gauss, abs=1e-6)
    # Units and arrays behave as for gaussian_mi.
    assert student_t_mi(rho, dim, 3, "nats") == pytest.approx(
        student_t_mi(rho, dim, 3) * math.log(2), rel=1e-12
    )
    rhos = np.array([[0.0, 0.3], [0.6, 0.9]])
    out = student_t_mi(rhos, dim, 3)
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)
    np.testing.assert_allclose(out, gaussian_mi(rhos, dim) + excesses[1], rtol=1e-12)


@pytest.mark.parametrize("units", ["bits", "nats"])
@pytest.mark.parametrize(("dim", "df"), [(1, 1), (1, 5), (4, 3), (20, 2.5)])
@pytest.mark.parametrize("extra", [0.0, 1e-6, 0.5, 6.0])
def test_rho_for_student_t_mi_inverts_student_t_mi(extra, dim, df, units):
    mi = student_t_mi(0.0, dim, df, units) + extra  # reachable by construction
    rho = rho_for_student_t_mi(mi, dim, df, units)
    assert 0.0 <= rho < 1.0
    assert student_t_mi(rho, dim, df, units) == pytest.approx(mi, rel=1e-9)


def test_unreachable_student_t_mi_names_the_smallest():
    smallest = student_t_mi(0.0, 5, 3)
    with pytest.raises(OptionError, match=f"{smallest:.6g} bits"):
        student_t(10, dim=5, mi=0.9 * smallest, df=3)
    x, y = student_t(10, dim=5, mi=smallest, df=3, seed=0)  # exactly the smallest is fine
    assert np.isfinite(x).all() and np.isfinite(y).all()


@pytest.mark.parametrize(("dim", "df", "extra_bits"), [(1, 5, 0.9), (1, 3, 0.0), (2, 3, 1.5)])
def test_student_t_mi_matches_a_monte_carlo_average_of_the_log_density_ratio(dim, df, extra_bits):
    # I = E[log p(x, y) - log p(x) - log p(y)], averaged over the generator's own samples
    # with scipy's densities: the joint is a 2*dim-variate t with shape [[I, rho I],
    # [rho I, I]] and df degrees of freedom, and each marginal a dim-variate t with shape I
    # and the same df.  This checks the closed form, the choice of rho, and that the
    # sampler draws that distribution.  extra_bits = 0 is rho = 0: the excess alone.
    n = 400_000
    mi = student_t_mi(0.0, dim, df) + extra_bits
    x, y = student_t(n, dim, mi, df=df, seed=11)
    rho = rho_for_student_t_mi(mi, dim, df)
    eye = np.eye(dim)
    joint = stats.multivariate_t(shape=np.block([[eye, rho * eye], [rho * eye, eye]]), df=df)
    if dim == 1:
        log_px, log_py = stats.t.logpdf(x[:, 0], df), stats.t.logpdf(y[:, 0], df)
    else:
        marginal = stats.multivariate_t(shape=eye, df=df)
        log_px, log_py = marginal.logpdf(x), marginal.logpdf(y)
    ratio = joint.logpdf(np.hstack([x, y])) - log_px - log_py
    estimate = ratio.mean()
    # The average of n iid terms has standard error std/sqrt(n) (0.0005 to 0.002 nats
    # here); five of them give a false failure chance below 1e-6.  The excess is 0.017,
    # 0.042 and 0.11 nats in the three cases, so a wrong or missing excess fails, most
    # sharply at rho = 0 where the excess is the whole MI (16 standard errors).
    tol = 5 * ratio.std() / math.sqrt(n)
    truth = student_t_mi(rho, dim, df, "nats")
    assert abs(estimate - truth) < tol, (estimate, truth, tol)


@pytest.mark.parametrize("df", [1, 3])
def test_student_t_marginals_are_t_distributed(df):
    n = 20_000
    x, y = student_t(n, dim=2, mi=2.0, df=df, seed=12)
    # The KS test rejects a standard normal (or the wrong df) at this n by far; seeded,
    # so a pass is deterministic, and p > 1e-3 for the right df.
    for column in (*x.T, *y.T):
        assert stats.kstest(column, stats.t(df).cdf).pvalue > 1e-3
    assert stats.kstest(x[:, 0], stats.t(df + 3).cdf).pvalue < 1e-3


@pytest.mark.parametrize(("dim", "df", "mi"), [(2, 1, 1.0), (1, 5, 1.0), (3, 3, 4.0)])
def test_student_t_kendall_tau_matches_rho(dim, df, mi):
    # For any elliptical pair Kendall's tau = (2/pi) arcsin(rho), whatever the tails; the
    # sample tau has standard error at most about 0.67/sqrt(n) (0.0067 here), and five of
    # them catch a rho chosen without the excess (0.48 -> 0.71 at df = 1, dim = 2).
    n = 10_000
    x, y = student_t(n, dim, mi, df=df, seed=13)
    rho = rho_for_student_t_mi(mi, dim, df)
    tol = 5 * 0.67 / math.sqrt(n)
    for k in range(dim):
        tau = stats.kendalltau(x[:, k], y[:, k]).statistic
        assert tau == pytest.approx(2 / math.pi * math.asin(rho), abs=tol)
    if dim > 1:  # different coordinates: uncorrelated (though dependent through W)
        assert abs(stats.kendalltau(x[:, 0], y[:, 1]).statistic) < tol


# --- transform_marginals ---------------------------------------------------------------


_INVERSES = {"cube": np.cbrt, "exp": np.log, "sigmoid": lambda v: np.log(v / (1 - v))}


@pytest.mark.parametrize("kind", ["cube", "exp", "sigmoid"])
def test_transform_marginals_inverts_exactly(kind):
    a = np.random.default_rng(0).standard_normal((1000, 4)) * 2
    out = transform_marginals(a, kind)
    assert out.shape == a.shape and out.dtype == np.float64
    np.testing.assert_allclose(_INVERSES[kind](out), a, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["cube", "exp", "sigmoid", "mixed"])
def test_transform_marginals_is_strictly_monotone_per_column(kind):
    a = np.random.default_rng(1).standard_normal((5000, 7)) * 3
    out = transform_marginals(a, kind, seed=2)
    directions = []
    for j in range(a.shape[1]):
        order = np.argsort(a[:, j])
        steps = np.diff(out[order, j])
        increasing, decreasing = bool((steps > 0).all()), bool((steps < 0).all())
        assert increasing or decreasing, f"column {j} is not strictly monotone"
        directions.append(increasing)
    if kind != "mixed":
        assert all(directions)
    else:
        assert not all(directions)  # exp(-a) is among the seven columns


def test_transform_marginals_keeps_the_rank_dependence():
    # MI is invariant under strictly monotone maps; so is every rank statistic, exactly.
    x, y = correlated_gaussians(2000, dim=3, mi=2.0, seed=3)
    tau = [stats.kendalltau(x[:, k], y[:, k]).statistic for k in range(3)]
    tx, ty = transform_marginals(x, "mixed", seed=4), transform_marginals(y, "mixed", seed=5)
    tau_t = [stats.kendalltau(tx[:, k], ty[:, k]).statistic for k in range(3)]
    np.testing.assert_allclose(np.abs(tau_t), np.abs(tau), rtol=1e-12)


def test_mixed_uses_a_different_map_per_column_chosen_by_seed():
    column = np.linspace(-2, 2, 50)
    a = np.tile(column[:, None], (1, 5))
    out = transform_marginals(a, "mixed", seed=0)
    distinct = {tuple(np.round(out[:, j], 12)) for j in range(5)}
    assert len(distinct) == 5  # the five maps, each once
    np.testing.assert_array_equal(out, transform_marginals(a, "mixed", seed=0))
    assert any(
        not np.array_equal(out, transform_marginals(a, "mixed", seed=s)) for s in range(1, 4)
    )


def test_transform_marginals_accepts_1d_and_leaves_the_input_alone():
    a = np.array([-1.0, 0.0, 2.0])
    before = a.copy()
    np.testing.assert_allclose(transform_marginals(a, "cube"), [-1.0, 0.0, 8.0])
    assert transform_marginals(a, "mixed", seed=0).shape == (3,)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize(
    ("a", "kind", "fragment"),
    [
        (np.zeros((2, 2, 2)), "cube", "shape"),
        (np.array([0.0, np.nan]), "cube", "NaN"),
        (np.array([1.0, 800.0]), "exp", "overflowed"),
        (np.array([[800.0] * 5, [-800.0] * 5]), "mixed", "overflowed"),
    ],
)
def test_transform_marginals_rejects_bad_data(a, kind, fragment):
    with pytest.raises(InvalidDataError, match=fragment):
        transform_marginals(a, kind, seed=0)
