"""The live panel, headless: scripted events in, widget arrays and messages out."""

import numpy as np
import pytest
from ipywidgets import Widget

import nmi_jupyter as nmi
from nmi_jupyter.engine.events import EpochEnded, RunEnded, RunStarted
from nmi_jupyter.widgets.buffers import EventBuffer, Throttle, decimate
from nmi_jupyter.widgets.training_panel import GAMMA_COLOURS, TrainingPanel


def _script(n_epochs=30, run_id=0, gamma=None, chunk=None, best=None, stop="early_stopping"):
    train = np.linspace(0.1, 2.0, n_epochs)
    val = train - 0.1
    yield RunStarted(run_id, 900, 100, 50, 10, "bits", gamma, chunk)
    for e in range(n_epochs):
        b = min(e, best) if best is not None else e
        yield EpochEnded(
            run_id,
            e,
            float(train[e]),
            float(val[e]),
            tuple(val[: e + 1]),
            b,
            e - b,
            0.1 * (e + 1),
            "bits",
            gamma,
            chunk,
        )
    yield RunEnded(
        run_id,
        2.0,
        1.9,
        best if best is not None else n_epochs - 1,
        n_epochs,
        stop,
        3.0,
        "bits",
        gamma,
        chunk,
    )


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def messages(monkeypatch):
    sent = []
    monkeypatch.setattr(Widget, "_send", lambda self, msg, buffers=None: sent.append(msg))
    return sent


def test_estimate_panel_draws_curves_and_best_epoch():
    panel = TrainingPanel("estimate", interval=0.0)
    for event in _script(30, best=20):
        panel(event)
    np.testing.assert_allclose(panel.train_line.y, np.linspace(0.1, 2.0, 30))
    np.testing.assert_allclose(panel.val_line.y, np.linspace(0.1, 2.0, 30) - 0.1)
    assert list(panel.best_mark.x) == [20, 20]
    assert "epoch 30" in panel.status.value and "9/10" in panel.status.value


def test_throttle_limits_redraws_and_messages(messages):
    clock = FakeClock()
    panel = TrainingPanel("estimate")
    panel.throttle = Throttle(0.1, clock)
    for event in _script(200):
        panel(event)  # all within the same instant: one redraw, plus the final one
    throttled = len(messages)
    assert panel.redraws == 2
    messages.clear()
    eager = TrainingPanel("estimate", interval=0.0)
    for event in _script(200):
        eager(event)
    assert eager.redraws >= 200
    assert throttled * 20 < len(messages)


def test_throttle_allows_about_ten_per_second():
    clock = FakeClock()
    throttle = Throttle(0.1, clock)
    ready = 0
    for step in range(1000):  # 1000 events over 2 simulated seconds
        clock.now = step * 0.002
        ready += throttle.ready()
    assert 19 <= ready <= 21


def test_long_histories_are_decimated():
    panel = TrainingPanel("estimate", interval=0.0, max_points=100)
    for event in _script(2000):
        panel.buffer(event)
    panel.redraw()
    assert len(panel.train_line.y) <= 101 and panel.train_line.x[-1] == 1999
    x, y = decimate(np.arange(10.0), 100)
    assert len(x) == 10


def test_rigorous_panel_groups_runs_by_gamma():
    panel = TrainingPanel("rigorous", total_runs=4, interval=0.0)
    run_id = 0
    for gamma, chunks in ((1, 1), (2, 2)):
        for chunk in range(chunks):
            for event in _script(10 + run_id, run_id=run_id, gamma=gamma, chunk=chunk):
                panel(event)
            run_id += 1
    assert np.asarray(panel.curves.y).shape == (3, 12)
    assert len(panel.curves.colors) == 3
    np.testing.assert_allclose(panel.points.x, [1, 2, 2])
    assert "3 of 4 runs done" in panel.status.value and "1 waiting" in panel.status.value
    assert "gamma 2" in panel.overview.value


