"""Time-series preparation: windows, spike binning, relative spike times, label encodings.

Hand counts are small enough to check on paper; every user mistake gives one sentence.
"""

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.engine.errors import (
    InsufficientDataError,
    InvalidDataError,
    NeuralMIWarning,
    OptionError,
)
from nmi_jupyter.engine.timeseries import (
    bin_spikes,
    one_hot,
    spike_windows,
    window_labels,
    windows,
)


def one_sentence(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text.endswith(".") and "\n" not in text, text
    return text


# --- windows ----------------------------------------------------------------------------


def test_windows_by_hand_one_channel():
    w, start = windows(np.arange(10.0), 3, 2, return_index=True)
    assert w.shape == (4, 3, 1)
    np.testing.assert_array_equal(w[:, :, 0], [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8]])
    np.testing.assert_array_equal(start, [0, 2, 4, 6])  # sample 9 is after the last window
    assert start.dtype == np.int64


def test_windows_keep_channels_and_time_order():
    data = np.arange(20.0).reshape(10, 2)  # channel c of time t is 2 t + c
    w = windows(data, 4)  # step defaults to one sample
    assert w.shape == (7, 4, 2)
    for k in range(7):
        np.testing.assert_array_equal(w[k], data[k : k + 4])


def test_windows_are_a_read_only_view_unless_copied():
    data = np.random.default_rng(0).standard_normal((50, 3))
    w = windows(data, 10, 5)
    assert np.shares_memory(w, data) and not w.flags.writeable
    c = windows(data, 10, 5, copy=True)
    assert not np.shares_memory(c, data) and c.flags.writeable and c.flags.c_contiguous
    np.testing.assert_array_equal(w, c)
    assert windows(data.astype(np.float32), 10).dtype == np.float32
    assert windows(np.arange(12), 3).dtype == np.float64


def test_windows_in_seconds_with_a_rate():
    data = np.arange(300.0)
    # 0.1 s at 30 Hz = 3.0000000000000004 samples: a whole number within round-off.
    w, start = windows(data, 0.1, 0.2, rate=30, return_index=True)
    assert w.shape == (50, 3, 1)
    np.testing.assert_array_equal(start[:3], [0, 6, 12])
    np.testing.assert_allclose(start[:3] / 30, [0.0, 0.2, 0.4])
    assert windows(data, 0.1, rate=30).shape == (298, 3, 1)  # default step: one sample


def test_two_clocks_align_in_seconds():
    # 1 kHz and 50 Hz recordings of 2 s windowed alike start their windows together.
    fast, slow = np.zeros((2000, 1)), np.zeros((100, 1))
    _, i_fast = windows(fast, 0.2, 0.1, rate=1000, return_index=True)
    _, i_slow = windows(slow, 0.2, 0.1, rate=50, return_index=True)
    np.testing.assert_allclose(i_fast / 1000, i_slow / 50)


def test_windows_of_pandas_and_torch():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": np.arange(6.0), "b": -np.arange(6.0)})
    assert windows(frame, 2).shape == (5, 2, 2)
    torch = pytest.importorskip("torch")
    assert windows(torch.arange(6.0), 2, 2).shape == (3, 2, 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"data": np.zeros(5), "size": 6}, InsufficientDataError, "longer than the data"),
        ({"data": np.zeros(5), "size": 0}, OptionError, "size must be an integer >= 1"),
        ({"data": np.zeros(5), "size": 2, "step": 0}, OptionError, "step must be"),
        ({"data": np.zeros(5), "size": 2.5}, OptionError, "size must be an integer"),
        ({"data": np.array([1.0, np.nan, 2]), "size": 2}, InvalidDataError, "NaN"),
        ({"data": np.array([1.0, np.inf]), "size": 1}, InvalidDataError, "time index 1"),
        ({"data": np.zeros((4, 2, 2)), "size": 2}, InvalidDataError, "(time, channels)"),
        ({"data": 3.0, "size": 1}, InvalidDataError, "(time, channels)"),
        ({"data": np.zeros(0), "size": 1}, InvalidDataError, "empty"),
        ({"data": np.array(["a", "b"]), "size": 1}, InvalidDataError, "real numbers"),
        ({"data": np.zeros(90), "size": 0.05, "rate": 30}, OptionError, "not a whole number"),
        ({"data": np.zeros(90), "size": 0.1, "rate": 0}, OptionError, "rate must be"),
        ({"data": np.zeros(90), "size": 0.01, "rate": 30}, OptionError, "not a whole"),
        ({"data": np.zeros(90), "size": 1e-12, "rate": 30}, OptionError, "shorter than one"),
    ],
)
def test_windows_errors_are_one_sentence(kwargs, error, words):
    with pytest.raises(error) as exc:
        windows(**kwargs)
    assert words in one_sentence(exc)


