"""The live panel of a sweep or a dimensionality analysis (issue 19), headless: scripted
and real engine events in, bqplot arrays, progress lines and pictures out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell

import nmi_jupyter as nmi
from nmi_jupyter.engine.events import CancelToken, EpochEnded, RunEnded, RunStarted
from nmi_jupyter.engine.sweep import grid_points
from nmi_jupyter.widgets.sweep_live_panel import PointMap, SweepLivePanel
from nmi_jupyter.widgets.training_panel import TrainingPanel

TINY = {"epochs": 2, "hidden_dim": 8, "batch_size": 64, "seed": 0, "threads": 1}


def _run(run_id, mi, epochs=3, gamma=1, control=False, stop="early_stopping", curve=None):
    """The events of one run ending with ``mi``."""
    curve = np.linspace(0.1, mi if math.isfinite(mi) else 1.0, epochs) if curve is None else curve
    yield RunStarted(run_id, 900, 100, 50, 10, "bits", gamma, 0, control)
    for e in range(epochs):
        yield EpochEnded(
            run_id,
            e,
            curve[e],
            curve[e],
            tuple(curve[: e + 1]),
            e,
            0,
            0.1,
            "bits",
            gamma,
            0,
            control,
        )
    yield RunEnded(run_id, mi, mi, epochs - 1, epochs, stop, 0.3, "bits", gamma, 0, control)


def _feed(panel, *runs):
    for run in runs:
        for event in run:
            panel(event)


def _sent_arrays(panel):
    """Every x/y array of every mark the panel's figures send to the browser."""
    for figure in panel.figures:
        for mark in figure.marks:
            for name in ("x", "y"):
                yield np.asarray(getattr(mark, name), dtype=float)


# ----- which grid point a run belongs to -----
def test_point_map_finds_points_from_consecutive_run_ids():
    repeats = PointMap(3)
    assert [repeats(i) for i in range(9)] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # rigorous points of 6 runs; the first has 3 controls (ids 6-8), the second none
    rigorous = PointMap(6, controls=3)
    ids = [(i, False) for i in range(6)] + [(6, True), (7, True), (8, True)]
    ids += [(i, False) for i in range(9, 15)] + [(i, False) for i in range(15, 21)]
    assert [rigorous(i, c) for i, c in ids] == [0] * 9 + [1] * 6 + [2] * 6


def test_point_map_when_a_points_runs_arrive_out_of_order():
    # an executor may start a point's later runs first; the next point still begins
    # after the highest run of the previous one
    points = PointMap(4)
    assert [points(i) for i in (2, 0, 3, 1, 6, 4, 5, 7)] == [0, 0, 0, 0, 1, 1, 1, 1]


# ----- drawing -----
def test_points_fill_in_with_error_bars_and_a_second_key_as_series():
    grid = {"embedding_dim": [1, 2, 4], "lr": [1e-3, 1e-4]}
    panel = SweepLivePanel(grid_points(grid), 2, interval=0.0)
    assert len(panel.series_lines) == 2
    assert [line.labels for line in panel.series_lines] == [["lr=0.001"], ["lr=0.0001"]]
    # point 0 (embedding_dim=1, lr=1e-3): runs 0, 1; point 1 (dim 1, lr 1e-4): runs 2, 3
    _feed(panel, _run(0, 1.0), _run(1, 1.2), _run(2, 0.5))
    first, second = panel.series_lines
    np.testing.assert_allclose(first.x, [1.0])
    np.testing.assert_allclose(first.y, [1.1])
    np.testing.assert_allclose(second.y, [0.5])  # one finished run: a point, no bar
    sem = np.std([1.0, 1.2], ddof=1) / math.sqrt(2)
    np.testing.assert_allclose(np.ravel(panel.error_bars.y), [1.1 - sem, 1.1 + sem])
    assert "1 of 6 grid points done" in panel.status.value
    assert "3 done, 0 training, 9 waiting" in panel.status.value
    _feed(panel, _run(3, 0.7), _run(4, 2.0), _run(5, 2.2))
    np.testing.assert_allclose(first.x, [1.0, 2.0])
    np.testing.assert_allclose(first.y, [1.1, 2.1])
    assert "3 of 6 grid points done" in panel.status.value  # points 0, 1 and 2


def test_overview_shows_each_points_runs_done_training_waiting():
    panel = SweepLivePanel(grid_points({"embedding_dim": [1, 2]}), 3, interval=0.0)
    events = list(_run(0, 1.0)) + list(_run(1, 1.1))[:2]  # run 1 still training
    _feed(panel, events)
    overview = panel.overview.value
    assert "embedding_dim=1: &#9679;&#9680;&#9675;" in overview  # done, training, waiting
    assert "embedding_dim=2: &#9675;&#9675;&#9675;" in overview
    assert "1 training" in panel.status.value


