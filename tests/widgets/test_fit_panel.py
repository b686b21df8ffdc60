"""The fit panel, headless: drags and clicks through the widgets' own traits and handlers."""

import dataclasses
import math

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.widgets.fit_panel import DROPPED, USED, FitPanel

FAST = {"epochs": 4, "batch_size": 32, "hidden_dim": 16, "embedding_dim": 8, "device": "cpu"}


@pytest.fixture(scope="module")
def result():
    x, y = nmi.generators.correlated_gaussians(n=2000, dim=2, mi=1.0, seed=0)
    return nmi.rigorous(x, y, gammas=range(1, 9), seed=0, **FAST)


def test_initial_view_shows_the_automatic_fit(result):
    panel = FitPanel(result)
    assert panel.result is result
    np.testing.assert_allclose(panel.means.x, np.arange(1, 9))
    assert list(panel.corrected.y) == [pytest.approx(result.mi)]
    assert panel.handle.x[0] == pytest.approx(max(result.gammas_used) + 0.5)
    assert f"{result.mi:.4f}" in panel.readout.value


def test_dragging_the_handle_left_drops_the_tail_exactly_like_refit(result):
    changes = []
    panel = FitPanel(result, on_change=changes.append)
    panel.handle.x = [5.4]  # what the browser sends at the end of a drag
    expected = result.refit(exclude=[6, 7, 8])
    assert panel.result.fit == expected.fit
    assert panel.result.fit.mode == "manual" and changes[-1] is panel.result
    assert list(panel.means.colors) == [USED] * 5 + [DROPPED] * 3  # greyed out
    assert len(panel.runs_out.x) == 6 + 7 + 8
    assert panel.handle.x[0] == pytest.approx(5.5)  # snapped to the fit
    panel.handle.x = [8.2]  # drag right: restore
    assert panel.result.fit == result.refit(exclude=[]).fit


def test_the_handle_keeps_at_least_two_gammas(result):
    panel = FitPanel(result)
    panel.handle.x = [-3.0]
    assert panel.result.gammas_used == (1, 2)


def test_clicking_a_mean_toggles_that_gamma(result):
    panel = FitPanel(result)
    panel.means._handle_custom_msg({"event": "element_click", "data": {"index": 2}}, [])
    assert 3 not in panel.result.gammas_used
    assert (
        panel.result.fit
        == result.refit(exclude=[3] + sorted(set(range(1, 9)) - set(result.gammas_used))).fit
    )
    panel.means._handle_custom_msg({"event": "element_click", "data": {"index": 2}}, [])
    assert 3 in panel.result.gammas_used


def test_automatic_button_and_thresholds(result):
    panel = FitPanel(result)
    panel.handle.x = [4.5]
    panel.automatic.click()
    assert panel.result.fit == result.fit and panel.result.fit.mode == "automatic"
    panel.min_points.value = 3
    assert panel.result.fit == result.refit(min_gamma_points=3).fit
    panel.delta.value = 5.0
    assert panel.result.fit.delta_threshold == 5.0


def test_readout_badge_and_reasons(result):
    panel = FitPanel(result)
    panel.exclude([3, 4, 5, 6, 7, 8])  # two gammas left: too few, unreliable
    assert "not reliable" in panel.readout.value
    assert "fewer than min_gamma_points" in panel.readout.value
    assert "2 gammas used (manual)" in panel.readout.value
    # one badge per flag (red: unreliable, orange: warning), each with its sentence
    flags = panel.result.flags
    assert panel.readout.value.count("<li>") == len(flags) >= 2
    for flag in flags:
        assert f">{flag.code}</span> " in panel.readout.value
    assert "too_few_gammas</span>" in panel.readout.value
    assert "--jp-error-color1" in panel.readout.value


def test_at_the_ceiling_the_bar_runs_off_the_top(result):
    # The same runs 1 bit higher under batch_size 2: log2(2) = 1 bit, below them, so
    # InfoNCE is at its ceiling and the interval is one-sided: the bar at gamma = 0
    # reaches the top of the plot.
    d = result.to_dict()
    d["settings"] = {**d["settings"], "estimator": "infonce", "batch_size": 2}
    for run in d["runs"]:
        run["mi"] += 1.0
    capped = type(result).from_dict(d)
    assert capped.lower_bound_only
    panel = FitPanel(capped)
    assert panel.corrected_bar.y[0] == pytest.approx(capped.interval[0])
    assert panel.corrected_bar.y[1] == pytest.approx(panel.y_scale.max)
    assert "at least" in panel.readout.value and "one-sided" in panel.readout.value
    plain = FitPanel(result)
    np.testing.assert_allclose(plain.corrected_bar.y, result.fit.ci)
    assert "at least" not in plain.readout.value


