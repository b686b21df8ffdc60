"""Data with mutual information known in closed form, for demos, tests and notebooks.

No torch here: plain numpy, seeded with ``numpy.random.default_rng``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nmi_jupyter.engine.errors import OptionError
from nmi_jupyter.engine.units import from_nats, to_nats

__all__ = [
    "correlated_gaussians",
    "gaussian_mi",
    "rho_for_mi",
    "nonlinear_latent",
    "make_injective_map",
]


def _check_units(units: str) -> None:
    if units not in ("bits", "nats"):
        raise OptionError(f"units must be 'bits' or 'nats', not {units!r}.")


def gaussian_mi(rho: float, dim: int = 1, units: str = "bits") -> float:
    """I(X;Y) of ``dim`` independent coordinate pairs, each a bivariate normal with
    correlation ``rho``: -dim/2 * ln(1 - rho²) nats."""
    _check_units(units)
    return float(from_nats(-0.5 * dim * math.log1p(-(rho**2)), units))


def rho_for_mi(mi: float, dim: int = 1, units: str = "bits") -> float:
    """The per-coordinate correlation that gives total MI ``mi`` over ``dim`` pairs."""
    _check_units(units)
    return math.sqrt(-math.expm1(-2.0 * float(to_nats(mi, units)) / dim))


def correlated_gaussians(
    n: int, dim: int = 1, mi: float = 1.0, *, units: str = "bits", seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Paired samples x, y of shape (n, dim) with I(X;Y) = ``mi`` (in ``units``) exactly.

    Both have standard normal marginals; coordinate k of x is correlated with
    coordinate k of y (correlation ``rho_for_mi(mi, dim)``) and independent of the
    rest.  ``mi=0`` gives independent pairs.
    """
    if n < 1 or dim < 1:
        raise OptionError(f"n and dim must be at least 1, not n={n}, dim={dim}.")
    if not mi >= 0:
        raise OptionError(f"mi must be a number >= 0, not {mi!r}.")
    rho = rho_for_mi(mi, dim, units)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1.0 - rho**2) * rng.standard_normal((n, dim))
    return x, y


def make_injective_map(
    in_dim: int, out_dim: int, map_seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    """A fixed random nonlinear map R^in_dim -> R^out_dim that is injective by construction.

    z -> s(t(z A) Q): A (in_dim x out_dim) has full column rank (almost surely for a
    Gaussian matrix), so z A is injective; t(u) = u + 0.5 tanh(u) and
    s(v) = tanh(v) + 0.1 v are strictly increasing elementwise, hence injective;
    Q is orthogonal.  A composition of injective maps is injective, so MI between
    mapped variables equals MI between the latents.
    """
    if out_dim < in_dim:
        raise OptionError(f"out_dim ({out_dim}) must be at least latent_dim ({in_dim}).")
    rng = np.random.default_rng(map_seed)
    a = rng.standard_normal((in_dim, out_dim)) / math.sqrt(in_dim)
    q, _ = np.linalg.qr(rng.standard_normal((out_dim, out_dim)))

    def apply(z: np.ndarray) -> np.ndarray:
        u = z @ a
        v = (u + 0.5 * np.tanh(u)) @ q
        return np.tanh(v) + 0.1 * v

    return apply


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
    """High-dimensional x, y of shape (n, out_dim) with I(X;Y) = ``mi`` exactly.

    A correlated-Gaussian latent pair (``latent_dim`` each, total MI ``mi``) is
    pushed through two different fixed injective maps (:func:`make_injective_map`,
    fixed by ``map_seed``, independent of ``seed``).
    """
    zx, zy = correlated_gaussians(n, latent_dim, mi, units=units, seed=seed)
    map_x = make_injective_map(latent_dim, out_dim, map_seed)
    map_y = make_injective_map(latent_dim, out_dim, map_seed + 1)
    return map_x(zx), map_y(zy)