def test_rigorous_panel_extrapolates_the_finished_runs_as_they_come():
    from nmi_jupyter.engine.extrapolate import fit_gamma_line

    panel = TrainingPanel("rigorous", total_runs=6, interval=0.0)
    for event in _script(5, run_id=0, gamma=1, chunk=0):
        panel(event)
    assert len(panel.fit_line.x) == 0  # one gamma: nothing to extrapolate yet
    ends = {1: 2.0, 2: 2.3, 3: 2.5}
    run_id = 1
    for gamma in (2, 3):
        for chunk in range(gamma):
            for event in _script(5, run_id=run_id, gamma=gamma, chunk=chunk):
                if isinstance(event, RunEnded):  # MI grows with gamma: the finite-data bias
                    event = RunEnded(
                        run_id, ends[gamma], 1.9, 4, 5, "early_stopping", 1.0, "bits", gamma, chunk
                    )
                panel(event)
            run_id += 1
    done = [t for t in panel.buffer.runs.values() if t.status == "done"]
    fit = fit_gamma_line(
        [t.gamma for t in done], [t.mi for t in done], use=[1, 2, 3], min_gamma_points=2
    )
    assert panel.fit_point.y[0] == pytest.approx(fit.mi) and fit.mi < 2.0
    np.testing.assert_allclose(panel.fit_line.x, [0, 3])
    assert f"{fit.mi:.3f}" in panel.points_figure.title


def test_stop_button_calls_back():
    stopped = []
    panel = TrainingPanel("estimate", stoppable=True, on_stop=lambda: stopped.append(True))
    assert panel.stop_button.layout.display == ""
    panel.stop_button.click()
    assert stopped == [True] and panel.state == "stopping" and panel.stop_button.disabled


def test_finish_shows_interrupted_and_a_png_fallback():
    x, y = nmi.generators.correlated_gaussians(600, 2, 1.0, seed=0)

    def interrupt(event):
        panel(event)
        if isinstance(event, EpochEnded) and event.epoch == 1:
            raise KeyboardInterrupt

    panel = TrainingPanel("estimate", interval=0.0)
    result = nmi.estimate(x, y, epochs=10, batch_size=32, hidden_dim=8, seed=0, observer=interrupt)
    panel.finish(result)
    assert "interrupted" in panel.status.value
    bundle = panel.mimebundle(result)
    import base64

    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "MI estimate" in bundle["text/plain"]


def test_buffer_tracks_status():
    buffer = EventBuffer()
    for event in _script(5, run_id=0, gamma=1, chunk=0, stop="cancelled"):
        buffer(event)
    assert buffer.runs[0].status == "stopped" and buffer.by_status()["stopped"] == 1


def test_panel_follows_an_analysis_on_an_executor():
    """Units come back in any order and a failed unit's runs never start: every run
    still ends up in the panel, failed ones as stopped."""
    import concurrent.futures as cf
    import warnings

    x, y = nmi.generators.correlated_gaussians(900, 2, 1.0, seed=0)
    options = {"gammas": [1, 2, 3], "epochs": 3, "batch_size": 32, "seed": 0, "control": False}

    class FailGammaTwo(cf.ThreadPoolExecutor):
        def submit(self, fn, /, unit, *args):
            if unit.plan.runs[0].gamma == 2:
                raise ConnectionError("worker lost")
            return super().submit(fn, unit, *args)

    panel = TrainingPanel("rigorous", total_runs=6, interval=0.0)
    with FailGammaTwo(2) as pool, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = nmi.rigorous(x, y, executor=pool, observer=panel, **options)
    panel.finish(result)
    counts = panel.buffer.by_status()
    assert counts == {"done": 4, "running": 0, "stopped": 2}
    assert {t.stop_reason for t in panel.buffer.runs.values() if t.gamma == 2} == {"failed"}
    assert np.asarray(panel.curves.y).shape[0] == 4  # curves of the runs that trained


def test_curves_end_on_a_finite_point_so_the_browser_gets_no_undefined():
    """bqplot writes each curve's label at its last point: NaN padding there became
    ``translate(x,undefined)``, about 1,000 browser errors per rigorous run."""
    panel = TrainingPanel("rigorous", total_runs=3, interval=0.0)
    for run_id, n in enumerate((6, 9, 12)):
        for event in _script(n, run_id=run_id, gamma=run_id + 1, chunk=0):
            panel(event)
    xs, ys = np.asarray(panel.curves.x), np.asarray(panel.curves.y)
    assert xs.shape == ys.shape == (3, 12)
    assert np.isfinite(xs).all() and np.isfinite(ys).all()
    assert list(xs[:, -1]) == [5, 8, 11]  # each curve ends where its run ended
    np.testing.assert_allclose(panel.epoch_axis.tick_values % 1, 0)  # whole epochs


