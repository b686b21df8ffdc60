"""%%neuralmi --mode lag (issue 20): lags in the body or on the line, the live panel with
lag on its axis, then the result's panel; mistakes as one UsageError sentence."""

from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nmi_jupyter as nmi
from nmi_jupyter.widgets.sweep_live_panel import SweepLivePanel
from nmi_jupyter.widgets.sweep_panel import SweepPanel

TINY = "--epochs 3 --hidden-dim 8 --batch-size 64 --seed 0 --threads 1"


@pytest.fixture
def ip(monkeypatch):
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    x, y = nmi.generators.lagged_gaussians(1200, lag=2, phi=0.3, mi=2.0, seed=0)
    shell.user_ns["x"], shell.user_ns["y"] = x, y
    shown: list[dict] = []
    original = shell.display_pub.publish

    def publish(data, metadata=None, *args, **kwargs):
        shown.append(data)
        return original(data, metadata, *args, **kwargs)

    monkeypatch.setattr(shell.display_pub, "publish", publish)
    shell.shown = shown
    yield shell
    shell.run_line_magic("unload_ext", "nmi_jupyter")


def _widgets_shown(bundles):
    from ipywidgets.widgets.widget import _instances

    ids = [
        d["application/vnd.jupyter.widget-view+json"]["model_id"]
        for d in bundles
        if "application/vnd.jupyter.widget-view+json" in d
    ]
    return [_instances[i] for i in ids if i in _instances]


def test_lags_in_the_body_live_panel_then_the_result_panel(ip):
    ip.run_cell_magic("neuralmi", f"x y --mode lag {TINY} --repeats 2 -o lg", "lags = range(-1, 5)")
    result = ip.user_ns["lg"]
    assert isinstance(result, nmi.LagResult) and result.lags == tuple(range(-1, 5))
    assert result.peak_lag == 2
    shown = _widgets_shown(ip.shown)
    live, final = shown[0], shown[-1]
    assert isinstance(live, SweepLivePanel) and isinstance(final, SweepPanel)
    assert "x leads y" in live.value_axis.label and "x leads y" in final.figure.axes[0].label
    np.testing.assert_allclose(live.series_lines[0].y, result.mi)  # every lag placed right
    assert "6 of 6 lags" in live.status.value


def test_lags_on_the_line_quietly(ip):
    ip.run_line_magic("neuralmi", f"x y --mode lag --quiet {TINY} --lags=-1..3 -o lg")
    assert ip.user_ns["lg"].lags == (-1, 0, 1, 2, 3)
    ip.run_line_magic("neuralmi", f"x y --mode lag --quiet {TINY} --lags range(0,4) -o lg")
    assert ip.user_ns["lg"].lags == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("line", "body", "message"),
    [
        ("x y --mode lag --quiet", "lags = 'soon'", "lags must be a list of integers"),
        ("x y --mode lag --quiet", "lags = range(-900, 900)", "no time point"),
        ("x y --mode rigorous --quiet", "lags = range(3)", "only apply to --mode lag"),
        ("x y --mode lag --quiet --lags 1:3", "#", "lags must look like"),
    ],
)
def test_mistakes_are_one_sentence(ip, line, body, message):
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("neuralmi", line, body)
