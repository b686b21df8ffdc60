"""Data with mutual information known in closed form, for demos, tests and notebooks.

Four families:

* :func:`correlated_gaussians`: ``dim`` independent pairs of standard normals, each pair
  with correlation ``rho``, so ``I(X;Y) = -dim/2 * ln(1 - rho^2)`` nats
  (:func:`gaussian_mi`, inverted by :func:`rho_for_mi`).
* :func:`nonlinear_latent`: such a pair in a small latent space, pushed into many
  dimensions by fixed random injective maps (:func:`make_injective_map`); injective maps
  leave MI unchanged, so the closed form still holds.
* :func:`student_t`: a multivariate Student-t pair, correlated Gaussians divided by one
  shared chi random scale; heavy tails, and dependent even at zero correlation.  Its MI
  is the Gaussian one plus a positive term depending on ``df`` and ``dim`` only
  (:func:`student_t_mi`, inverted by :func:`rho_for_student_t_mi`).
* :func:`transform_marginals`: strictly monotone maps of each coordinate, which leave MI
  unchanged but change the shape of the marginals (cube, exp, sigmoid, or mixed).

Every MI argument and result is in ``units`` ("bits" or "nats").  Only numpy and
``scipy.special`` are used.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.signal import lfilter
from scipy.special import digamma, expit, gammaln, logsumexp, pdtrc

from nmi_jupyter.engine.errors import InvalidDataError, OptionError, closest_option_hint
from nmi_jupyter.engine.units import NATS_PER_BIT

__all__ = [
    "correlated_gaussians",
    "gaussian_mi",
    "rho_for_mi",
    "nonlinear_latent",
    "make_injective_map",
    "INJECTIVE_MAP_SLOPE",
    "student_t",
    "student_t_mi",
    "rho_for_student_t_mi",
    "transform_marginals",
    "latent_channels",
    "gaussian_cmi",
    "conditional_gaussians",
    "conditional_gaussians_cov",
    "var1_pair",
    "var1_matrices",
    "var1_stationary_cov",
    "var1_transfer_entropy",
    "lagged_gaussians",
    "lagged_gaussians_mi",
    "poisson_spikes",
    "poisson_spikes_mi",
    "SpikeTrials",
]

_UNITS = ("bits", "nats")

# Smallest derivative of the final elementwise nonlinearity, _squash(v) = tanh(v) + 0.1 v.
_SQUASH_SLOPE = 0.1
# Range of the positive diagonal of the square mixing matrix: its condition number is <= 4.
_DIAG_LOW, _DIAG_HIGH = 0.5, 2.0
# Lower Lipschitz constant of make_injective_map, in units of sqrt(out_dim / in_dim):
# product of the smallest slopes of the four stages (see make_injective_map).
INJECTIVE_MAP_SLOPE = 1.0 * 1.0 * _DIAG_LOW * _SQUASH_SLOPE


def gaussian_mi(rho: float | np.ndarray, dim: int = 1, units: str = "bits") -> float | np.ndarray:
    """Closed-form I(X;Y) of ``dim`` independent coordinate pairs, each with correlation ``rho``.

    Args:
        rho: correlation of one coordinate pair, in [-1, 1]; a float or an array of any shape.
        dim: number of independent coordinate pairs (>= 1).
        units: "bits" or "nats" for the result.

    Returns:
        ``-dim/2 * ln(1 - rho^2)`` converted to ``units``: a float for a scalar ``rho``, an
        array of ``rho``'s shape otherwise; ``inf`` where ``|rho| = 1``.
    """
    dim = _check_count("dim", dim)
    _check_units(units)
    r = np.asarray(rho, dtype=np.float64)
    if not np.all(np.abs(r) <= 1.0):  # also catches NaN
        raise OptionError(f"rho must lie in [-1, 1], not {rho!r}.")
    with np.errstate(divide="ignore"):
        nats = -0.5 * dim * np.log1p(-(r**2))
    out = nats / NATS_PER_BIT if units == "bits" else nats
    return float(out) if out.ndim == 0 else out


def rho_for_mi(mi: float, dim: int = 1, units: str = "bits") -> float:
    """The per-coordinate correlation in [0, 1) giving total MI ``mi`` over ``dim`` pairs.

    Inverse of :func:`gaussian_mi` on rho >= 0: ``rho = sqrt(1 - exp(-2 I / dim))`` with
    ``I = mi`` in nats.

    Args:
        mi: total mutual information (>= 0, finite), in ``units``.
        dim: number of independent coordinate pairs sharing it equally (>= 1).
        units: "bits" or "nats".
    """
    return math.sqrt(-math.expm1(-2.0 * _mi_nats(mi, units) / _check_count("dim", dim)))


def correlated_gaussians(
    n: int, dim: int = 1, mi: float = 1.0, *, units: str = "bits", seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` pairs (x, y) of standard normal vectors with total MI ``mi``.

    Coordinate k of x is correlated with coordinate k of y with the same correlation
    ``rho = rho_for_mi(mi, dim, units)``; all other coordinates are independent, so
    ``I(X;Y) = -dim/2 * ln(1 - rho^2)`` nats, equal to ``mi``.  ``mi = 0`` gives
    independent x and y.

    Args:
        n: number of samples (>= 1).
        dim: dimension of x and of y (>= 1).
        mi: total mutual information (>= 0, finite), in ``units``.
        units: "bits" or "nats".
        seed: seed of ``np.random.default_rng``; ``None`` draws fresh entropy.

    Returns:
        x, y: float64 arrays of shape (n, dim), each with N(0, 1) marginals.
    """
    n = _check_count("n", n)
    dim = _check_count("dim", dim)
    nats = _mi_nats(mi, units)
    rho = rho_for_mi(nats, dim, "nats")
    # sqrt(1 - rho^2) = exp(-I/dim), computed directly: exact even when rho rounds to 1.
    noise = math.exp(-nats / dim)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + noise * rng.standard_normal((n, dim))
    return x, y


