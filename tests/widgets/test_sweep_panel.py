"""The sweep and dimensionality panels (issue 19): bqplot marks and the static picture."""

from __future__ import annotations

import pytest

import nmi_jupyter as nmi

TINY = {"epochs": 2, "hidden_dim": 8, "batch_size": 64, "seed": 0, "threads": 1}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(600, 2, 1.0, seed=0)


def test_sweep_panel_draws_a_line_per_second_key_with_error_bars(data):
    from nmi_jupyter.widgets.sweep_panel import SweepPanel

    result = nmi.sweep(*data, grid={"embedding_dim": [1, 2], "lr": [1e-3, 2e-3]}, repeats=2, **TINY)
    panel = result.panel()
    assert isinstance(panel, SweepPanel)
    assert len(panel.figure.marks) == 4  # two lines, each with its error bars
    bundle = panel.mimebundle()
    assert "image/png" in bundle and "sweep of embedding_dim, lr" in bundle["text/plain"]


def test_dimensionality_panel_marks_the_dimension(data):
    x = nmi.generators.latent_channels(600, 1, 6, seed=0, pair=False)
    result = nmi.dimensionality(x, embedding_dims=range(1, 5), splits=2, **TINY)
    panel = result.panel()
    assert "dimension" in panel.readout.value
    assert len(panel.figure.marks) >= 2 + 2  # the splits' curves, the mean and its bars
    assert "image/png" in panel.mimebundle()
