"""Accuracy benchmark cases: data with MI known in closed form, and how much of it.

Each :class:`Case` names a generator call from :mod:`nmi_jupyter.generators`, the true
MI in bits, the sample size N and a family:

* ``gaussian``: correlated Gaussians, d = 1..50, MI 0.5..8 nats (0.7..11.5 bits);
* ``latent``: a Gaussian latent of 2-4 dims pushed into 100-500 dims by injective maps;
* ``student_t``: multivariate Student-t pairs, df = 3 and 5 (heavy tails);
* ``transform``: Gaussians with strictly monotone maps of every coordinate;
* ``warp``: Gaussians whose coordinate pairs turn by an angle growing with the radius
  (``swirl``: a bijection that no per-coordinate map undoes);
* ``bounded_noise``: ``y = x + width * u`` with x, u uniform (sharp-edged densities);
* ``independent``: MI = 0.

``DEFAULT`` is the full suite of 29 cases (about 20 minutes for two estimators on two
otherwise idle CPU cores), ``QUICK`` a subset of six cases with N <= 5000 (about a minute
and a half).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from nmi_jupyter import generators as gen

__all__ = ["Case", "FAMILIES", "DEFAULT", "QUICK"]

FAMILIES = ("gaussian", "latent", "student_t", "transform", "warp", "bounded_noise", "independent")

Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Case:
    """One benchmark case: ``generate(seed)`` draws N pairs whose MI is ``truth`` bits.

    ``call`` is the generator call in words, for the report; ``options`` are extra
    ``nmi.rigorous`` options the case needs (e.g. a smaller batch for N = 500, where the
    gamma = 10 chunks of 50 samples cannot hold the default batch of 128).
    """

    name: str
    family: str
    truth: float  # bits
    n: int
    generate: Callable[[int], Pair]
    call: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, not {self.family!r}.")


def gaussian(dim: int, mi_nats: float, n: int, **options: Any) -> Case:
    """Correlated Gaussians of ``dim`` coordinate pairs with total MI ``mi_nats``."""
    return Case(
        name=f"gauss_d{dim}_{mi_nats:g}nat_n{n}",
        family="gaussian",
        truth=mi_nats / math.log(2),
        n=n,
        generate=lambda seed: gen.correlated_gaussians(n, dim, mi_nats, units="nats", seed=seed),
        call=f"correlated_gaussians({n}, dim={dim}, mi={mi_nats:g}, units='nats')",
        options=MappingProxyType(options),
    )


def latent(latent_dim: int, out_dim: int, mi_bits: float, n: int) -> Case:
    """A ``latent_dim`` Gaussian latent with MI ``mi_bits`` embedded into ``out_dim`` dims."""
    return Case(
        name=f"latent_{latent_dim}to{out_dim}_{mi_bits:g}bit_n{n}",
        family="latent",
        truth=mi_bits,
        n=n,
        generate=lambda seed: gen.nonlinear_latent(n, latent_dim, out_dim, mi_bits, seed=seed),
        call=f"nonlinear_latent({n}, latent_dim={latent_dim}, out_dim={out_dim}, mi={mi_bits:g})",
    )


def student(dim: int, df: float, mi_bits: float, n: int) -> Case:
    """A multivariate Student-t pair of ``dim`` dims each, ``df`` degrees of freedom."""
    return Case(
        name=f"t_df{df:g}_d{dim}_{mi_bits:g}bit_n{n}",
        family="student_t",
        truth=mi_bits,
        n=n,
        generate=lambda seed: gen.student_t(n, dim, mi_bits, df=df, seed=seed),
        call=f"student_t({n}, dim={dim}, mi={mi_bits:g}, df={df:g})",
    )


def transformed(kind: str, dim: int, mi_bits: float, n: int) -> Case:
    """Correlated Gaussians with the ``kind`` marginal map applied to x and to y.

    The maps are fixed (seeds 0 and 1 for "mixed"), so every sample seed draws from the
    same distribution.
    """

    def generate(seed: int) -> Pair:
        x, y = gen.correlated_gaussians(n, dim, mi_bits, seed=seed)
        return gen.transform_marginals(x, kind, seed=0), gen.transform_marginals(y, kind, seed=1)

    return Case(
        name=f"{kind}_d{dim}_{mi_bits:g}bit_n{n}",
        family="transform",
        truth=mi_bits,
        n=n,
        generate=generate,
        call=f"transform_marginals(correlated_gaussians({n}, dim={dim}, mi={mi_bits:g}), '{kind}')",
    )


def warped(dim: int, mi_bits: float, n: int, strength: float = 1.0) -> Case:
    """Correlated Gaussians with :func:`~nmi_jupyter.generators.swirl` applied to x and y."""

    def generate(seed: int) -> Pair:
        x, y = gen.correlated_gaussians(n, dim, mi_bits, seed=seed)
        return gen.swirl(x, strength), gen.swirl(y, -strength)

    return Case(
        name=f"swirl_d{dim}_{mi_bits:g}bit_n{n}",
        family="warp",
        truth=mi_bits,
        n=n,
        generate=generate,
        call=f"swirl(correlated_gaussians({n}, dim={dim}, mi={mi_bits:g}), +-{strength:g})",
    )


def bounded(dim: int, mi_bits: float, n: int) -> Case:
    """Uniform x plus uniform noise of the width that gives ``mi_bits``."""
    return Case(
        name=f"uniform_d{dim}_{mi_bits:g}bit_n{n}",
        family="bounded_noise",
        truth=mi_bits,
        n=n,
        generate=lambda seed: gen.uniform_noise(n, dim, mi_bits, seed=seed),
        call=f"uniform_noise({n}, dim={dim}, mi={mi_bits:g})",
    )


def independent(name: str, n: int, generate: Callable[[int], Pair], call: str) -> Case:
    """A pair with MI = 0."""
    return Case(
        name=f"indep_{name}_n{n}",
        family="independent",
        truth=0.0,
        n=n,
        generate=generate,
        call=call,
    )


def _independent_gaussians(dim: int, n: int) -> Case:
    return independent(
        f"gauss_d{dim}",
        n,
        lambda seed: gen.correlated_gaussians(n, dim, 0.0, seed=seed),
        f"correlated_gaussians({n}, dim={dim}, mi=0)",
    )


def _independent_latent(out_dim: int, n: int) -> Case:
    return independent(
        f"latent_2to{out_dim}",
        n,
        lambda seed: gen.nonlinear_latent(n, 2, out_dim, 0.0, seed=seed),
        f"nonlinear_latent({n}, latent_dim=2, out_dim={out_dim}, mi=0)",
    )


def _independent_heavy(dim: int, n: int) -> Case:
    # x and y from two independent Student-t draws (different seeds): heavy tails, MI 0.
    def generate(seed: int) -> Pair:
        x, _ = gen.student_t(n, dim, gen.student_t_mi(0.0, dim, 3), df=3, seed=seed)
        _, y = gen.student_t(n, dim, gen.student_t_mi(0.0, dim, 3), df=3, seed=seed + 10_000)
        return x, y

    return independent(
        f"t_df3_d{dim}",
        n,
        generate,
        f"x, y from two independent student_t({n}, dim={dim}, df=3) draws",
    )


DEFAULT: tuple[Case, ...] = (
    # gaussian: d = 1..50, MI 0.5..8 nats, N = 500..20000
    gaussian(1, 0.5, 500, batch_size=32, val_fraction=0.2),
    gaussian(1, 2.0, 2000),
    gaussian(5, 2.0, 5000),
    gaussian(5, 5.0, 5000),
    gaussian(20, 1.0, 10000),
    gaussian(20, 4.0, 10000),
    gaussian(50, 8.0, 20000),
    gaussian(50, 2.0, 20000),
    gaussian(1, 8.0, 20000),
    # latent: nonlinear embeddings into 100-500 dims
    latent(2, 100, 2.0, 5000),
    latent(2, 500, 2.0, 10000),
    latent(4, 200, 4.0, 10000),
    # student_t: df 3 and 5
    student(1, 3, 1.0, 5000),
    student(2, 5, 1.0, 2000),
    student(5, 5, 2.0, 5000),
    student(5, 3, 4.0, 10000),
    # transform: monotone maps of each coordinate of Gaussians
    transformed("cube", 1, 1.5, 5000),
    transformed("exp", 5, 2.0, 5000),
    transformed("sigmoid", 5, 3.0, 5000),
    transformed("mixed", 10, 3.0, 10000),
    transformed("cube", 20, 4.0, 20000),
    # heavy tails in tens of dimensions
    student(20, 3, 4.0, 10000),
    # warp: radius-dependent rotations of Gaussians
    warped(2, 2.0, 5000),
    warped(10, 3.0, 10000),
    # bounded_noise: uniform plus uniform noise
    bounded(1, 2.0, 5000),
    bounded(5, 3.0, 10000),
    # independent: MI = 0
    _independent_gaussians(5, 5000),
    _independent_latent(100, 5000),
    _independent_heavy(5, 10000),
)

QUICK: tuple[Case, ...] = (
    gaussian(1, 2.0, 2000),
    gaussian(5, 2.0, 5000),
    latent(2, 100, 2.0, 5000),
    student(1, 3, 1.0, 3000),
    transformed("mixed", 5, 2.0, 3000),
    _independent_gaussians(5, 3000),
)
