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
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.special import digamma, expit, gammaln

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