def test_status_counts_runs_and_controls_apart_and_keys_the_gamma_colours():
    panel = TrainingPanel("rigorous", total_runs=4, interval=0.0, controls=1)
    for event in _script(5, run_id=0, gamma=1, chunk=0):
        panel(event)
    assert "1 of 3 runs done</b> + 0 of 1 shuffled controls" in panel.status.value
    assert "gamma:" in panel.key.value and GAMMA_COLOURS[9] in panel.key.value


def test_no_red_training_now_curve_while_runs_train_together():
    panel = TrainingPanel("rigorous", total_runs=2, interval=0.0)
    scripts = [list(_script(6, run_id=i, gamma=2, chunk=i))[:-1] for i in (0, 1)]
    for a, b in zip(*scripts, strict=True):  # batched: epochs interleave
        panel(a)
        panel(b)
    assert len(panel.highlight.y) == 0
    only = TrainingPanel("rigorous", total_runs=1, interval=0.0)
    for event in list(_script(6, run_id=0, gamma=1, chunk=0))[:-1]:
        only(event)
    assert len(only.highlight.y) == 6


def _rigorous(**options):
    x, y = nmi.generators.correlated_gaussians(900, 2, 1.0, seed=0)
    base = {"gammas": [1, 2, 3], "epochs": 2, "batch_size": 32, "seed": 0, "control": False}
    return nmi.rigorous(x, y, **{**base, **options})


def test_finish_with_the_fit_below_gives_way_to_it():
    result = _rigorous()
    panel = TrainingPanel("rigorous", total_runs=6, interval=0.0)
    panel.finish(result, fit_below=True)
    assert "6 runs</b> trained" in panel.status.value and "fit panel below" in panel.status.value
    assert f"{result.mi:.3f}" not in panel.status.value  # no number to go stale
    bundle = panel.mimebundle(result, fit_below=True)
    assert "Corrected MI" not in bundle["text/plain"] and "fit panel below" in bundle["text/plain"]
    import base64

    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"


def test_a_stop_before_any_fit_is_said_in_words():
    import dataclasses

    result = dataclasses.replace(_rigorous(), fit=None, stop_reason="interrupted")
    panel = TrainingPanel("rigorous", total_runs=6, interval=0.0)
    panel.finish(result)
    text = panel.status.value
    assert "nan" not in text and "interrupted" in text and "no corrected MI yet" in text


def test_text_progress_appears_only_with_the_first_event(monkeypatch):
    import IPython.display

    from nmi_jupyter.widgets.text_progress import TextProgress

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a))
    progress = TextProgress(total_runs=1)
    assert shown == []  # nothing drawn before the engine has checked the options
    progress(next(_script(3)))
    assert len(shown) == 1


# ----- one panel per analysis, sharing a small base (issue 17) -----
def test_each_mode_has_its_own_panel_sharing_the_base():
    from nmi_jupyter.widgets.estimate_panel import EstimatePanel
    from nmi_jupyter.widgets.rigorous_panel import RigorousPanel

    estimate, rigorous = TrainingPanel("estimate"), TrainingPanel(mode="rigorous", total_runs=3)
    assert type(estimate) is EstimatePanel and type(rigorous) is RigorousPanel
    assert isinstance(estimate, TrainingPanel) and isinstance(rigorous, TrainingPanel)
    assert estimate.mode == "estimate" and rigorous.mode == "rigorous"
    # each shows only its own marks: no mode flag switching between two panels
    assert not hasattr(estimate, "curves") and not hasattr(rigorous, "train_line")
    assert EstimatePanel(interval=0.0).mode == "estimate"  # the class may be used directly
    with pytest.raises(ValueError, match="'estimate' or 'rigorous'"):
        TrainingPanel("sweep")
    with pytest.raises(ValueError, match="not 'rigorous'"):
        EstimatePanel("rigorous")


