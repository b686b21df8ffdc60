"""copula (the default): features rank-Gaussianised before training (MI is invariant to it)."""

import numpy as np
import pytest
from scipy import stats

import nmi_jupyter as nmi
from nmi_jupyter.engine.data import copula_normal
from nmi_jupyter.engine.errors import OptionError

TINY = {"epochs": 3, "batch_size": 64, "hidden_dim": 16, "embedding_dim": 8, "seed": 0}


def test_copula_normal_gives_standard_normal_columns_in_the_same_order():
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.standard_t(2, 5000), np.exp(rng.normal(size=5000) * 3)])
    z = copula_normal(data)
    assert z.shape == data.shape
    for j in range(2):
        assert stats.spearmanr(z[:, j], data[:, j]).statistic == pytest.approx(1.0)
        assert abs(z[:, j].mean()) < 1e-9 and z[:, j].std() == pytest.approx(1.0, abs=0.02)
        assert stats.kurtosis(z[:, j]) == pytest.approx(0.0, abs=0.1)  # heavy tails gone
    counts = np.array([[0.0], [3.0], [0.0], [1.0]])  # ties (spike counts) share a value
    tied = copula_normal(counts)[:, 0]
    assert tied[0] == tied[2] and tied[0] < tied[3] < tied[1]


def test_copula_results_do_not_depend_on_increasing_marginal_maps():
    """Only ranks enter, so a monotone transform of the data gives the identical run."""
    x, y = nmi.generators.correlated_gaussians(1500, 2, 1.0, seed=3)
    bent_x, bent_y = np.exp(2 * x), y**3  # increasing maps, feature by feature
    a = nmi.estimate(x, y, copula=True, **TINY)
    b = nmi.estimate(bent_x, bent_y, copula=True, **TINY)
    assert a.mi == b.mi and a.settings["copula"] is True
    assert nmi.estimate(bent_x, bent_y, **TINY).mi == a.mi  # it is the default
    plain = nmi.estimate(bent_x, bent_y, copula=False, **TINY)
    assert plain.mi != a.mi and plain.settings["copula"] is False  # raw bent features
    r = nmi.rigorous(bent_x, bent_y, copula=True, gammas=[1, 2, 3], **TINY)
    assert r.settings["copula"] is True


def test_the_magic_line_takes_copula():
    from nmi_jupyter.magic.parse import parse_line

    assert parse_line("x y --copula").options == {"copula": True}
    assert parse_line("x y --no-copula").options == {"copula": False}
    assert "copula" not in parse_line("x y").options  # unset: %config or the default decide


def test_copula_must_be_a_boolean():
    x, y = nmi.generators.correlated_gaussians(600, 2, 1.0, seed=0)
    with pytest.raises(OptionError, match="copula must be True or False"):
        nmi.estimate(x, y, copula="yes")