def test_estimate_refuses_window_counts_that_differ():
    # Mismatched clocks: the existing pair check names both counts (no new check needed).
    rng = np.random.default_rng(0)
    a = windows(rng.standard_normal((100, 2)), 10)
    b = windows(rng.standard_normal((120, 2)), 10)
    with pytest.raises(InvalidDataError, match="x has 91 and y has 111"):
        nmi.estimate(a, b, epochs=1)


# --- bin_spikes --------------------------------------------------------------------------

# Counted on paper, 0.1 s bins from 0 to 0.5 s:
#   neuron 0: 0.05 | 0.1 0.15 | - | 0.3 0.35 0.39 | 0.5 (= t_stop: last bin)
#   neuron 1: no spikes; neuron 2: 0.2 | 0.45 0.46
HAND = [
    np.array([0.05, 0.1, 0.15, 0.3, 0.35, 0.39, 0.5]),
    np.array([]),
    np.array([0.2, 0.45, 0.46]),
]
HAND_COUNTS = [[1, 0, 0], [2, 0, 0], [0, 0, 1], [3, 0, 0], [1, 0, 2]]


def test_bin_spikes_hand_count():
    counts, edges = bin_spikes(HAND, 0.1, return_edges=True)  # t_stop = last spike, 0.5
    np.testing.assert_array_equal(counts, HAND_COUNTS)
    assert counts.dtype == np.int64
    np.testing.assert_allclose(edges, [0, 0.1, 0.2, 0.3, 0.4, 0.5])
    np.testing.assert_array_equal(bin_spikes(HAND, 0.1, 0.0, 0.5), HAND_COUNTS)


