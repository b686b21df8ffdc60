"""The pairwise panel (issue 21): a heatmap whose cells, clicked, show that pair."""

from __future__ import annotations

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.widgets.fit_panel import FitPanel
from nmi_jupyter.widgets.pairwise_panel import PairwisePanel

TINY = {"epochs": 2, "hidden_dim": 8, "batch_size": 32, "seed": 0, "threads": 1}


def _channels(n: int = 600) -> np.ndarray:
    rng = np.random.default_rng(0)
    z = rng.normal(size=n)
    return np.column_stack([z + 0.5 * rng.normal(size=n), z + 0.5 * rng.normal(size=n),
                            rng.normal(size=n)])  # fmt: skip


@pytest.fixture(scope="module")
def result():
    return nmi.pairwise(_channels(), repeats=2, **TINY)


def _click(panel: PairwisePanel, row: int, column: int) -> None:
    """What bqplot sends when a GridHeatMap cell is clicked."""
    event = {"event": "element_click", "data": {"data": 0.0, "index": 0,
                                                "rowNum": row, "columnNum": column}}  # fmt: skip
    panel._on_click(panel.heatmap, event)


def test_heatmap_shows_the_matrix_and_a_click_selects_the_pair(result):
    panel = result.panel()
    assert isinstance(panel, PairwisePanel)
    np.testing.assert_array_equal(panel.heatmap.color, result.matrix)
    assert panel.selected is None and panel.fit_box.children == ()
    _click(panel, 2, 0)  # below the diagonal: the pair (0, 2)
    assert panel.selected == (0, 2)
    assert "x0-x2" in panel.pair_readout.value
    val = np.atleast_2d(panel.curves["val"].y)
    assert val.shape[0] == 2 and np.isfinite(val).all()  # one curve per repeat
    _click(panel, 1, 1)  # the diagonal holds no pair: nothing changes
    assert panel.selected == (0, 2)
    assert "image/png" in panel.mimebundle()
    assert "pairwise" in result._repr_html_()


def test_a_rigorous_pair_shows_its_fit_panel():
    x = _channels(800)
    result = nmi.pairwise(x[:, :2], x[:, 2:], rigorous=True, gammas=[1, 2, 3], control=False,
                          **TINY)  # fmt: skip
    assert result.matrix.shape == (2, 1)
    panel = PairwisePanel(result)
    panel.select(1, 0)
    assert panel.selected == (1, 0)
    (fit,) = panel.fit_box.children
    assert isinstance(fit, FitPanel)
    assert fit.result.mi == pytest.approx(result.matrix[1, 0])
