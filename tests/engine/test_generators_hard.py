"""The harder families of the accuracy suite: bounded additive noise and radial warps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nmi_jupyter import generators as gen
from nmi_jupyter.engine.errors import InvalidDataError, OptionError


def _trapezoid_entropy(width: float, grid: int = 400_001) -> float:
    """h(x + width * u) by numerical integration of its trapezoid density."""
    lo, hi = 0.0, 1.0 + width
    t = np.linspace(lo, hi, grid)
    ramp = min(1, width)
    p = np.clip(np.minimum.reduce([t / ramp, np.ones_like(t), (hi - t) / ramp]), 0, None)
    p /= max(1.0, width)
    integrand = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1)), 0.0)
    return float(np.trapezoid(integrand, t))


@pytest.mark.parametrize("width", [0.05, 0.3, 1.0, 2.5])
def test_uniform_noise_mi_is_the_entropy_difference(width):
    # I = h(Y) - h(Y | X) = h(Y) - ln(width): numerically integrated, not the formula.
    expected = _trapezoid_entropy(width) - math.log(width)
    assert gen.uniform_noise_mi(width, 1, "nats") == pytest.approx(expected, abs=1e-4)
    assert gen.uniform_noise_mi(width, 3, "nats") == pytest.approx(3 * expected, abs=3e-4)


@pytest.mark.parametrize("mi", [0.2, 0.5, 1.0, 3.0])
def test_uniform_noise_has_the_asked_mi(mi):
    x, y = gen.uniform_noise(20_000, dim=2, mi=mi, units="nats", seed=0)
    width = float((y - x).max())  # the largest noise draw is just below the width
    assert x.shape == y.shape == (20_000, 2)
    assert 0 <= x.min() and x.max() <= 1
    assert gen.uniform_noise_mi(width, 2, "nats") == pytest.approx(mi, rel=2e-3)


def test_uniform_noise_refuses_zero_mi():
    with pytest.raises(OptionError, match="mi must be > 0"):
        gen.uniform_noise(10, mi=0.0)
    with pytest.raises(OptionError, match="width"):
        gen.uniform_noise_mi(-1.0)


def test_swirl_is_a_bijection_that_keeps_the_radius():
    a = np.random.default_rng(1).standard_normal((200, 5))
    b = gen.swirl(a, 1.5)
    assert np.allclose(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    assert np.allclose(gen.swirl(b, -1.5), a)
    assert np.array_equal(b[:, 4], a[:, 4])  # odd last coordinate untouched
    # and it really bends: the warped coordinates are far from a linear map of the originals
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    assert np.mean((a @ coef - b) ** 2) > 0.3


def test_swirl_bad_input_is_one_sentence():
    with pytest.raises(InvalidDataError, match="samples, features"):
        gen.swirl(np.zeros(3))
    with pytest.raises(OptionError, match="strength"):
        gen.swirl(np.zeros((3, 2)), float("nan"))
