"""The best feature pair's Gaussian-copula MI: closed form, and a lower bound on I(X;Y)."""

import math

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.engine import data
from nmi_jupyter.engine.linear_bound import LinearBound, linear_bound


def test_one_dimensional_gaussian_gives_its_mi():
    # For a Gaussian pair the bound is exact: 2 bits within 3 standard errors.
    x, y = nmi.generators.correlated_gaussians(20000, 1, 2.0, seed=0)
    bound = linear_bound(x, y)
    mi, se = bound.in_units("bits")
    assert abs(mi - 2.0) < 3 * se and se < 0.02
    assert bound.pair == (0, 0) and bound.n == 20000


def test_it_stays_below_the_truth_in_many_dimensions():
    # 5 coordinate pairs share 5 bits: one pair holds 1 bit, the bound says ~1, not 5.
    x, y = nmi.generators.correlated_gaussians(10000, 5, 5.0, seed=1)
    mi, se = linear_bound(x, y).in_units("bits")
    assert mi == pytest.approx(1.0, abs=4 * se) and mi < 5.0
    # a 2-d latent with 2 bits pushed into 100 dimensions: every pair sees part of it
    # (the whole-block Gaussian-copula MI overshoots such data several times over)
    x, y = nmi.generators.nonlinear_latent(5000, 2, 100, 2.0, seed=0)
    assert 0 < linear_bound(x, y).in_units("bits")[0] < 2.0


def test_only_ranks_matter():
    x, y = nmi.generators.correlated_gaussians(3000, 2, 1.5, seed=2)
    plain = linear_bound(x, y)
    bent = linear_bound(np.exp(3 * x), y**3)
    assert bent.mi == pytest.approx(plain.mi, abs=1e-12) and bent.pair == plain.pair


def test_it_finds_the_one_dependent_pair():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4000, 3)), rng.normal(size=(4000, 4))
    y[:, 1] = 0.8 * x[:, 2] + 0.6 * y[:, 1]  # rho = 0.8
    bound = linear_bound(x, y)
    assert bound.pair == (2, 1)
    assert bound.mi == pytest.approx(-0.5 * math.log(1 - 0.64), abs=4 * bound.se)


def test_blocks_of_columns_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(500, 7)), rng.normal(size=(500, 3))
    y[:, 2] += x[:, 5]
    whole = linear_bound(x, y)
    monkeypatch.setattr(data, "_BLOCK_ELEMENTS", 1000)  # 2 columns of 500 samples at a time
    blocked = linear_bound(x, y)
    assert blocked.pair == whole.pair == (5, 2)
    assert blocked.mi == pytest.approx(whole.mi, rel=1e-12)


def test_independent_pairs_give_almost_nothing():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5000, 5)), rng.standard_t(3, size=(5000, 5))
    assert linear_bound(x, y).in_units("bits")[0] < 0.01


def test_plain_data_round_trip():
    bound = LinearBound(1.25, 0.01, (3, 4), 1000)
    assert LinearBound.from_dict(bound.to_dict()) == bound


def test_time_series_get_no_bound():
    # Two independent random walks: chance correlation makes the i.i.d. "bound" read
    # far above 0 bits (about 0.45 here), so blocked-split analyses do not compute it.
    rng = np.random.default_rng(0)
    x, y = np.cumsum(rng.normal(size=(3000, 2)), 0), np.cumsum(rng.normal(size=(3000, 2)), 0)
    assert linear_bound(x, y).in_units("bits")[0] > 0.1  # what it would wrongly say
    tiny = {"epochs": 2, "batch_size": 64, "hidden_dim": 8, "embedding_dim": 4, "seed": 0}
    assert nmi.estimate(x, y, split="blocked", **tiny).linear is None
    assert nmi.estimate(x, y, **tiny).linear is not None  # i.i.d. split: computed
