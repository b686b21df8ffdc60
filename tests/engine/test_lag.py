"""nmi.lag (issue 20): the closed-form generator, the views (alignment, no training), the
sign convention, the peak and its interval, flags, save/load, bad input as one sentence."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.engine.lag import check_lags, lag_plan, lag_rows, lagged_view
from nmi_jupyter.engine.lag_result import peak_reading
from nmi_jupyter.engine.plan import View
from nmi_jupyter.engine.verdict import lag_flags
from nmi_jupyter.generators import lagged_gaussians, lagged_gaussians_mi, rho_for_mi

TINY = {"epochs": 3, "hidden_dim": 8, "batch_size": 64, "seed": 0, "threads": 1}


# ----- the closed-form process -----
def test_the_closed_form_matches_the_sample_correlation_at_every_lag():
    x, y = lagged_gaussians(100_000, lag=3, phi=0.8, mi=1.5, seed=1)
    n = len(x)
    lags = np.arange(-4, 11)
    truth = lagged_gaussians_mi(lags, lag=3, phi=0.8, mi=1.5)
    for k, mi in zip(lags, truth, strict=True):
        rows = lag_rows(n, [k])
        rho = np.corrcoef(x[rows, 0], y[rows + k, 0])[0, 1]
        assert rho == pytest.approx(rho_for_mi(mi), abs=0.01), k
    assert lags[np.argmax(truth)] == 3 and truth.max() == pytest.approx(1.5)
    assert x.std() == pytest.approx(1, abs=0.02) and y.std() == pytest.approx(1, abs=0.02)


def test_a_negative_lag_makes_y_lead_and_one_lag_gives_a_float():
    x, y = lagged_gaussians(50_000, lag=-2, phi=0.5, mi=1.0, seed=2)
    rows = lag_rows(len(x), [-2])
    assert np.corrcoef(x[rows, 0], y[rows - 2, 0])[0, 1] == pytest.approx(rho_for_mi(1.0), abs=0.01)
    assert isinstance(lagged_gaussians_mi(-2, lag=-2, phi=0.5, mi=1.0), float)
    with pytest.raises(nmi.OptionError, match="phi"):
        lagged_gaussians(10, phi=1.0)


# ----- views: which samples each lag pairs (no training) -----
def test_every_lag_uses_the_same_time_points():
    assert list(lag_rows(10, [-2, 0, 3])) == list(range(2, 7))
    assert list(lag_rows(10, [2, 5])) == list(range(0, 5))
    assert list(lag_rows(10, [-3, -1])) == list(range(3, 10))
    with pytest.raises(nmi.InsufficientDataError, match="no time point"):
        lag_rows(5, [-3, 3])


@pytest.mark.parametrize("gammas", [None, [1, 2]])
def test_each_run_pairs_x_at_t_with_y_at_t_plus_its_lag(gammas):
    n, lags = 2000, [-3, 0, 4]
    config = nmi.EstimateConfig(batch_size=32, split="blocked", seed=0)
    plan, per_lag = lag_plan(n, lags, config, 2, gammas=gammas)
    assert len(plan.runs) == per_lag * len(lags)
    time = np.arange(n, dtype=float)[:, None]
    valid = set(range(3, n - 4))
    for i, lag in enumerate(lags):
        block = plan.runs[i * per_lag : (i + 1) * per_lag]
        assert [r.run_id for r in block] == list(range(i * per_lag, (i + 1) * per_lag))
        for spec in block:
            xt, yt = spec.view.apply(time, time)
            assert set(xt[:, 0].astype(int)) <= valid
            if not spec.control:
                np.testing.assert_array_equal(yt - xt, lag)
            else:  # a shuffled control pairs x with y of another time point, lag later
                assert set((yt[:, 0] - lag).astype(int)) <= valid
                assert not np.all(yt - xt == lag)
    # the k-th run of every lag: the same seed, the same number of samples
    first, other = plan.runs[:per_lag], plan.runs[per_lag : 2 * per_lag]
    assert [r.seed for r in first] == [r.seed for r in other]
    assert [len(r.view.rows) for r in first] == [len(r.view.rows) for r in other]
    assert len({r.unit for r in plan.runs}) == len({r.unit for r in first}) * len(lags)


def test_a_lagged_view_keeps_columns_and_permutations():
    rows = np.arange(5, 15)
    view = lagged_view(View(np.array([0, 2]), np.array([2, 0]), (1,), (0,)), rows, 3)
    assert list(view.rows) == [5, 7] and list(view.y_rows) == [10, 8]
    assert (view.x_columns, view.y_columns) == ((1,), (0,))


# ----- the peak and its uncertainty (numbers only) -----
def test_the_peak_interval_holds_the_lags_within_two_combined_errors():
    lags = [-1, 0, 1, 2, 3]
    mi = [0.1, 0.5, 0.95, 1.0, 0.3]
    reading = peak_reading(lags, mi, [0.01, 0.02, 0.03, 0.03, 0.01])
    assert reading.peak_lag == 2 and reading.within == (1, 2) and reading.interval == (1, 2)
    tight = peak_reading(lags, mi, [0.001] * 5)  # the errors no longer reach 0.95
    assert tight.within == (2,)
    single = peak_reading(lags, mi, [math.nan] * 5)  # one run per lag: no error bar
    assert single.interval == (2, 2)
    assert peak_reading([0, 1], [math.nan, math.nan], [0, 0]).peak_lag is None


def test_a_second_peak_elsewhere_does_not_widen_the_peak_interval():
    lags = [-10, -9, 0, 9, 10]
    reading = peak_reading(lags, [0.98, 0.1, 0.1, 0.1, 1.0], [0.02] * 5)
    assert reading.peak_lag == 10 and reading.interval == (10, 10)


def test_a_peak_at_the_edge_is_flagged_and_no_information_too():
    (flag,) = lag_flags(lags=[0, 1, 2, 3], peak_lag=3, peak_mi=1.0, units="bits")
    assert flag.code == "peak_at_edge" and "outside the lags tried" in flag.message
    assert flag.unreliable
    assert lag_flags(lags=[0, 1, 2, 3], peak_lag=2, peak_mi=1.0, units="bits") == ()
    (flag,) = lag_flags(lags=[0, 1, 2], peak_lag=1, peak_mi=0.01, units="bits")
    assert flag.code == "no_information"


# ----- bad input: one sentence before any training -----
@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"lags": "0:5"}, nmi.OptionError, "lags must be a list of integers"),
        ({"lags": 3}, nmi.OptionError, "lags must be a list of integers"),
        ({"lags": []}, nmi.OptionError, "lags is empty"),
        ({"lags": [0, 1.5]}, nmi.OptionError, "each lag must be an integer"),
        ({"lags": [-500, 500]}, nmi.InsufficientDataError, "no time point"),
        ({"lags": [-280, 280]}, nmi.InsufficientDataError, "valid at every lag"),
        ({"gammas": [1, 2]}, nmi.OptionError, "rigorous=True"),
        ({"lag": [1, 2]}, nmi.OptionError, "did you mean"),
        ({"rigorous": True, "gammas": [1, 8]}, nmi.InsufficientDataError, "gamma = 8"),
    ],
)
def test_bad_options_are_one_sentence_before_training(options, error, message):
    x, y = lagged_gaussians(600, lag=1, seed=0)
    events = []
    with pytest.raises(error, match=message) as caught:
        nmi.lag(x, y, observer=events.append, **{**TINY, **options})
    text = str(caught.value)
    assert events == [] and "\n" not in text and text.endswith(".")


def test_lags_are_checked_and_sorted():
    assert check_lags(range(3, -3, -1)) == [-2, -1, 0, 1, 2, 3]
    assert check_lags([np.int64(2), 2.0, -1]) == [-1, 2]


# ----- a real (tiny) analysis -----
@pytest.fixture(scope="module")
def leading():
    x, y = lagged_gaussians(1500, lag=3, phi=0.3, mi=2.0, seed=0)
    return nmi.lag(x, y, lags=range(-2, 7), repeats=2, **TINY)


def test_x_leading_y_by_three_peaks_at_plus_three(leading):
    assert leading.peak_lag == 3
    assert leading.peak_lag_interval[0] <= 3 <= leading.peak_lag_interval[1]
    assert leading.lags == tuple(range(-2, 7)) and leading.n_samples == 1500 - 2 - 6
    frame = leading.to_frame()
    assert list(frame.columns[:5]) == ["lag", "mi", "mi_error", "n_runs", "verdict"]
    assert list(frame["lag"]) == list(range(-2, 7)) and frame["peak"].sum() == 1
    assert leading.settings["split"] == "blocked"  # a time series: blocked by default
    runs = leading.runs_frame()
    assert set(runs["n_samples"]) == {leading.n_samples}  # every lag as many samples


def test_y_leading_x_peaks_at_a_negative_lag():
    x, y = lagged_gaussians(1500, lag=-2, phi=0.3, mi=2.0, seed=1)
    result = nmi.lag(x, y, lags=range(-4, 3), repeats=1, **TINY)
    assert result.peak_lag == -2
    assert any(f.code == "one_run" for f in result.flags)  # one run: no error bar, said


def test_the_summary_plot_and_html_say_which_way_the_lag_runs(leading):
    import matplotlib

    matplotlib.use("Agg")
    assert "positive k: x leads y" in leading.summary()
    assert "peak lag: 3 (x leads y)" in leading.summary()
    assert "x leads y" in leading._repr_html_()
    ax = leading.plot(truth=lagged_gaussians_mi(leading.lags, lag=3, phi=0.3, mi=2.0))
    assert "x leads y" in ax.get_xlabel()


def test_save_and_load_round_trip(leading, tmp_path):
    path = tmp_path / "lag.json"
    leading.save(path)
    back = nmi.load(path)
    assert isinstance(back, nmi.LagResult)
    assert back.peak_lag == leading.peak_lag
    assert back.peak_lag_interval == leading.peak_lag_interval
    np.testing.assert_allclose(back.mi, leading.mi)
    assert back.to_dict() == leading.to_dict()


def test_rigorous_lags_are_rigorous_analyses():
    x, y = lagged_gaussians(1200, lag=1, phi=0.3, mi=2.0, seed=0)
    result = nmi.lag(x, y, lags=[0, 1, 2], rigorous=True, gammas=[1, 2], control=False, **TINY)
    assert all(p.rigorous is not None for p in result.sweep.points)
    assert result.peak_lag == 1 and result.sweep.rigorous
    assert "a rigorous analysis" in result.summary()


def test_the_rigorous_peak_rule_reads_standard_errors_not_half_widths():
    """The peak interval is two combined standard errors at any confidence level: a
    95 % level widens each lag's interval, not the lags within the peak's error."""
    x, y = lagged_gaussians(1200, lag=1, phi=0.3, mi=2.0, seed=0)
    options = dict(lags=[0, 1, 2], rigorous=True, gammas=[1, 2, 3], control=False, **TINY)
    narrow = nmi.lag(x, y, **options)
    wide = nmi.lag(x, y, confidence_level=0.95, **options)
    for point in wide.sweep.points:
        assert point.mi_se == pytest.approx(point.rigorous.fit.se_interval)
        assert point.mi_error > 1.5 * point.mi_se  # a 95 % half-width, about 2 errors
    np.testing.assert_allclose(wide.sweep.mi_se, narrow.sweep.mi_se)
    assert wide.peak_lags == narrow.peak_lags


def test_a_stopped_analysis_keeps_the_lags_that_finished():
    x, y = lagged_gaussians(800, lag=1, seed=0)
    token = nmi.CancelToken()

    def observe(event):
        if isinstance(event, nmi.RunEnded):
            token.cancel()

    result = nmi.lag(x, y, lags=range(0, 4), observer=observe, cancel=token, batched=False, **TINY)
    assert result.stopped and len(result.lags_done) < 4
    assert any(f.code == "partial" for f in result.flags)


def test_the_panel_puts_lag_on_the_x_axis(leading):
    panel = leading.panel()
    assert "x leads y" in panel.figure.axes[0].label
    assert "peak lag <b>3</b>" in panel.readout.value
    assert "image/png" in panel.mimebundle()


def test_the_verdict_is_the_peak_readings_not_every_lags(monkeypatch):
    # A lag whose MI lies below the peak by more than their error cannot be the peak: its
    # unreliable findings stay in its own row and become warnings of the scan; a lag
    # within the peak's error (here the peak itself) keeps them as the scan's verdict.
    from nmi_jupyter.engine.sweep_result import SweepPoint
    from nmi_jupyter.engine.verdict import Flag

    x, y = nmi.generators.correlated_gaussians(1200, 1, 1.0, seed=0)
    options = {**TINY, "gammas": (1, 2, 3), "epochs": 20, "hidden_dim": 16}
    lr = nmi.lag(x, y, lags=[-2, 0, 2], rigorous=True, **options)
    assert lr.peak_lag == 0 and lr.peak_lag_interval == (0, 0)

    def flagged_at(lag):
        def flags(point):
            if point.values["lag"] == lag:
                return (Flag("shuffled_control", "the control found 0.09 bits", True),)
            return ()

        return property(flags)

    monkeypatch.setattr(SweepPoint, "flags", flagged_at(2))
    away = nmi.lag(x, y, lags=[-2, 0, 2], rigorous=True, **options)
    assert away.is_reliable
    (warning,) = [f for f in away.flags if f.code == "shuffled_control"]
    assert not warning.unreliable and "not the peak's verdict" in warning.message
    frame = away.to_frame()
    assert list(frame["is_reliable"]) == [True, True, False]
    monkeypatch.setattr(SweepPoint, "flags", flagged_at(0))
    at_peak = nmi.lag(x, y, lags=[-2, 0, 2], rigorous=True, **options)
    assert not at_peak.is_reliable and at_peak.reasons[0].startswith("at lag=0:")