def make_injective_map(
    in_dim: int, out_dim: int, map_seed: int = 12345, *, stream: int = 0
) -> Callable[[np.ndarray], np.ndarray]:
    """A fixed random injective nonlinear map F: R^in_dim -> R^out_dim.

    F(z) = g(M f(A z)) with, all drawn from ``default_rng((map_seed, stream))``:

    * A (out_dim x in_dim) = sqrt(out_dim / in_dim) times orthonormal columns: injective,
      every singular value sqrt(out_dim / in_dim) (which keeps A z of order 1 for z of
      order 1);
    * f(u) = u + 0.5 tanh(u) elementwise, slope in [1, 1.5]: strictly increasing;
    * M (out_dim x out_dim) = Q D, Q a random orthogonal matrix and D a positive diagonal
      drawn from [0.5, 2]: invertible, singular values in [0.5, 2];
    * g(v) = tanh(v) + 0.1 v elementwise, slope in [0.1, 1.1]: strictly increasing, and
      saturating enough to make the map far from linear.

    A composition of injective maps is injective, and quantitatively, since each stage
    shrinks distances by at most its smallest slope,
    ``|F(a) - F(b)| >= INJECTIVE_MAP_SLOPE * sqrt(out_dim / in_dim) * |a - b|`` with
    ``INJECTIVE_MAP_SLOPE = 0.05``, so distinct inputs stay apart even in floating point.
    MI is invariant under injective (measurable) maps of each variable, which is why
    :func:`nonlinear_latent` keeps its latent MI.

    Args:
        in_dim: input dimension (>= 1).
        out_dim: output dimension (>= in_dim).
        map_seed: non-negative integer; the map depends only on it, ``stream`` and the dims.
        stream: non-negative integer selecting an independent map for the same ``map_seed``.

    Returns:
        A function taking a float array of shape (..., in_dim) to float64 of shape
        (..., out_dim).
    """
    in_dim = _check_count("in_dim", in_dim)
    out_dim = _check_count("out_dim", out_dim)
    if out_dim < in_dim:
        raise OptionError(
            f"out_dim ({out_dim}) must be >= the input dimension ({in_dim}) "
            "for the map to be injective."
        )
    map_seed = _check_count("map_seed", map_seed, minimum=0)
    stream = _check_count("stream", stream, minimum=0)
    rng = np.random.default_rng((map_seed, stream))
    embed = math.sqrt(out_dim / in_dim) * _random_orthogonal(rng, out_dim)[:, :in_dim]
    diag = rng.uniform(_DIAG_LOW, _DIAG_HIGH, size=out_dim)
    mix = _random_orthogonal(rng, out_dim) * diag  # Q @ diag(D)
    for matrix in (embed, mix):
        matrix.setflags(write=False)

    def injective_map(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if z.ndim == 0 or z.shape[-1] != in_dim:
            raise InvalidDataError(
                f"the map takes arrays whose last axis has {in_dim} entries, not shape {z.shape}."
            )
        u = z @ embed.T
        v = (u + 0.5 * np.tanh(u)) @ mix.T
        return np.tanh(v) + _SQUASH_SLOPE * v

    return injective_map


def nonlinear_latent(
    n: int,
    latent_dim: int = 2,
    out_dim: int = 100,
    mi: float = 1.0,
    *,
    units: str = "bits",
    seed: int | None = None,
    map_seed: int = 12345,
) -> tuple[np.ndarray, np.ndarray]:
    """High-dimensional nonlinear data whose MI is that of a low-dimensional Gaussian latent.

    Draws (z_x, z_y) = ``correlated_gaussians(n, latent_dim, mi, units=units, seed=seed)``
    and returns ``x = F_x(z_x)``, ``y = F_y(z_y)`` where F_x and F_y are two different
    fixed injective maps from :func:`make_injective_map` (streams 0 and 1 of ``map_seed``).
    Injective maps of each variable leave MI unchanged, so I(X;Y) = ``mi``.  The maps
    depend only on ``map_seed`` and the dims, never on ``seed``: different seeds give new
    samples of the same distribution.

    Args:
        n: number of samples (>= 1).
        latent_dim: dimension of each latent variable (>= 1).
        out_dim: dimension of x and of y (>= latent_dim).
        mi: total mutual information (>= 0, finite), in ``units``.
        units: "bits" or "nats".
        seed: seed of the latent sample.
        map_seed: non-negative integer fixing the two maps.

    Returns:
        x, y: float64 arrays of shape (n, out_dim), entries of order 1.
    """
    latent_dim = _check_count("latent_dim", latent_dim)
    out_dim = _check_count("out_dim", out_dim)
    if out_dim < latent_dim:
        raise OptionError(f"out_dim ({out_dim}) must be >= latent_dim ({latent_dim}).")
    map_x = make_injective_map(latent_dim, out_dim, map_seed, stream=0)
    map_y = make_injective_map(latent_dim, out_dim, map_seed, stream=1)
    zx, zy = correlated_gaussians(n, latent_dim, mi, units=units, seed=seed)
    return map_x(zx), map_y(zy)


def student_t_mi(
    rho: float | np.ndarray, dim: int = 1, df: float = 5, units: str = "bits"
) -> float | np.ndarray:
    """Closed-form I(X;Y) of the Student-t pair drawn by :func:`student_t`.

    For x = z_x / sqrt(W), y = z_y / sqrt(W) with (z_x, z_y) the Gaussian pair of
    :func:`gaussian_mi` (``dim`` coordinate pairs of correlation ``rho``) and one
    W ~ chi2(df) / df per sample, ``I = gaussian_mi(rho, dim) + c(df, dim)`` with the
    excess ``c = g(df) + g(df + 2 dim) - 2 g(df + dim)`` nats,
    ``g(k) = lgamma(k/2) - (k/2) digamma(k/2)``.  ``c > 0``: the shared scale W makes x
    and y dependent even at ``rho = 0``; ``c -> 0`` as ``df -> inf`` (the Gaussian limit).

    Args:
        rho: correlation of one coordinate pair of z, in [-1, 1]; a float or an array.
        dim: dimension of x and of y (>= 1).
        df: degrees of freedom (> 0, finite).
        units: "bits" or "nats" for the result.

    Returns:
        The MI in ``units``: a float for a scalar ``rho``, an array of its shape otherwise.
    """
    _check_units(units)
    nats = gaussian_mi(rho, dim, "nats") + _student_t_excess_nats(dim, _check_df(df))
    out = nats / NATS_PER_BIT if units == "bits" else nats
    return float(out) if np.ndim(out) == 0 else out


def rho_for_student_t_mi(mi: float, dim: int = 1, df: float = 5, units: str = "bits") -> float:
    """The per-coordinate correlation in [0, 1) giving a Student-t pair total MI ``mi``.

    Inverse of :func:`student_t_mi` on rho >= 0: the Gaussian part is ``mi`` minus the
    excess ``student_t_mi(0, dim, df)``, which is the smallest MI reachable for this
    ``df`` and ``dim``; a smaller ``mi`` raises :class:`OptionError`.

    Args:
        mi: total mutual information (finite, >= ``student_t_mi(0, dim, df, units)``).
        dim: dimension of x and of y (>= 1).
        df: degrees of freedom (> 0, finite).
        units: "bits" or "nats".
    """
    dim = _check_count("dim", dim)
    return rho_for_mi(_student_t_gaussian_nats(mi, dim, df, units), dim, "nats")


def student_t(
    n: int,
    dim: int = 1,
    mi: float = 1.0,
    *,
    df: float = 5,
    units: str = "bits",
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` pairs (x, y) of a multivariate Student-t with total MI ``mi``.

    Draws the Gaussian pair (z_x, z_y) of :func:`correlated_gaussians` with correlation
    ``rho = rho_for_student_t_mi(mi, dim, df, units)`` per coordinate pair and one
    W ~ chi2(df) / df per sample, and returns ``x = z_x / sqrt(W)``, ``y = z_y / sqrt(W)``:
    jointly a 2*dim-variate t with ``df`` degrees of freedom, each coordinate a standard
    t(df).  The MI is :func:`student_t_mi`: the Gaussian MI plus a positive excess from the
    shared scale, so ``rho`` is chosen for the total to equal ``mi``, and an ``mi`` below
    the excess (``student_t_mi(0, dim, df, units)``) is unreachable.  Heavy tails: the
    variance is infinite for ``df <= 2``.

    Args:
        n: number of samples (>= 1).
        dim: dimension of x and of y (>= 1).
        mi: total mutual information in ``units`` (finite, >= the excess).
        df: degrees of freedom (> 0, finite); large ``df`` approaches the Gaussian case.
        units: "bits" or "nats".
        seed: seed of ``np.random.default_rng``; ``None`` draws fresh entropy.

    Returns:
        x, y: float64 arrays of shape (n, dim).
    """
    n = _check_count("n", n)
    dim = _check_count("dim", dim)
    gauss_nats = _student_t_gaussian_nats(mi, dim, df, units)
    rho = rho_for_mi(gauss_nats, dim, "nats")
    noise = math.exp(-gauss_nats / dim)  # sqrt(1 - rho^2), exact even when rho rounds to 1
    rng = np.random.default_rng(seed)
    zx = rng.standard_normal((n, dim))
    zy = rho * zx + noise * rng.standard_normal((n, dim))
    scale = 1.0 / np.sqrt(rng.chisquare(df, size=(n, 1)) / df)
    return zx * scale, zy * scale


def transform_marginals(a: Any, kind: str = "cube", seed: int | None = None) -> np.ndarray:
    """Apply a strictly monotone map to every coordinate: MI is unchanged, marginals are not.

    A strictly monotone map of each coordinate is injective, so ``I(f(X); g(Y)) = I(X;Y)``
    for any such maps of x and of y, while the marginal shapes an estimator must learn
    change.  Kinds:

    * ``"cube"``: a**3 (flattens the centre, stretches the tails);
    * ``"exp"``: exp(a) (log-normal marginals from Gaussian ones);
    * ``"sigmoid"``: 1 / (1 + exp(-a)) (squashes the tails into (0, 1));
    * ``"mixed"``: a different map per column, chosen from cube, exp, sigmoid,
      a + 0.4 sin(2a) (wiggly, slope >= 0.2) and exp(-a) (decreasing) in an order drawn
      from ``seed``; every map is used once before any repeats.

    Strict monotonicity holds in exact arithmetic; in float64 ``sigmoid`` rounds to 1 above
    about a = 37, so keep inputs of moderate size (Gaussian data are fine), and ``exp``
    overflows above about 709, which raises :class:`InvalidDataError`.

    Args:
        a: finite samples, shape (n,) or (n, d); a 1-D array is one column.
        kind: "cube", "exp", "sigmoid" or "mixed".
        seed: seed of the column order of ``"mixed"`` (``None``: fresh entropy); other kinds
            ignore it.

    Returns:
        A new float64 array of the shape of ``a``.
    """
    if kind not in _TRANSFORMS and kind != "mixed":
        options = (*_TRANSFORMS, "mixed")
        hint = closest_option_hint(str(kind), options)
        raise OptionError(
            f"kind must be one of {', '.join(repr(o) for o in options)}, not {kind!r}{hint}."
        )
    a = np.asarray(a, dtype=np.float64)
    if a.ndim not in (1, 2):
        raise InvalidDataError(f"a must have shape (n,) or (n, d), not {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise InvalidDataError("a contains NaN or infinite values.")
    with np.errstate(over="ignore"):  # overflow is reported below, in words
        if kind == "mixed":
            columns = a.reshape(len(a), -1)
            order = np.random.default_rng(seed).permutation(len(_MIXED_TRANSFORMS))
            out = np.empty_like(columns)
            for j in range(columns.shape[1]):
                out[:, j] = _MIXED_TRANSFORMS[order[j % len(order)]](columns[:, j])
            out = out.reshape(a.shape)
        else:
            out = _TRANSFORMS[kind](a)
    if not np.all(np.isfinite(out)):
        raise InvalidDataError(
            f"the {kind!r} transform overflowed to infinity; scale the data down first."
        )
    return out


def _student_t_excess_nats(dim: int, df: float) -> float:
    """c(df, dim) of :func:`student_t_mi`, in nats."""

    def g(k: float) -> float:
        return gammaln(k / 2) - (k / 2) * digamma(k / 2)

    excess = g(df) + g(df + 2 * dim) - 2 * g(df + dim)
    # c > 0 exactly; for very large df the sum cancels and may round to a tiny negative.
    return max(float(excess), 0.0)


def _student_t_gaussian_nats(mi: Any, dim: int, df: Any, units: str) -> float:
    """The Gaussian part (nats) of a Student-t pair whose total MI is ``mi``."""
    nats = _mi_nats(mi, units)
    excess = _student_t_excess_nats(dim, _check_df(df))
    gauss = nats - excess
    # Tolerate round-off of a total computed as student_t_mi(0, ...) in other units.
    if gauss < -1e-9 * max(excess, 1.0):
        smallest = excess / NATS_PER_BIT if units == "bits" else excess
        raise OptionError(
            f"mi = {mi!r} {units} is unreachable for a Student-t pair with df = {df!r} and "
            f"dim = {dim}: the shared scale alone gives MI {smallest:.6g} {units} at zero "
            "correlation, the smallest possible."
        )
    return max(gauss, 0.0)


def _check_df(df: Any) -> float:
    ok = isinstance(df, numbers.Real) and not isinstance(df, bool) and math.isfinite(df)
    if not ok or df <= 0:
        raise OptionError(f"df (degrees of freedom) must be a finite number > 0, not {df!r}.")
    return float(df)


def _wiggle(a: np.ndarray) -> np.ndarray:
    # Slope 1 + 0.8 cos(2a) >= 0.2: strictly increasing, yet far from linear.
    return a + 0.4 * np.sin(2.0 * a)


def _exp_decreasing(a: np.ndarray) -> np.ndarray:
    return np.exp(-a)


def _cube(a: np.ndarray) -> np.ndarray:
    return a**3


_TRANSFORMS: Mapping[str, Callable[[np.ndarray], np.ndarray]] = MappingProxyType(
    {"cube": _cube, "exp": np.exp, "sigmoid": expit}
)
_MIXED_TRANSFORMS: tuple[Callable[[np.ndarray], np.ndarray], ...] = (
    _cube,
    np.exp,
    expit,
    _wiggle,
    _exp_decreasing,
)


def _random_orthogonal(rng: np.random.Generator, size: int) -> np.ndarray:
    """A Haar-distributed orthogonal (size x size) matrix."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    # Fixing the signs of diag(r) makes the QR factor unique, hence Haar-distributed.
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _check_units(units: Any) -> None:
    if units not in _UNITS:
        hint = closest_option_hint(str(units), _UNITS)
        raise OptionError(f"units must be 'bits' or 'nats', not {units!r}{hint}.")


def _check_count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise OptionError(f"{name} must be an integer >= {minimum}, not {value!r}.")
    return int(value)


def _mi_nats(mi: Any, units: str) -> float:
    _check_units(units)
    ok = isinstance(mi, numbers.Real) and not isinstance(mi, bool) and math.isfinite(mi)
    if not ok or mi < 0:
        raise OptionError(f"mi must be a finite number >= 0, not {mi!r}.")
    return float(mi) * NATS_PER_BIT if units == "bits" else float(mi)


def latent_channels(
    n: int,
    latent_dim: int = 2,
    channels: int = 40,
    *,
    noise: float = 0.3,
    pair: bool = True,
    seed: int | None = None,
    map_seed: int = 12345,
) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Data whose shared information has a known dimension: a ``latent_dim``-dimensional
    standard normal latent z seen through many noisy nonlinear channels.

    Channel c is ``tanh(w_c · z + b_c) + noise * e_c``, with fixed random directions
    w_c (unit norm times 1.5) and offsets b_c drawn from ``map_seed``, and independent
    standard normal noise e_c.  With ``pair`` (default), x and y are two such
    populations of ``channels`` channels each, reading the same z through different
    channels: the interaction dimensionality of (x, y) is ``latent_dim``.  Without
    ``pair``, one population x of ``channels`` channels: any two halves of its channels
    share exactly the latent, so its internal dimensionality is ``latent_dim``.

    Args:
        n: samples (>= 1).
        latent_dim: dimension of the shared latent (>= 1).
        channels: channels of each population (>= latent_dim; about 20 per latent
            dimension read it well).
        noise: standard deviation of each channel's independent noise (>= 0).
        pair: return (x, y) when True, x alone when False.
        seed: seed of the latent and the noise; ``map_seed`` fixes the channels.

    Returns:
        (x, y), each float64 (n, channels); or x alone.
    """
    n = _check_count("n", n)
    latent_dim = _check_count("latent_dim", latent_dim)
    channels = _check_count("channels", channels)
    if channels < latent_dim:
        raise OptionError(f"channels ({channels}) must be >= latent_dim ({latent_dim}).")
    if not (isinstance(noise, int | float) and math.isfinite(noise) and noise >= 0):
        raise OptionError(f"noise must be a finite number >= 0, not {noise!r}.")
    map_seed = _check_count("map_seed", map_seed, minimum=0)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent_dim))

    def population(stream: int) -> np.ndarray:
        params = np.random.default_rng((map_seed, 100 + stream))
        w = params.standard_normal((latent_dim, channels))
        w *= 1.5 / np.linalg.norm(w, axis=0, keepdims=True)
        b = params.uniform(-0.5, 0.5, size=channels)
        return np.tanh(z @ w + b) + noise * rng.standard_normal((n, channels))

    x = population(0)
    return (x, population(1)) if pair else x


# ----- conditional MI and transfer entropy (issue 21) -----


def gaussian_cmi(cov: Any, x: Any, y: Any, z: Any = (), units: str = "bits") -> float:
    """Closed-form I(X;Y|Z) of jointly Gaussian variables from covariance log-determinants.

    ``I(X;Y|Z) = 1/2 [log|S_XZ| + log|S_YZ| - log|S_Z| - log|S_XYZ|]``, where ``S_A`` is the
    covariance of the coordinates ``A``; with ``z`` empty it is I(X;Y).

    Args:
        cov: the (d, d) covariance matrix of all coordinates.
        x, y, z: index lists of the coordinates of X, Y and Z (disjoint).
        units: "bits" or "nats".
    """
    _check_units(units)
    c = np.asarray(cov, dtype=np.float64)
    xi, yi, zi = (list(map(int, np.atleast_1d(np.asarray(a, dtype=int)))) for a in (x, y, z))

    def logdet(idx: list[int]) -> float:
        if not idx:
            return 0.0
        sign, value = np.linalg.slogdet(c[np.ix_(idx, idx)])
        if sign <= 0:
            raise OptionError("the covariance must be positive definite.")
        return float(value)

    nats = 0.5 * (logdet(xi + zi) + logdet(yi + zi) - logdet(zi) - logdet(xi + yi + zi))
    return nats / NATS_PER_BIT if units == "bits" else nats


def conditional_gaussians_cov(
    dim: int = 1, cmi: float = 1.0, confounding: float = 0.8, *, units: str = "bits"
) -> np.ndarray:
    """The (3 dim, 3 dim) covariance of (X, Y, Z) drawn by :func:`conditional_gaussians`,
    coordinates ordered x_1..x_dim, y_1..y_dim, z_1..z_dim."""
    dim = _check_count("dim", dim)
    rho = rho_for_mi(cmi, dim, units)
    r = _check_confounding(confounding)
    eye = np.eye(dim)
    resid = 1.0 - r**2
    blocks = [
        [eye, (r**2 + resid * rho) * eye, r * eye],
        [(r**2 + resid * rho) * eye, eye, r * eye],
        [r * eye, r * eye, eye],
    ]
    return np.block(blocks)


def conditional_gaussians(
    n: int,
    dim: int = 1,
    cmi: float = 1.0,
    *,
    confounding: float = 0.8,
    units: str = "bits",
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample ``n`` triples (x, y, z) of standard normal vectors with I(X;Y|Z) = ``cmi``.

    Coordinate k of x and of y each follow z_k with correlation ``confounding`` (a common
    cause), ``x_k = r z_k + sqrt(1 - r^2) u_k`` and the same for y with ``v_k``, and the
    residuals ``(u_k, v_k)`` have the correlation ``rho = rho_for_mi(cmi, dim)``.  So
    ``I(X;Y|Z) = -dim/2 ln(1 - rho^2)`` = ``cmi`` exactly, while I(X;Y) is larger (the
    shared cause z adds to it); :func:`gaussian_cmi` on :func:`conditional_gaussians_cov`
    gives the same numbers from log-determinants.

    Returns:
        x, y, z: float64 arrays of shape (n, dim), N(0, 1) marginals.
    """
    n = _check_count("n", n)
    dim = _check_count("dim", dim)
    rho = rho_for_mi(cmi, dim, units)
    r = _check_confounding(confounding)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, dim))
    u = rng.standard_normal((n, dim))
    v = rho * u + math.sqrt(1.0 - rho**2) * rng.standard_normal((n, dim))
    s = math.sqrt(1.0 - r**2)
    return r * z + s * u, r * z + s * v, z


def var1_stationary_cov(a: Any, noise_cov: Any) -> np.ndarray:
    """Stationary covariance G of the VAR(1) ``s_t = A s_{t-1} + e_t``, Cov(e) = ``noise_cov``:
    the solution of the discrete Lyapunov equation ``G = A G A^T + noise_cov``
    (``vec G = (I - A kron A)^-1 vec noise_cov``).  Raises when A is not stable."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    q = np.atleast_2d(np.asarray(noise_cov, dtype=np.float64))
    if np.max(np.abs(np.linalg.eigvals(a))) >= 1.0:
        raise OptionError("the VAR(1) is not stationary: A has an eigenvalue of modulus >= 1.")
    d = a.shape[0]
    vec = np.linalg.solve(np.eye(d * d) - np.kron(a, a), q.reshape(-1))
    g = vec.reshape(d, d)
    return 0.5 * (g + g.T)


def var1_transfer_entropy(
    a: Any,
    noise_cov: Any,
    *,
    history: int = 1,
    horizon: int = 1,
    units: str = "bits",
) -> tuple[float, float]:
    """Closed-form transfer entropies (TE(X->Y), TE(Y->X)) of a two-variable VAR(1).

    ``TE(X->Y) = I(y_{t+horizon}; x_{t-history+1..t} | y_{t-history+1..t})``, computed by
    :func:`gaussian_cmi` from the stationary autocovariances ``Cov(s_{t+k}, s_t) = A^k G``
    (``G`` from :func:`var1_stationary_cov`).  For history 1 and horizon 1 it equals
    ``1/2 log(var(y_t | y_{t-1}) / var(y_t | y_{t-1}, x_{t-1}))``; with ``A[0, 1] = 0`` (x
    not driven by y) TE(Y->X) is 0.
    """
    history = _check_count("history", history)
    horizon = _check_count("horizon", horizon)
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    g = var1_stationary_cov(a, noise_cov)
    # times t-history+1 .. t, then t+horizon; the covariance of all their states
    times = [*range(history), history - 1 + horizon]
    blocks = [
        [
            np.linalg.matrix_power(a, ti - tj) @ g
            if ti >= tj
            else (np.linalg.matrix_power(a, tj - ti) @ g).T
            for tj in times
        ]
        for ti in times
    ]
    cov = np.block(blocks)
    xs_past = [2 * k for k in range(history)]
    ys_past = [2 * k + 1 for k in range(history)]
    x_future, y_future = 2 * history, 2 * history + 1
    te_xy = gaussian_cmi(cov, xs_past, [y_future], ys_past, units)
    te_yx = gaussian_cmi(cov, ys_past, [x_future], xs_past, units)
    return te_xy, te_yx


def var1_pair(
    n: int,
    *,
    coupling: float = 0.6,
    a_x: float = 0.5,
    a_y: float = 0.5,
    noise: float = 1.0,
    burn_in: int = 200,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A linear Gaussian VAR(1) pair with a one-way coupling x -> y, ``n`` time points:
    ``x_t = a_x x_{t-1} + e_t``, ``y_t = a_y y_{t-1} + coupling x_{t-1} + f_t`` with
    independent N(0, ``noise``^2) innovations, started from 0 and run ``burn_in`` steps
    before the samples kept.  Its transfer entropies in closed form:
    ``var1_transfer_entropy(*var1_matrices(coupling, a_x, a_y, noise))``; TE(Y->X) = 0.

    Returns:
        x, y: float64 arrays of shape (n,), in time order.
    """
    n = _check_count("n", n)
    burn_in = _check_count("burn_in", burn_in, 0)
    a, q = var1_matrices(coupling, a_x, a_y, noise)
    var1_stationary_cov(a, q)  # checks stationarity
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n + burn_in, 2)) * noise
    e[0] = 0.0  # the state starts at 0
    # x_t = a_x x_{t-1} + e_t and y_t = a_y y_{t-1} + (coupling x_{t-1} + f_t): two
    # first-order recursive filters
    x = lfilter([1.0], [1.0, -a_x], e[:, 0])
    drive = e[:, 1] + coupling * np.concatenate([[0.0], x[:-1]])
    y = lfilter([1.0], [1.0, -a_y], drive)
    return x[burn_in:].copy(), y[burn_in:].copy()


def var1_matrices(
    coupling: float = 0.6, a_x: float = 0.5, a_y: float = 0.5, noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(A, noise covariance) of :func:`var1_pair`'s process, state (x, y)."""
    for name, value in (("coupling", coupling), ("a_x", a_x), ("a_y", a_y), ("noise", noise)):
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise OptionError(f"{name} must be a finite number, not {value!r}.")
    if noise <= 0:
        raise OptionError(f"noise must be > 0, not {noise!r}.")
    a = np.array([[a_x, 0.0], [coupling, a_y]], dtype=np.float64)
    return a, noise**2 * np.eye(2)


def _check_confounding(value: Any) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not -1.0 < value < 1.0:
        raise OptionError(f"confounding must lie strictly between -1 and 1, not {value!r}.")
    return float(value)


def uniform_noise_mi(width: float, dim: int = 1, units: str = "bits") -> float:
    """MI of :func:`uniform_noise`: ``dim`` coordinates ``y = x + width * u`` with x, u
    uniform on [0, 1].

    Y's density is a trapezoid, so per coordinate ``I = width/2 - ln(width)`` nats for
    ``width <= 1`` and ``1 / (2 width)`` for ``width >= 1`` (both 1/2 at 1).
    """
    _check_units(units)
    ok = isinstance(width, numbers.Real) and not isinstance(width, bool) and math.isfinite(width)
    if not ok or width <= 0:
        raise OptionError(f"width must be a finite number > 0, not {width!r}.")
    dim = _check_count("dim", dim)
    w = float(width)
    nats = dim * (w / 2 - math.log(w) if w <= 1 else 1 / (2 * w))
    return nats / NATS_PER_BIT if units == "bits" else nats


def uniform_noise(
    n: int, dim: int = 1, mi: float = 1.0, *, units: str = "bits", seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Additive noise with bounded support: ``y = x + width * u``, x and u uniform on
    [0, 1]^dim, with the width chosen so that the total MI is ``mi``
    (:func:`uniform_noise_mi`).  Hard for neural critics: the joint density has sharp
    edges, where smooth critics fit poorly.

    Returns:
        x, y: float64 arrays of shape (n, dim).
    """
    n = _check_count("n", n)
    dim = _check_count("dim", dim)
    nats = _mi_nats(mi, units) / dim
    if nats <= 0:
        raise OptionError("mi must be > 0 for uniform_noise: bounded noise always leaves some.")
    if nats <= 0.5:
        width = 1 / (2 * nats)
    else:  # width/2 - ln(width) = I, i.e. width * exp(-width/2) = exp(-I): Lambert W
        from scipy.special import lambertw

        width = float(-2 * lambertw(-math.exp(-nats) / 2).real)
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, dim))
    y = x + width * rng.uniform(size=(n, dim))
    return x, y


def swirl(a: Any, strength: float = 1.0) -> np.ndarray:
    """Rotate each sample's coordinate pairs (0, 1), (2, 3), ... by an angle
    ``strength * |a|`` that grows with the sample's radius.

    Rotations keep the radius, so the map is inverted by turning back by the same
    angle: it is a bijection and leaves MI unchanged, yet it bends straight
    correlations into spirals (a nonlinear warp no monotone per-coordinate map makes).
    An odd last coordinate is left as it is.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise InvalidDataError(f"swirl expects a (samples, features) array, not shape {a.shape}.")
    ok = isinstance(strength, numbers.Real) and not isinstance(strength, bool)
    if not ok or not math.isfinite(strength):
        raise OptionError(f"strength must be a finite number, not {strength!r}.")
    theta = strength * np.linalg.norm(a, axis=1)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    out = a.copy()
    pairs = a.shape[1] // 2
    even, odd = a[:, 0 : 2 * pairs : 2], a[:, 1 : 2 * pairs : 2]
    out[:, 0 : 2 * pairs : 2] = c * even - s * odd
    out[:, 1 : 2 * pairs : 2] = s * even + c * odd
    return out


# ----- MI against lag (issue 20) -----


def lagged_gaussians(
    n: int,
    lag: int = 3,
    phi: float = 0.8,
    mi: float = 1.5,
    *,
    units: str = "bits",
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A stationary Gaussian pair of time series where x leads y by ``lag`` samples.

    x is a unit-variance AR(1) process, ``x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t``
    (started from its stationary law), and ``y_t = a x_{t-lag} + sqrt(1 - a^2) u_t``
    with independent standard normal noise u and ``a = rho_for_mi(mi)``, so y has unit
    variance and ``I(x_t; y_{t+k})`` peaks at ``k = lag`` with the value ``mi``; its
    closed form at every k is :func:`lagged_gaussians_mi`.  A negative ``lag`` makes y
    lead x.

    Args:
        n: time points (>= 1).
        lag: how many samples x leads y (any integer).
        phi: the AR(1) coefficient of x, in [0, 1): how slowly the MI falls off the peak.
        mi: the MI at the peak lag (>= 0, finite), in ``units``.
        units: "bits" or "nats".
        seed: seed of ``np.random.default_rng``; ``None`` draws fresh entropy.

    Returns:
        x, y: float64 arrays of shape (n, 1), row t the time point t.
    """
    n = _check_count("n", n)
    lag = _check_lag(lag)
    phi = _check_phi(phi)
    a = rho_for_mi(_mi_nats(mi, units), 1, "nats")
    rng = np.random.default_rng(seed)
    steps = n + abs(lag)
    shocks = math.sqrt(1.0 - phi**2) * rng.standard_normal(steps)
    start = rng.standard_normal()  # x_{-1}, drawn from the stationary law of x
    series = lfilter([1.0], [1.0, -phi], shocks, zi=[phi * start])[0]
    # y_t reads x_{t-lag}: with x_t = series[t + lag] for lag >= 0, x_{t-lag} = series[t]
    x, source = (series[lag:], series[:n]) if lag >= 0 else (series[:n], series[-lag:])
    noise = math.exp(-_mi_nats(mi, units))  # sqrt(1 - a^2), exact even when a rounds to 1
    y = a * source + noise * rng.standard_normal(n)
    return x[:, None], y[:, None]


def lagged_gaussians_mi(
    lags: Any, lag: int = 3, phi: float = 0.8, mi: float = 1.5, units: str = "bits"
) -> np.ndarray:
    """The true ``I(x_t; y_{t+k})`` of :func:`lagged_gaussians` at each k in ``lags``:
    ``-1/2 log(1 - rho_k^2)`` with ``rho_k = a phi^|k - lag|`` (x and y have unit
    variance, ``a = rho_for_mi(mi)``).  Positive k: x leads y.  Returns an array (in
    ``units``) shaped like ``lags`` (a float for one lag)."""
    lag = _check_lag(lag)
    phi = _check_phi(phi)
    a = rho_for_mi(_mi_nats(mi, units), 1, "nats")
    k = np.asarray(lags)
    if not np.issubdtype(k.dtype, np.integer):
        raise OptionError(f"lags must be integers, not {k.dtype}.")
    return gaussian_mi(a * phi ** np.abs(k.astype(np.int64) - lag), 1, units)


def _check_lag(lag: Any) -> int:
    if isinstance(lag, bool) or not isinstance(lag, numbers.Integral):
        raise OptionError(f"lag must be an integer number of samples, not {lag!r}.")
    return int(lag)


def _check_phi(phi: Any) -> float:
    ok = isinstance(phi, numbers.Real) and not isinstance(phi, bool) and 0 <= phi < 1
    if not ok:
        raise OptionError(f"phi must be a number in [0, 1), not {phi!r}.")
    return float(phi)


# ----- Poisson spike trains driven by a stimulus label (issue 20) -----

# Default tuning of poisson_spikes: each neuron fires between these rates (Hz), highest
# for its preferred class (cosine tuning around the circle of classes).
_SPIKE_RATE_LOW, _SPIKE_RATE_HIGH = 2.0, 30.0
# The exact information sums over count vectors up to a tail cut; the cut leaves out at
# most this many nats (see poisson_spikes_mi), and the sum is refused beyond this many terms.
_SPIKE_MI_TAIL_NATS = 1e-9
_SPIKE_MI_MAX_TERMS = 50_000_000


@dataclass(frozen=True)
class SpikeTrials:
    """Trials of :func:`poisson_spikes`: a stimulus label per trial and the spikes it drove.

    Attributes:
        labels: int64 (n_trials,), the class of each trial, in 0..n_classes-1.
        counts: int64 (n_trials, n_neurons), each neuron's spike count in each trial
            (equal to ``nmi.bin_spikes(spike_times, trial_duration, t_stop=n_trials *
            trial_duration)``).
        spike_times: one sorted float64 array of spike times (seconds) per neuron; trial i
            spans ``[i * trial_duration, (i + 1) * trial_duration)``.
        rates: float64 (n_classes, n_neurons), the firing rate in Hz of each neuron for
            each class.
        trial_duration: seconds per trial.
        mi: the exact I(label; counts) in ``units`` (:func:`poisson_spikes_mi`).
        units: "bits" or "nats".
    """

    labels: np.ndarray
    counts: np.ndarray
    spike_times: tuple[np.ndarray, ...]
    rates: np.ndarray
    trial_duration: float
    mi: float
    units: str


def poisson_spikes_mi(rates: Any, trial_duration: float = 0.1, units: str = "bits") -> float:
    """Exact I(S; C) between a uniform class S and the Poisson spike counts C it drives.

    Given class s, neuron j's count in a trial is Poisson(``rates[s, j] * trial_duration``),
    independently across neurons.  ``I = sum_s p(s) sum_c P(c|s) ln(P(c|s) / P(c))`` is
    summed over every count vector c with ``c_j <= m_j``, where m_j is chosen so that
    ``P(C_j > m_j | s) <= eps / (n_neurons ln K)`` for every class.  Left-out vectors A
    contribute ``sum_{c in A} P(c) KL(P(s|c) || p(s))``, which lies in
    ``[0, P(A) ln K]``, so the result is low by at most ``eps = 1e-9`` nats, never high.

    Args:
        rates: firing rates in Hz (>= 0, finite), shape (n_classes, n_neurons), n_classes >= 2.
        trial_duration: seconds per trial (> 0).
        units: "bits" or "nats".

    Returns:
        The MI in ``units`` (at most log2(n_classes) bits).
    """
    _check_units(units)
    means = _spike_means(rates, trial_duration)
    n_classes, n_neurons = means.shape
    tail = _SPIKE_MI_TAIL_NATS / (n_neurons * math.log(n_classes))
    # Per neuron: the count table log P(c_j | s) for c_j = 0..m_j, shape (K, m_j + 1).
    tables = []
    for j in range(n_neurons):
        top = int(np.max(means[:, j]) + 20.0 * math.sqrt(np.max(means[:, j])) + 40)
        c = np.arange(top + 1)
        survival = pdtrc(c[None, :], means[:, j : j + 1])  # P(C_j > c | s)
        cut = int(np.argmax(np.all(survival <= tail, axis=0)))  # 'top' is far in the tail
        c = c[: cut + 1]
        with np.errstate(divide="ignore", invalid="ignore"):  # a rate of 0: log 0 = -inf
            log_mean = np.log(means[:, j : j + 1])
            table = np.where(c[None, :] > 0, c[None, :] * log_mean, 0.0)
        tables.append(table - means[:, j : j + 1] - gammaln(c[None, :] + 1.0))
    terms = n_classes * math.prod(t.shape[1] for t in tables)
    if terms > _SPIKE_MI_MAX_TERMS:
        raise OptionError(
            f"the exact information of {n_neurons} neurons at these rates sums {terms:.3g} "
            "terms, too many; use fewer neurons or classes, shorter trials or lower rates."
        )
    log_prior = -math.log(n_classes)
    nats = 0.0
    # One slice of the first neuron's count at a time keeps memory to terms / m_1.
    rest = tables[1] if n_neurons > 1 else np.zeros((n_classes, 1))
    for t in tables[2:]:
        rest = (rest[:, :, None] + t[:, None, :]).reshape(n_classes, -1)
    for c1 in range(tables[0].shape[1]):
        log_like = tables[0][:, c1 : c1 + 1] + rest  # log P(c | s), (K, vectors)
        log_joint = log_prior + log_like
        log_marginal = logsumexp(log_joint, axis=0)
        joint = np.exp(log_joint)
        with np.errstate(invalid="ignore"):  # 0 * (-inf) where a class cannot give c
            pointwise = np.where(joint > 0, joint * (log_like - log_marginal), 0.0)
        nats += float(pointwise.sum())
    nats = max(nats, 0.0)
    return nats / NATS_PER_BIT if units == "bits" else nats


def poisson_spikes(
    n_trials: int,
    n_neurons: int = 3,
    n_classes: int = 4,
    *,
    trial_duration: float = 0.1,
    rates: Any = None,
    units: str = "bits",
    seed: int | None = None,
) -> SpikeTrials:
    """Poisson spike trains driven by a stimulus label, with known I(label; counts).

    Each trial draws a class s uniformly from ``n_classes``; during the trial neuron j
    fires as a Poisson process of rate ``rates[s, j]`` Hz, independently of the other
    neurons and trials.  The trials follow one another in one recording, trial i
    spanning ``[i * trial_duration, (i + 1) * trial_duration)``, so binning the spike
    times with ``bin_size = trial_duration`` gives back the per-trial counts.  The truth
    ``I(label; counts)`` is computed exactly by :func:`poisson_spikes_mi` (counts are a
    sufficient statistic of a Poisson process for its rate, so it is also the information
    the spike times carry about the label).

    By default neurons are cosine-tuned: neuron j prefers the direction ``2 pi j /
    n_neurons``, class k sits at ``2 pi k / n_classes``, and the rate goes from 2 Hz
    (opposite) to 30 Hz (preferred).  With the defaults (3 neurons, 4 classes, 100 ms
    trials) the truth is 1.03 bits of the 2 bits a label holds; 0.5 s trials give 1.91.
    The exact sum grows with neurons and rates: a few neurons with a few tens of spikes
    per trial are fine, 5 neurons x 8 classes x 6 spikes already too many.

    Args:
        n_trials: number of trials (>= 1).
        n_neurons: neurons, when ``rates`` is not given (>= 1).
        n_classes: classes, when ``rates`` is not given (>= 2).
        trial_duration: seconds per trial (> 0).
        rates: firing rates in Hz, shape (n_classes, n_neurons); overrides the tuning.
        units: "bits" or "nats" for ``mi``.
        seed: seed of ``np.random.default_rng``.

    Returns:
        A :class:`SpikeTrials` with labels, counts, spike_times, rates and the truth ``mi``.
    """
    n_trials = _check_count("n_trials", n_trials)
    if rates is None:
        n_neurons = _check_count("n_neurons", n_neurons)
        n_classes = _check_count("n_classes", n_classes, minimum=2)
        preferred = 2 * np.pi * np.arange(n_neurons) / n_neurons
        angle = 2 * np.pi * np.arange(n_classes)[:, None] / n_classes - preferred[None, :]
        rates = _SPIKE_RATE_LOW + (_SPIKE_RATE_HIGH - _SPIKE_RATE_LOW) * (1 + np.cos(angle)) / 2
    means = _spike_means(rates, trial_duration)
    duration = float(trial_duration)
    rates = means / duration
    mi = poisson_spikes_mi(rates, duration, units)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, means.shape[0], size=n_trials)
    counts = rng.poisson(means[labels])  # (n_trials, n_neurons)
    trial_of_spike = [np.repeat(np.arange(n_trials), counts[:, j]) for j in range(means.shape[1])]
    spike_times = []
    for trials in trial_of_spike:
        # Uniform within the trial, kept 1e-8 of a trial away from its end so that no
        # spike rounds into the next trial's bin.
        offsets = rng.random(trials.size) * (1.0 - 1e-8)
        times = np.sort((trials + offsets) * duration)
        times.setflags(write=False)
        spike_times.append(times)
    return SpikeTrials(
        labels=labels.astype(np.int64),
        counts=counts.astype(np.int64),
        spike_times=tuple(spike_times),
        rates=rates,
        trial_duration=duration,
        mi=mi,
        units=units,
    )


def _spike_means(rates: Any, trial_duration: Any) -> np.ndarray:
    """Expected counts per trial, ``rates * trial_duration``, checked: (K >= 2, neurons)."""
    ok = isinstance(trial_duration, numbers.Real) and not isinstance(trial_duration, bool)
    if not ok or not math.isfinite(trial_duration) or trial_duration <= 0:
        raise OptionError(f"trial_duration must be a finite number > 0, not {trial_duration!r}.")
    r = np.asarray(rates, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 1:
        raise OptionError(f"rates must have shape (n_classes >= 2, n_neurons >= 1), not {r.shape}.")
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise OptionError("rates must be finite firing rates >= 0 Hz.")
    return r * float(trial_duration)
