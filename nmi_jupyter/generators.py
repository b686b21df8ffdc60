"""Data with mutual information known in closed form (for demos, tests, notebooks)."""

from __future__ import annotations

import math

import numpy as np

from nmi_jupyter.engine.errors import OptionError

__all__ = ["correlated_gaussians", "gaussian_mi", "rho_for_mi", "nonlinear_latent"]


def _nats(mi: float, units: str) -> float:
    if units not in ("bits", "nats"):
        raise OptionError(f"units must be 'bits' or 'nats', not {units!r}.")
    return mi * math.log(2) if units == "bits" else mi


def gaussian_mi(rho: float, dim: int = 1, units: str = "bits") -> float:
    """I(X;Y) of ``dim`` independent coordinate pairs each with correlation ``rho``."""
    nats = -0.5 * dim * math.log1p(-(rho**2))
    return nats / math.log(2) if _nats(1.0, units) != 1.0 else nats


def rho_for_mi(mi: float, dim: int = 1, units: str = "bits") -> float:
    """The per-coordinate correlation giving total MI ``mi`` over ``dim`` coordinates."""
    return math.sqrt(-math.expm1(-2.0 * _nats(mi, units) / dim))


def correlated_gaussians(
    n: int, dim: int = 1, mi: float = 1.0, *, units: str = "bits", seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """x, y of shape (n, dim), standard normal, coordinate k of x correlated with
    coordinate k of y (correlation rho, from ``mi``), so I(X;Y) = -dim/2 ln(1 - rho²) nats."""
    if n < 1 or dim < 1:
        raise OptionError(f"n and dim must be >= 1, not n={n}, dim={dim}.")
    if mi < 0:
        raise OptionError(f"mi must be >= 0, not {mi}.")
    rho = rho_for_mi(mi, dim, units)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))
    return x, y


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
    """A correlated-Gaussian latent pair pushed through fixed random injective maps into
    ``out_dim`` dimensions; MI is invariant under injective maps, so I(X;Y) = ``mi``."""
    if out_dim < latent_dim:
        raise OptionError(f"out_dim ({out_dim}) must be >= latent_dim ({latent_dim}).")
    zx, zy = correlated_gaussians(n, latent_dim, mi, units=units, seed=seed)
    rng = np.random.default_rng(map_seed)
    out = []
    for z in (zx, zy):
        a = rng.standard_normal((latent_dim, out_dim)) / math.sqrt(latent_dim)
        q, _ = np.linalg.qr(rng.standard_normal((out_dim, out_dim)))
        h = z @ a
        h = h + 0.5 * np.tanh(h)  # strictly increasing: injective
        out.append(np.tanh(h @ q) + 0.1 * (h @ q))
    return out[0], out[1]