def test_no_nan_or_infinite_value_reaches_the_browser():
    grid = {"embedding_dim": [1, 2, 3]}
    panel = SweepLivePanel(grid_points(grid), 2, interval=0.0)
    nan_curve = np.array([np.nan, np.nan, np.nan])
    _feed(
        panel,
        _run(0, math.nan, stop="diverged", curve=nan_curve),  # a diverged run: no number
        _run(1, 1.0),  # the point has one finite run: a point, no error bar (SEM is NaN)
        _run(2, math.nan, stop="diverged"),
        _run(3, math.nan, stop="diverged"),  # a point without any number
        _run(4, math.inf, curve=np.array([0.1, np.inf, 0.3])),
    )
    panel.redraw()
    for array in _sent_arrays(panel):
        assert np.isfinite(array).all(), array
    assert [p[0] for p in panel.drawn_points()] == [0]


def test_a_rigorous_sweep_shows_each_points_extrapolation():
    panel = SweepLivePanel(
        grid_points({"embedding_dim": [1, 2]}), 3, controls_per_point=3, rigorous=True, interval=0.0
    )
    # gammas 1, 2: one run at gamma 1 (MI 1.0), two at gamma 2 (MI 1.2): line to 0.8
    _feed(panel, _run(0, 1.0, gamma=1), _run(1, 1.2, gamma=2), _run(2, 1.2, gamma=2))
    _feed(panel, _run(3, 9.0, gamma=2, control=True))  # a control: not in the line
    np.testing.assert_allclose(panel.series_lines[0].y, [0.8])
    assert "extrapolated" in panel.points_figure.title
    _feed(panel, _run(4, 2.0, gamma=1))  # the next point, after one control
    assert [len(p.runs) for p in panel.points] == [4, 1]


def test_a_first_key_of_words_gets_its_own_ticks():
    grid = {"estimator": ["infonce", "smile"], "embedding_dim": [2, 4]}
    panel = SweepLivePanel(grid_points(grid), 1, interval=0.0)
    assert panel.value_axis.tick_labels == {"0": "infonce", "1": "smile"}
    _feed(panel, _run(0, 1.0), _run(1, 1.5), _run(2, 1.1))
    np.testing.assert_allclose(panel.series_lines[0].x, [0.0, 1.0])  # embedding_dim=2
    np.testing.assert_allclose(panel.series_lines[1].x, [0.0])


def test_the_panel_is_a_training_panel_with_stop():
    called = []
    panel = SweepLivePanel(
        grid_points({"embedding_dim": [1]}), 1, stoppable=True, on_stop=lambda: called.append(1)
    )
    assert isinstance(panel, TrainingPanel)
    panel.stop_button.click()
    assert called == [1] and panel.state == "stopping"


# ----- with the engine -----
@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(600, 2, 1.0, seed=0)


def test_a_real_sweep_fills_the_panel_with_the_results_numbers(data):
    grid = {"embedding_dim": [1, 2], "lr": [1e-3, 2e-3]}
    panel = SweepLivePanel(grid_points(grid), 2, interval=0.0)
    result = nmi.sweep(*data, grid=grid, repeats=2, observer=panel, **TINY)
    panel.finish(result)
    frame = result.to_frame()
    for s, lr in enumerate(grid["lr"]):
        rows = frame[frame.lr == lr]
        np.testing.assert_allclose(panel.series_lines[s].y, rows.mi)
    text = panel.status.value
    assert "4 of 4 grid points" in text and "panel below" in text and "MI =" not in text
    bundle = panel.mimebundle(result, fit_below=True)
    assert "image/png" in bundle and "application/vnd.jupyter.widget-view+json" in bundle
    assert "4 of 4 grid points" in bundle["text/plain"]


def test_a_stopped_sweep_says_the_finished_points_are_kept(data):
    grid = {"embedding_dim": [1, 2, 3]}
    token = CancelToken()
    panel = SweepLivePanel(grid_points(grid), 2, interval=0.0)

    def observe(event):
        panel(event)
        if isinstance(event, RunEnded) and event.run_id == 2:  # the second point started
            token.cancel()

    # points one after another (batched=False), so a point can finish before the stop
    result = nmi.sweep(
        *data, grid=grid, repeats=2, observer=observe, cancel=token, batched=False, **TINY
    )
    panel.finish(result)
    assert result.stopped and 1 <= len(result.points) < 3
    assert "cancelled" in panel.status.value and "kept" in panel.status.value
    assert "image/png" in panel.mimebundle(result)


def test_a_dimensionality_analysis_in_the_panel():
    x = nmi.generators.latent_channels(600, 1, 6, seed=0, pair=False)
    panel = SweepLivePanel(
        [{"embedding_dim": d} for d in range(1, 5)], 2, dimensionality=True, interval=0.0
    )
    result = nmi.dimensionality(x, embedding_dims=range(1, 5), splits=2, observer=panel, **TINY)
    panel.finish(result)
    np.testing.assert_allclose(panel.series_lines[0].y, result.sweep.mi)
    assert "4 of 4 embedding dims" in panel.status.value