def test_the_linear_lower_bound_is_drawn_when_the_estimate_falls_below_it(result):
    # A bound 1 bit above the estimate: flagged, drawn, and the plot reaches up to it.
    d = result.to_dict()
    d["linear"] = {"mi": (result.mi + 1.0) * math.log(2), "se": 0.001, "pair": [1, 0], "n": 2000}
    below = type(result).from_dict(d)
    assert below.below_linear_bound
    panel = FitPanel(below)
    assert list(panel.bound_line.y) == [pytest.approx(below.linear_mi)] * 2
    assert panel.y_scale.max > below.linear_mi
    assert "lower bound from one feature pair" in panel.readout.value
    assert "below_linear_bound</span>" in panel.readout.value
    # just under the estimate: no flag, drawn where it falls, the runs keep the range
    d["linear"] = {"mi": 0.9 * result.mi * math.log(2), "se": 0.001, "pair": [1, 0], "n": 2000}
    quiet = FitPanel(type(result).from_dict(d))
    plain = FitPanel(result)
    assert not quiet.result.below_linear_bound and len(quiet.bound_line.y) == 2
    assert (quiet.y_scale.min, quiet.y_scale.max) == (plain.y_scale.min, plain.y_scale.max)
    assert len(plain.bound_line.y) == 2  # the bound of the data itself (0.50 bits here)
    assert len(FitPanel(dataclasses.replace(result, linear=None)).bound_line.y) == 0
    assert "green dashes" in panel.readout.value
    assert "lower bound" not in FitPanel(dataclasses.replace(result, linear=None)).readout.value


def test_result_panel_method_and_no_fit(result):
    assert isinstance(result.panel(), FitPanel)
    import dataclasses

    with pytest.raises(ValueError, match="no fit"):
        FitPanel(dataclasses.replace(result, fit=None))


def test_magic_output_variable_follows_the_panel():
    from IPython.core.interactiveshell import InteractiveShell

    from nmi_jupyter.widgets import fit_panel

    shown = []
    original = fit_panel.FitPanel.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        shown.append(self)

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nmi_jupyter")
    ip.run_cell(
        "import nmi_jupyter as nmi\n"
        "x, y = nmi.generators.correlated_gaussians(1500, 2, 1.0, seed=0)"
    )
    fit_panel.FitPanel.__init__ = spy
    try:
        returned = ip.run_cell_magic(
            "neuralmi",
            "x y --mode rigorous --gammas 1-6 --seed 0 -o res",
            "epochs = 3\nbatch_size = 32\nhidden_dim = 8",
        )
    finally:
        fit_panel.FitPanel.__init__ = original
        ip.run_line_magic("unload_ext", "nmi_jupyter")
    res = ip.user_ns["res"]
    # The fit panel is the result's view: no static copy is returned to go stale.
    assert returned is None and isinstance(res, nmi.RigorousResult) and len(shown) == 1
    shown[0].handle.x = [4.5]
    assert ip.user_ns["res"].fit == res.refit(exclude=[5, 6]).fit


def test_a_clicked_hole_survives_dragging(result):
    panel = FitPanel(result)
    panel.exclude([])  # start from all gammas in
    panel._on_click(panel.means, {"data": {"index": 1}})  # drop gamma 2
    panel.handle.x = [6.5]
    assert panel.result.fit == result.refit(exclude=[2, 7, 8]).fit
    panel.handle.x = [8.5]
    assert panel.result.fit == result.refit(exclude=[2]).fit


def test_min_gammas_box_shows_the_value_the_fit_used(result):
    """A stopped analysis may have fewer gammas than min_gamma_points: the box must not
    clip it (it showed 4 while the flag said 5) nor refit with the clipped value."""
    few = result.refit(use=[1, 2, 3, 4])
    few = dataclasses.replace(few, runs=tuple(r for r in few.runs if r.gamma <= 4))
    assert few.fit.min_gamma_points == 5
    panel = FitPanel(few)
    assert panel.min_points.value == 5
    panel.exclude([])
    assert panel.result.fit.min_gamma_points == 5


class _Handle:
    def __init__(self, bundle):
        self.bundles = [bundle]

    def update(self, bundle, raw=False):
        self.bundles.append(bundle)