def test_bin_spikes_window_and_partial_last_bin():
    # From 0.1 to 0.45: bins [0.1,0.2) [0.2,0.3) [0.3,0.4) [0.4,0.45]; 0.05, 0.46, 0.5 left out.
    counts, edges = bin_spikes(HAND, 0.1, t_start=0.1, t_stop=0.45, return_edges=True)
    np.testing.assert_array_equal(counts, [[2, 0, 0], [0, 0, 1], [3, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(edges, [0.1, 0.2, 0.3, 0.4, 0.45])


def test_bin_spikes_default_start_is_zero_and_negative_times_need_t_start():
    late = [np.array([2.05, 2.15])]
    assert bin_spikes(late, 1.0).tolist() == [[0], [0], [2]]  # from 0, not from 2.05
    relative = [np.array([-0.15, -0.05, 0.05])]
    with pytest.raises(InvalidDataError) as exc:
        bin_spikes(relative, 0.1)
    assert "negative spike time" in one_sentence(exc) and "t_start" in str(exc.value)
    assert bin_spikes(relative, 0.1, t_start=-0.2).tolist() == [[1], [1], [1]]


def test_bin_spikes_totals_match_on_random_trains():
    rng = np.random.default_rng(1)
    trains = [np.sort(rng.uniform(0, 10, size=n)) for n in (0, 5, 300)]
    counts = bin_spikes(trains, 0.25, t_stop=10.0)
    assert counts.shape == (40, 3)
    np.testing.assert_array_equal(counts.sum(axis=0), [0, 5, 300])
    # Against np.histogram, whose last bin is closed too.
    for j, t in enumerate(trains):
        np.testing.assert_array_equal(counts[:, j], np.histogram(t, bins=40, range=(0, 10))[0])


def test_bin_spikes_accepts_a_2d_array_of_equal_trains():
    assert bin_spikes(np.array([[0.1, 0.2], [0.3, 0.35]]), 0.2).tolist() == [[1, 0], [1, 2]]


@pytest.mark.parametrize(
    ("trains", "kwargs", "error", "words"),
    [
        ([np.array([0.2, 0.1])], {}, InvalidDataError, "not sorted (0.1 s follows 0.2 s)"),
        ([np.array([-0.1, 0.2])], {}, InvalidDataError, "negative spike time"),
        ([np.array([0.1, np.nan])], {}, InvalidDataError, "NaN"),
        ([np.zeros((2, 2))], {}, InvalidDataError, "shape (2, 2)"),
        ([0.1, 0.2, 0.3], {}, InvalidDataError, "for a single neuron pass [times]"),
        (np.array([0.1, 0.2]), {}, InvalidDataError, "for a single neuron pass [times]"),
        ([], {}, InvalidDataError, "empty"),
        (5, {}, InvalidDataError, "one array of spike times per neuron"),
        ([["a"]], {}, InvalidDataError, "not numbers"),
        ([np.array([])], {}, InvalidDataError, "give t_stop"),
        ([np.array([0.5])], {"t_start": 1.0, "t_stop": 1.0}, OptionError, "later than t_start"),
        ([np.array([0.5])], {"t_stop": 0.0}, OptionError, "later than t_start"),
        ([np.array([0.5])], {"t_stop": 1.0, "bin": 2.0}, OptionError, "longer than the binned"),
        ([np.array([0.5])], {"bin": 0.0}, OptionError, "bin_size must be"),
        ([np.array([0.5])], {"bin": float("nan")}, OptionError, "bin_size must be"),
    ],
)
def test_bin_spikes_errors_are_one_sentence(trains, kwargs, error, words):
    kwargs = dict(kwargs)
    size = kwargs.pop("bin", 0.1)
    with pytest.raises(error) as exc:
        bin_spikes(trains, size, **kwargs)
    assert words in one_sentence(exc)


# --- spike_windows ----------------------------------------------------------------------


def test_spike_windows_by_hand():
    out = spike_windows(HAND, [0.0, 0.3], 0.1)
    # Window [0, 0.1): neuron 0 has 0.05; [0.3, 0.4): neuron 0 has 0.3 0.35 0.39.
    assert out.shape == (2, 3, 3)  # 3 places: the largest count found
    np.testing.assert_allclose(out[0, 0], [0.05, np.nan, np.nan])
    np.testing.assert_allclose(out[1, 0], [0.0, 0.05, 0.09], atol=1e-12)
    assert np.isnan(out[:, 1]).all()  # the silent neuron
    np.testing.assert_allclose(out[1, 2], [np.nan] * 3)
    filled = spike_windows(HAND, [0.4], 0.1, fill=-1.0)
    np.testing.assert_allclose(filled[0, 2], [0.05, 0.06], atol=1e-12)
    assert filled[0, 1].tolist() == [-1.0, -1.0]


def test_spike_windows_agree_with_bin_spikes():
    rng = np.random.default_rng(2)
    trains = [np.sort(rng.uniform(0, 5, size=n)) for n in (40, 7)]
    counts, edges = bin_spikes(trains, 0.5, t_stop=5.0, return_edges=True)
    rel = spike_windows(trains, edges[:-1], 0.5)
    # The last bin of bin_spikes is closed at t_stop; no spike sits exactly there.
    np.testing.assert_array_equal((~np.isnan(rel)).sum(axis=2), counts)
    assert np.nanmin(rel) >= 0 and np.nanmax(rel) < 0.5


def test_spike_windows_warn_when_spikes_are_dropped():
    with pytest.warns(NeuralMIWarning, match="2 spikes in 1"):
        out = spike_windows(HAND, [0.3], 0.1, max_spikes=1)
    np.testing.assert_allclose(out[0, 0], [0.0], atol=1e-12)  # the earliest kept


@pytest.mark.parametrize(
    ("starts", "size", "kwargs", "words"),
    [
        ([], 0.1, {}, "window_starts must be"),
        ([[0.0]], 0.1, {}, "window_starts must be"),
        ([np.nan], 0.1, {}, "window_starts must be"),
        ("abc", 0.1, {}, "window_starts must be"),
        ([0.0], 0.0, {}, "window_size must be"),
        ([0.0], 0.1, {"max_spikes": 0}, "max_spikes must be"),
    ],
)
def test_spike_windows_errors_are_one_sentence(starts, size, kwargs, words):
    with pytest.raises((InvalidDataError, OptionError)) as exc:
        spike_windows(HAND, starts, size, **kwargs)
    assert words in one_sentence(exc)


# --- one_hot and window_labels ----------------------------------------------------------


def test_one_hot_sorted_classes():
    codes, classes = one_hot(np.array(["run", "rest", "run", "groom"]), return_classes=True)
    assert classes.tolist() == ["groom", "rest", "run"]
    np.testing.assert_array_equal(codes, [[0, 0, 1], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
    assert codes.dtype == np.float64
    np.testing.assert_array_equal(one_hot([[3], [1], [3]]), [[0, 1], [1, 0], [0, 1]])


def test_window_labels_majority_ties_to_smallest():
    labels = [2, 2, 1, 1, 0, 0, 0, 2]
    # windows of 4, step 2: [2 2 1 1] tie -> 1; [1 1 0 0] tie -> 0; [0 0 0 2] -> 0
    np.testing.assert_array_equal(window_labels(labels, 4, 2), [1, 0, 0])
    assert window_labels(["b", "a", "b"], 3).tolist() == ["b"]


def test_window_labels_trajectory_matches_windows_of_one_hot():
    labels = np.array([0, 1, 1, 2, 0, 2])
    traj = window_labels(labels, 3, how="trajectory")
    expected = windows(one_hot(labels), 3).reshape(4, -1)  # time-major, classes inner
    np.testing.assert_array_equal(traj, expected)
    assert traj.shape == (4, 9) and traj[0].tolist() == [1, 0, 0, 0, 1, 0, 0, 1, 0]


def test_window_labels_in_seconds_match_windows():
    labels = np.repeat([0, 1, 2], 10)
    signal = np.zeros(30)
    assert (
        len(window_labels(labels, 0.5, 0.2, rate=10))
        == len(windows(signal, 0.5, 0.2, rate=10))
        == 13
    )


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: one_hot(np.array([1.0, np.nan])), InvalidDataError, "NaN"),
        (lambda: one_hot(np.zeros((3, 2))), InvalidDataError, "(N,) or (N, 1)"),
        (lambda: one_hot([]), InvalidDataError, "empty"),
        (lambda: one_hot(np.array([1, "a"], dtype=object)), InvalidDataError, "one type"),
        (lambda: window_labels([0, 1], 3), InsufficientDataError, "longer than the labels"),
        (lambda: window_labels([0, 1], 1, how="mode"), OptionError, "how must be one of"),
    ],
)
def test_label_errors_are_one_sentence(call, error, words):
    with pytest.raises(error) as exc:
        call()
    assert words in one_sentence(exc)


def test_public_names():
    assert nmi.windows is windows and nmi.bin_spikes is bin_spikes and nmi.one_hot is one_hot
    assert nmi.window_labels is window_labels and nmi.spike_windows is spike_windows