# ----- the magic -----
@pytest.fixture
def ip(monkeypatch, data):
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    shell.user_ns["x"], shell.user_ns["y"] = data
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


def test_the_magic_shows_the_live_panel_then_the_results_panel(ip):
    from nmi_jupyter.widgets.sweep_panel import SweepPanel

    ip.run_cell_magic(
        "neuralmi",
        "x y --mode sweep --epochs 2 --hidden-dim 8 --seed 0 -o sw",
        'grid = {"embedding_dim": [1, 2]}\nrepeats = 2',
    )
    shown = _widgets_shown(ip.shown)
    assert isinstance(shown[0], SweepLivePanel) and isinstance(shown[-1], SweepPanel)
    live = shown[0]
    np.testing.assert_allclose(live.series_lines[0].y, ip.user_ns["sw"].mi)
    widget_outputs = [d for d in ip.shown if "application/vnd.jupyter.widget-view+json" in d]
    assert all("image/png" in d for d in widget_outputs[-2:])  # each view keeps a picture


def test_the_magic_without_widgets_keeps_text_progress(ip):
    ip.run_line_magic(
        "neuralmi",
        "x None --mode dimensionality --no-widgets --epochs 2 --hidden-dim 8 --seed 0 "
        "--embedding-dims 1-4 --splits 2 -o d",
    )
    assert not any(isinstance(w, SweepLivePanel) for w in _widgets_shown(ip.shown))
    assert any("text/plain" in d and "runs finished" in d["text/plain"] for d in ip.shown)


def test_the_results_panel_sends_no_nan_for_a_point_without_a_number(data):
    import dataclasses

    result = nmi.sweep(*data, grid={"embedding_dim": [1, 2]}, repeats=2, **TINY)
    first = result.points[0]
    diverged = tuple(dataclasses.replace(r, stop_reason="diverged") for r in first.runs)
    broken = dataclasses.replace(
        result, points=(dataclasses.replace(first, runs=diverged), *result.points[1:])
    )
    assert math.isnan(broken.points[0].mi)
    panel = broken.panel()
    for mark in panel.figure.marks:
        for name in ("x", "y"):
            assert np.isfinite(np.asarray(getattr(mark, name), dtype=float)).all()


def test_a_lag_scans_critic_search_starts_the_panel_over_for_each_smaller_critic():
    # A rigorous lag scan whose default critic memorised at its strongest lag trains the
    # scan again with each smaller critic; their runs carry candidate k and ids numbered
    # after the scans before.  The points start over and the status says so.
    from dataclasses import replace

    panel = SweepLivePanel(grid_points({"lag": [-1, 0]}), 2, rigorous=True, interval=0.0)
    _feed(panel, _run(0, 1.0), _run(1, 1.2, gamma=2), _run(2, 2.0), _run(3, 2.4, gamma=2))
    panel.redraw()
    assert [len(p.runs) for p in panel.points] == [2, 2]
    assert "critic search" not in panel.status.value

    def tagged(run):
        for event in run:
            yield replace(event, candidate=1) if isinstance(event, RunStarted) else event

    _feed(panel, tagged(_run(4, 0.5)))
    panel.redraw()
    assert [len(p.runs) for p in panel.points] == [1, 0]
    assert "critic search: smaller critic 1 of 2" in panel.status.value
    _feed(panel, tagged(_run(5, 0.7, gamma=2)), tagged(_run(6, 1.5)))
    panel.redraw()
    assert [len(p.runs) for p in panel.points] == [2, 1]


def test_a_finished_lag_scan_with_a_critic_search_says_every_critic_trained(monkeypatch, data):
    import nmi_jupyter.engine.critic_search as critic_search
    from nmi_jupyter.widgets.sweep_panel import sweep_panel

    monkeypatch.setattr(critic_search, "FEW_PER_FEATURE", 1e9)
    monkeypatch.setattr(critic_search, "GAP_FRACTION", -math.inf)
    x, y = data
    # the default critic's size (a critic set by hand, as TINY's hidden_dim, is kept)
    options = {"epochs": 2, "batch_size": 64, "seed": 0, "gammas": [1, 2, 3, 4], "control": False}
    options["critic_search"] = True  # opt in
    panel = SweepLivePanel(grid_points({"lag": [0, 1]}), 10, rigorous=True, interval=0.0)
    result = nmi.lag(x, y, lags=[0, 1], rigorous=True, observer=panel, **options)
    panel.finish(result)
    assert "for each of 3 critics" in panel.status.value
    assert [len(p.runs) for p in panel.points] == [10, 10]
    assert "critic chosen from the data" in sweep_panel(result).readout.value