def test_displayed_panel_carries_a_picture_of_the_current_fit(result, monkeypatch):
    import base64

    import IPython.display

    handles = []

    def display(bundle, raw=False, display_id=False):
        handles.append(_Handle(bundle))
        return handles[-1]

    monkeypatch.setattr(IPython.display, "display", display)
    panel = FitPanel(result)
    panel._ipython_display_()
    (handle,) = handles
    first = handle.bundles[0]
    assert "application/vnd.jupyter.widget-view+json" in first
    assert base64.b64decode(first["image/png"])[:4] == b"\x89PNG"
    assert "FitPanel(" not in first["text/plain"] and "Corrected MI" in first["text/plain"]
    panel.handle.x = [3.5]  # a drag: the picture and the text follow it
    last = handle.bundles[-1]
    assert len(handle.bundles) == 2 and "fit (manual)" in last["text/plain"]
    assert (
        base64.b64decode(last["image/png"]) == panel.png() != base64.b64decode(first["image/png"])
    )


def test_the_confidence_band_shows_on_a_dark_background(result):
    # Issue 16, point 6: a 15 % fill without edges all but vanished in the dark theme.
    panel = FitPanel(result)
    assert panel.band.fill_opacities[0] >= 0.25 and panel.band.stroke_width > 0


def test_fit_panel_constructor_is_short():
    import inspect

    for function in (FitPanel.__init__, FitPanel._figure, FitPanel._controls):
        assert len(inspect.getsourcelines(function)[0]) < 100, function


def test_view_code_lives_in_widgets_not_in_the_engine(result):
    # Issue 17: JupyterLab CSS variables were in rigorous_result._badge, imported by the
    # fit panel.  The engine holds none; its HTML reprs come from widgets/html.py.
    from pathlib import Path

    import nmi_jupyter.engine as engine
    from nmi_jupyter.widgets.html import rigorous_html

    for path in Path(engine.__file__).parent.glob("*.py"):
        assert "--jp-" not in path.read_text(), path.name
    assert result._repr_html_() == rigorous_html(result)
    assert ">reliable</span>" in result._repr_html_() or ">not reliable</span>" in (
        result._repr_html_()
    )


def test_a_critic_chosen_from_the_data_is_said_in_the_readout(result):
    # A result whose settings record a critic search (rigorous mode, few samples per
    # feature): the readout names the kept critic and the candidates; others say nothing.
    assert "critic chosen" not in FitPanel(result).readout.value
    record = {
        "reason": "few samples per feature",
        "chosen": 1,
        "candidates": [
            {"options": {}, "mi": 3.44, "gap": 0.83, "reliable": True, "stop_reason": "completed"},
            {
                "options": {"n_layers": 1},
                "mi": 3.27,
                "gap": 0.70,
                "reliable": True,
                "stop_reason": "completed",
            },
        ],
    }
    searched = dataclasses.replace(result, settings={**result.settings, "critic_choice": record})
    readout = FitPanel(searched).readout.value
    assert "critic chosen from the data (n_layers=1)" in readout
    assert "the default critic: 3.440" in readout and "gap 0.700" in readout
    assert "critic chosen from the data" in searched.summary()
    back = nmi.RigorousResult.from_dict(searched.to_dict())
    assert back.critic_choice_text() == searched.critic_choice_text()
    # a candidate stopped by a cancel or Ctrl-C shows no number
    stopped = {**record["candidates"][1], "chosen": 0, "stop_reason": "interrupted"}
    record = {**record, "chosen": 0, "candidates": [record["candidates"][0], stopped]}
    text = dataclasses.replace(
        result, settings={**result.settings, "critic_choice": record}
    ).critic_choice_text()
    assert "n_layers=1: interrupted before it finished" in text and "3.270" not in text


def test_the_neighbour_estimate_is_in_the_readout_with_its_flag(result):
    # A KSG estimate 1 bit above the estimate's interval: the line, and the flag's badge.
    d = result.to_dict()
    d["neighbours"] = {"mi": (result.mi + 1.0) * math.log(2), "se": 0.001, "k": 3, "n": 2000}
    below = type(result).from_dict(d)
    panel = FitPanel(below)
    assert "nearest-neighbour estimate (KSG, no training" in panel.readout.value
    assert "below_neighbour_estimate</span>" in panel.readout.value
    d["neighbours"] = None
    assert "nearest-neighbour" not in FitPanel(type(result).from_dict(d)).readout.value


def test_the_neighbour_estimate_is_drawn_and_kept_in_view(result):
    d = result.to_dict()
    d["neighbours"] = {"mi": (result.mi + 1.0) * math.log(2), "se": 0.01, "k": 3, "n": 2000}
    shown = type(result).from_dict(d)
    panel = FitPanel(shown)
    assert list(panel.neighbours_point.y) == [pytest.approx(shown.neighbours.mi)]
    assert panel.y_scale.max > shown.neighbours.mi + shown.neighbours.se
    none = dataclasses.replace(result, neighbours=None)  # none computed: nothing drawn
    assert len(FitPanel(none).neighbours_point.y) == 0
    assert b"PNG" in panel.png()[:8]  # the saved picture draws it too (plots.py)