def _contrast(colour, background):
    def luminance(hex_colour):
        rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        rgb = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return float(rgb @ [0.2126, 0.7152, 0.0722])

    high, low = sorted([luminance(colour), luminance(background)], reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("background", ["#ffffff", "#111111"])  # JupyterLab light, dark
def test_panel_colours_stand_out_in_the_light_and_the_dark_theme(background):
    # Issue 16, point 6: gamma 1 (#440154, 1.1:1 on dark) vanished in the dark theme;
    # 3:1 is WCAG's least contrast for graphics.
    from nmi_jupyter.widgets import colours

    for colour in [*GAMMA_COLOURS, colours.TRAIN, colours.VAL, colours.FIT, colours.MUTED]:
        assert _contrast(colour, background) >= 3.0, colour
    for colour in (colours.DROPPED, colours.BOUND):
        assert _contrast(colour, background) >= 3.0, colour


def test_the_validation_curve_and_its_legend_entry_are_not_faint():
    panel = TrainingPanel("estimate")
    assert min(panel.val_line.opacities) >= 0.8  # was 0.35: a pale legend entry
    rigorous = TrainingPanel("rigorous")
    assert rigorous.fit_point.colors != ["black"]  # invisible on a dark background


def test_live_panels_are_built_by_short_constructors():
    import inspect

    from nmi_jupyter.widgets.estimate_panel import EstimatePanel
    from nmi_jupyter.widgets.rigorous_panel import RigorousPanel

    for function in (
        TrainingPanel.__init__,
        EstimatePanel._figures,
        RigorousPanel._figures,
        RigorousPanel._draw,
    ):
        assert len(inspect.getsourcelines(function)[0]) < 100, function


def test_the_gamma_axis_shows_whole_gammas_up_to_the_largest_started():
    panel = TrainingPanel("rigorous", total_runs=4, interval=0.0)
    for event in _script(3, run_id=0, gamma=3, chunk=0):
        panel(event)
    assert list(panel.gamma_axis.tick_values) == [0, 1, 2, 3]
    assert panel.gamma_scale.max == 3.5


# ----- a rigorous analysis's critic search trains the analysis again (issue 18) -----
def test_a_critic_search_starts_the_panel_over_and_says_so():
    from dataclasses import replace

    panel = TrainingPanel("rigorous", total_runs=3, interval=0.0, controls=0)
    for run_id in (0, 1, 2):
        for event in _script(4, run_id=run_id, gamma=run_id + 1, chunk=0):
            panel(event)
    assert "3 of 3 runs done" in panel.status.value
    assert "critic search" not in panel.status.value
    # the first smaller critic: its runs carry candidate 1 and new run ids
    events = list(_script(4, run_id=3, gamma=1, chunk=0))
    panel(replace(events[0], candidate=1))
    assert panel.buffer.candidate == 1 and list(panel.buffer.runs) == [3]
    for event in events[1:]:
        panel(event)
    assert "critic search: smaller critic 1 of 2" in panel.status.value
    assert "1 of 3 runs done" in panel.status.value


def test_text_progress_counts_again_for_each_smaller_critic(monkeypatch):
    from dataclasses import replace

    import IPython.display

    from nmi_jupyter.widgets.text_progress import TextProgress

    class Handle:
        def update(self, obj):
            shown.append(str(obj.data))

    shown = []

    def display(obj, display_id=False):
        shown.append(str(obj.data))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    progress = TextProgress(total_runs=2, interval=0.0)
    for run_id in (0, 1):
        for event in _script(2, run_id=run_id, gamma=run_id + 1, chunk=0):
            progress(event)
    assert shown[-1].startswith("2/2 runs finished")
    events = list(_script(2, run_id=2, gamma=1, chunk=0))
    progress(replace(events[0], candidate=2))
    assert shown[-1] == "critic search, smaller critic 2 of 2: 0/2 runs finished"
    for event in events[1:]:
        progress(event)
    assert shown[-1].startswith("critic search, smaller critic 2 of 2: 1/2 runs finished")


def test_the_finished_panel_says_every_critic_of_a_search_trained():
    import dataclasses

    x, y = nmi.generators.correlated_gaussians(n=1000, dim=2, mi=1.0, seed=0)
    result = nmi.rigorous(
        x, y, gammas=(1, 2, 3), seed=0, epochs=2, batch_size=32, hidden_dim=8, device="cpu"
    )
    record = {"reason": "", "chosen": 0, "candidates": [{"options": {}, "mi": 1.0, "gap": 0.1}] * 3}
    searched = dataclasses.replace(result, settings={**result.settings, "critic_choice": record})
    panel = TrainingPanel("rigorous", total_runs=9, interval=0.0, controls=3)
    panel.finish(searched, fit_below=True)
    assert "for each of 3 critics (critic search" in panel.status.value
    plain = TrainingPanel("rigorous", total_runs=9, interval=0.0, controls=3)
    plain.finish(result, fit_below=True)
    assert "critic search" not in plain.status.value
