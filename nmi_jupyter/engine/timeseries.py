"""Time-series preparation: windows, spike binning, label encodings.

Pure numpy functions that turn recordings into the (samples, ...) arrays every
analysis takes, while keeping the time index, so that a blocked split stays a
split in time and two signals can be aligned:

* :func:`windows`: a continuous signal (T,) or (T, channels) -> (n_windows, size, channels);
* :func:`bin_spikes`: one array of spike times per neuron -> (n_bins, n_neurons) counts;
* :func:`spike_windows`: spike times relative to the start of each window;
* :func:`one_hot` and :func:`window_labels`: categorical labels as numbers, per sample or
  per window (majority label, or the whole one-hot trajectory).

Two signals on different clocks (a 1 kHz LFP and 30 Hz video) pair up when both are
windowed with the same ``size`` and ``step`` in seconds (``rate=`` each signal's own
sample rate): window k of each then starts at the same time ``k * step`` (the
``start_index / rate`` of ``return_index=True``).  The two may still give different
numbers of windows when the recordings end at different times; keep the first
``min(len(a), len(b))`` of each.  Analyses refuse x and y with different numbers of
samples (windows) with a sentence saying both counts.

User mistakes raise :class:`~nmi_jupyter.NeuralMIError` subclasses with one sentence.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nmi_jupyter.engine.errors import (
    InsufficientDataError,
    InvalidDataError,
    NeuralMIWarning,
    OptionError,
)
from nmi_jupyter.engine.options_check import as_choice, as_float, as_int, describe_value

__all__ = ["windows", "bin_spikes", "spike_windows", "one_hot", "window_labels"]

# A size or step in seconds times the rate must be a whole number of samples within
# this relative tolerance (absorbs decimal round-off such as 0.1 s * 30 Hz = 3.0000000000000004).
_WHOLE_SAMPLES_RTOL = 1e-9
# A spike time within this fraction of a bin width below a bin edge counts in the later
# bin: 0.3 s with 0.1 s bins is bin 3, as on paper, although 0.3 / 0.1 = 2.9999999999999996.
_EDGE_SNAP = 1e-9
# The most bytes bin_spikes' counts may take (bins * neurons int64): past it the bin
# size or the span is almost surely a mistake (milliseconds given as seconds).
COUNTS_BUDGET = 2**33
_HOW = ("majority", "trajectory")


# --- continuous signals -----------------------------------------------------------------


def windows(
    data: Any,
    size: float,
    step: float | None = None,
    *,
    rate: float | None = None,
    return_index: bool = False,
    copy: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Cut a time series into (overlapping) windows: (T, channels) -> (n_windows, size, channels).

    Window k holds samples ``[k * step, k * step + size)``; there are
    ``n_windows = (T - size) // step + 1`` of them (samples after the last whole window
    are left out).  Windows keep time order, so a blocked split of them is a split in
    time; overlapping windows (step < size) share samples, which a blocked split's gap
    should cover.

    Args:
        data: numbers of shape (T,) (one channel) or (T, channels), time along axis 0;
            numpy, pandas or torch.
        size: window length, in samples (an integer >= 1), or in seconds with ``rate``.
        step: distance between window starts, in samples (>= 1), or in seconds with
            ``rate``; default one sample (every possible window), with or without ``rate``.
        rate: sample rate of ``data`` in samples per second; when given, ``size`` and
            ``step`` are seconds, converted to samples with ``round(seconds * rate)``,
            and must be whole numbers of samples within a relative 1e-9 (0.1 s at 30 Hz is
            3 samples; 0.05 s at 30 Hz is an error, not a silent 1.5 -> 2).
        return_index: also return the sample index of each window's start.
        copy: return a new writable array; by default the windows are a read-only view of
            ``data`` (no memory is used for the overlap; analyses copy what they need).

    Returns:
        ``w``, float64 (float32 stays float32) of shape (n_windows, size, channels); with
        ``return_index``, ``(w, start_index)``, ``start_index`` int64 of shape
        (n_windows,) (``start_index / rate`` is the start time in seconds).
    """
    array = _as_series(data)
    size_n = _samples("size", size, rate)
    step_n = _samples("step", step, rate)
    length = array.shape[0]
    if size_n > length:
        raise InsufficientDataError(
            f"the window ({size_n} samples) is longer than the data ({length} samples)."
        )
    # (T - size + 1, channels, size) view -> every step-th window -> (n, size, channels).
    view = sliding_window_view(array, size_n, axis=0)[::step_n].transpose(0, 2, 1)
    out = np.ascontiguousarray(view) if copy else view
    if return_index:
        return out, np.arange(out.shape[0], dtype=np.int64) * step_n
    return out


def _as_series(data: Any) -> np.ndarray:
    """``data`` as a finite (T, channels) float array (float32 kept), or one sentence."""
    try:
        if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch, without importing it
            from nmi_jupyter.engine.data import _tensor_to_numpy

            data = _tensor_to_numpy(data)
        elif hasattr(data, "to_numpy"):  # pandas
            data = data.to_numpy()
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise InvalidDataError(f"data could not be read as a numeric array: {exc}.") from None
    if (
        array.dtype == object
        or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_)
        or np.issubdtype(array.dtype, np.complexfloating)
    ):
        raise InvalidDataError(f"data must hold real numbers, not values of type {array.dtype}.")
    if array.ndim not in (1, 2):
        raise InvalidDataError(
            f"data must have shape (time,) or (time, channels), not {array.shape}."
        )
    if array.size == 0:
        raise InvalidDataError(f"data is empty (shape {array.shape}).")
    if array.dtype != np.float32:
        array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(len(array), -1).any(axis=1))[0])
        raise InvalidDataError(
            f"data contains {int(bad.sum())} NaN or infinite values (first at time index "
            f"{first}); drop or interpolate them before windowing."
        )
    return array if array.ndim == 2 else array[:, None]


def _samples(name: str, value: Any, rate: Any) -> int:
    """A window size or step as a whole number of samples >= 1 (a step of None is 1)."""
    if value is None and name == "step":
        return 1
    if rate is None:
        return as_int(name, value, minimum=1)
    rate = as_float("rate", rate, low=0.0, low_open=True)
    seconds = as_float(name, value, low=0.0, low_open=True)
    exact = seconds * rate
    count = round(exact)
    if abs(exact - count) > _WHOLE_SAMPLES_RTOL * max(exact, 1.0):
        raise OptionError(
            f"{name} = {seconds:g} s at {rate:g} samples per second is {exact:.6g} samples, "
            "not a whole number; choose a multiple of the sample period."
        )
    if count < 1:
        raise OptionError(f"{name} = {seconds:g} s is shorter than one sample at {rate:g} Hz.")
    return int(count)


# --- spike trains -----------------------------------------------------------------------


def bin_spikes(
    spike_times: Sequence[Any],
    bin_size: float,
    t_start: float | None = None,
    t_stop: float | None = None,
    *,
    return_edges: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Count each neuron's spikes in consecutive time bins: -> (n_bins, n_neurons) integers.

    Bin k is ``[t_start + k * bin_size, t_start + (k + 1) * bin_size)``.  The bins cover
    ``[t_start, t_stop]``: ``n_bins = ceil((t_stop - t_start) / bin_size)``, and when the
    span is not a whole number of bins the last bin is cut short at ``t_stop`` (it then
    covers less time; choose ``t_stop`` to avoid that).  A spike exactly at ``t_stop``
    counts in the last bin; spikes before ``t_start`` or after ``t_stop`` are left out.
    A spike within 1e-9 of a bin width below an edge counts in the later bin, so decimal
    times land where a hand count puts them (0.3 s in 0.1 s bins is bin 3).

    ``t_start`` defaults to 0.0, not to the earliest spike: recordings, stimuli and
    behaviour are timed from 0, and a grid that moved with the first spike would not line
    up with them, nor with another session or subset of neurons binned separately.  For
    the same reason negative spike times are an error unless ``t_start`` is given (times
    relative to an event may then be negative).  ``t_stop`` defaults to the last spike.

    Args:
        spike_times: one 1-D array of sorted spike times per neuron, in seconds (a
            neuron may have no spikes).
        bin_size: bin width in seconds (> 0).
        t_start: start of the first bin (default 0.0).
        t_stop: end of the binned span (default: the last spike of any neuron).
        return_edges: also return the n_bins + 1 bin edges (the last is ``t_stop``).

    Returns:
        ``counts``, int64 of shape (n_bins, n_neurons); with ``return_edges``,
        ``(counts, edges)``.
    """
    trains = _spike_trains(spike_times, allow_negative=t_start is not None)
    bin_size = as_float("bin_size", bin_size, low=0.0, low_open=True)
    start = 0.0 if t_start is None else as_float("t_start", t_start)
    if t_stop is None:
        last = [t[-1] for t in trains if t.size]
        if not last:
            raise InvalidDataError(
                "no neuron has any spike, so t_stop cannot default to the last spike; give t_stop."
            )
        stop = float(max(last))
    else:
        stop = as_float("t_stop", t_stop)
    if stop <= start:
        raise OptionError(f"t_stop ({stop:g} s) must be later than t_start ({start:g} s).")
    span = stop - start
    if bin_size > span * (1 + _EDGE_SNAP):
        raise OptionError(
            f"bin_size ({bin_size:g} s) is longer than the binned span "
            f"({span:g} s from t_start to t_stop)."
        )
    n_bins = max(math.ceil(span / bin_size - _EDGE_SNAP), 1)
    need = n_bins * len(trains) * np.dtype(np.int64).itemsize
    if need > COUNTS_BUDGET:
        raise OptionError(
            f"bin_size {bin_size:g} s over {span:g} s makes {n_bins:,} bins per neuron "
            f"({need / 2**30:.3g} GiB of counts for {len(trains)} neurons); use a larger "
            "bin_size, or give t_start and t_stop around the part of the recording you need."
        )
    counts = np.zeros((n_bins, len(trains)), dtype=np.int64)
    for j, times in enumerate(trains):
        inside = times[(times >= start) & (times <= stop)]
        index = np.floor((inside - start) / bin_size + _EDGE_SNAP).astype(np.int64)
        counts[:, j] = np.bincount(np.minimum(index, n_bins - 1), minlength=n_bins)
    if return_edges:
        edges = start + bin_size * np.arange(n_bins + 1, dtype=np.float64)
        edges[-1] = stop
        return counts, edges
    return counts


def spike_windows(
    spike_times: Sequence[Any],
    window_starts: Any,
    window_size: float,
    *,
    max_spikes: int | None = None,
    fill: float = np.nan,
) -> np.ndarray:
    """Each neuron's spike times relative to the start of each window.

    Window k is ``[window_starts[k], window_starts[k] + window_size)``; its spikes are
    given as ``time - window_starts[k]`` (in [0, window_size); edges are snapped as in
    :func:`bin_spikes`), earliest first, and the remaining places hold ``fill`` (NaN by
    default; pass e.g. ``fill=-1.0`` for a network that cannot take NaN).  When a window
    holds more than ``max_spikes`` spikes of one neuron, the earliest ``max_spikes`` are
    kept and a :class:`NeuralMIWarning` says how many were dropped.

    Args:
        spike_times: one 1-D array of sorted spike times per neuron, in seconds.
        window_starts: 1-D start times in seconds (e.g. ``edges[:-1]`` of
            :func:`bin_spikes`, or ``start_index / rate`` of :func:`windows`).
        window_size: window length in seconds (> 0).
        max_spikes: places per neuron and window; default: the largest count found (>= 1).
        fill: value of the unused places.

    Returns:
        float64 array of shape (n_windows, n_neurons, max_spikes).
    """
    trains = _spike_trains(spike_times, allow_negative=True)
    starts = np.asarray(window_starts, dtype=np.float64) if _is_numeric(window_starts) else None
    if starts is None or starts.ndim != 1 or starts.size == 0 or not np.all(np.isfinite(starts)):
        raise InvalidDataError(
            "window_starts must be a non-empty 1-D array of finite times in seconds, "
            f"not {describe_value(window_starts)}."
        )
    size = as_float("window_size", window_size, low=0.0, low_open=True)
    fill = as_float("fill", fill, finite=False) if not _isnan(fill) else math.nan
    # Edges snapped as in bin_spikes: a spike a hair before an edge counts after it.
    first = starts - _EDGE_SNAP * size
    lo = np.stack([np.searchsorted(t, first, side="left") for t in trains], axis=1)
    hi = np.stack([np.searchsorted(t, first + size, side="left") for t in trains], axis=1)
    found = hi - lo  # (n_windows, n_neurons)
    places = (
        max(int(found.max()), 1)
        if max_spikes is None
        else as_int("max_spikes", max_spikes, minimum=1)
    )
    dropped = np.maximum(found - places, 0)
    if dropped.any():
        warnings.warn(
            f"{int(dropped.sum())} spikes in {int((dropped > 0).sum())} (window, neuron) pairs "
            f"exceeded max_spikes = {places} and were dropped (the latest in each window).",
            NeuralMIWarning,
            stacklevel=2,
        )
    out = np.full((len(starts), len(trains), places), fill, dtype=np.float64)
    for j, times in enumerate(trains):
        if not times.size:
            continue
        for slot in range(places):
            index = lo[:, j] + slot
            valid = index < hi[:, j]
            out[valid, j, slot] = np.maximum(times[index[valid]] - starts[valid], 0.0)
    return out


def _spike_trains(spike_times: Any, *, allow_negative: bool) -> list[np.ndarray]:
    """Check a collection of per-neuron spike-time arrays; return them as float64."""
    if isinstance(spike_times, str | bytes) or not hasattr(spike_times, "__len__"):
        raise InvalidDataError(
            "spike_times must be a list with one array of spike times per neuron, "
            f"not {describe_value(spike_times)}."
        )
    if len(spike_times) == 0:
        raise InvalidDataError("spike_times is empty; give one array of spike times per neuron.")
    if _is_numeric(spike_times[0]) and np.ndim(spike_times[0]) == 0:
        raise InvalidDataError(
            "spike_times must be a list with one array of spike times per neuron; "
            "for a single neuron pass [times]."
        )
    trains = []
    for j, neuron in enumerate(spike_times):
        if not _is_numeric(neuron):
            raise InvalidDataError(f"neuron {j}'s spike times are not numbers.")
        times = np.asarray(neuron, dtype=np.float64)
        if times.ndim != 1:
            raise InvalidDataError(
                f"neuron {j}'s spike times have shape {times.shape}; give each neuron a "
                "1-D array of times."
            )
        if not np.all(np.isfinite(times)):
            raise InvalidDataError(f"neuron {j}'s spike times contain NaN or infinite values.")
        if times.size > 1 and np.any(np.diff(times) < 0):
            k = int(np.flatnonzero(np.diff(times) < 0)[0])
            raise InvalidDataError(
                f"neuron {j}'s spike times are not sorted ({times[k + 1]:g} s follows "
                f"{times[k]:g} s); sort each neuron's times first."
            )
        if not allow_negative and times.size and times[0] < 0:
            raise InvalidDataError(
                f"neuron {j} has a negative spike time ({times[0]:g} s); bins start at "
                "t_start = 0 by default, so give t_start to bin times from another origin."
            )
        trains.append(times)
    return trains


def _is_numeric(value: Any) -> bool:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return False
    return array.dtype != object and (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    )


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# --- categorical labels -----------------------------------------------------------------


def one_hot(
    labels: Any, *, return_classes: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Encode categorical labels as one-hot rows: (N,) -> (N, n_classes) float64.

    Column k stands for ``classes[k]``, the k-th distinct label in sorted order (numbers
    ascending, strings alphabetically), so the same label set always gives the same
    columns.

    Args:
        labels: N labels (numbers, strings or booleans), shape (N,) or (N, 1).
        return_classes: also return ``classes``, the label of each column.

    Returns:
        ``codes`` of shape (N, n_classes) with a single 1.0 per row; with
        ``return_classes``, ``(codes, classes)``.
    """
    codes, classes = _label_codes(labels)
    out = np.zeros((len(codes), len(classes)), dtype=np.float64)
    out[np.arange(len(codes)), codes] = 1.0
    return (out, classes) if return_classes else out


def window_labels(
    labels: Any,
    size: float,
    step: float | None = None,
    *,
    how: str = "majority",
    rate: float | None = None,
) -> np.ndarray:
    """Labels per window, on the windows :func:`windows` cuts with the same size, step, rate.

    * ``how="majority"``: the most frequent label of each window, shape (n_windows,), of
      the labels' own type; a tie goes to the smallest label (the first in sorted order),
      so the result does not depend on where in the window the labels sit.
    * ``how="trajectory"``: the one-hot code of every sample of the window, flattened
      time-major to (n_windows, size * n_classes) float64: entry ``t * n_classes + k``
      is 1 when sample t of the window has label ``classes[k]`` (classes sorted as in
      :func:`one_hot`).

    Args:
        labels: T labels (numbers, strings or booleans), shape (T,) or (T, 1).
        size, step, rate: as in :func:`windows`.
        how: "majority" or "trajectory".
    """
    how = as_choice("how", how, _HOW)
    codes, classes = _label_codes(labels)
    size_n = _samples("size", size, rate)
    step_n = _samples("step", step, rate)
    if size_n > len(codes):
        raise InsufficientDataError(
            f"the window ({size_n} samples) is longer than the labels ({len(codes)} samples)."
        )
    starts = np.arange(0, len(codes) - size_n + 1, step_n)
    hot = np.zeros((len(codes), len(classes)), dtype=np.int64)
    hot[np.arange(len(codes)), codes] = 1
    if how == "trajectory":
        view = sliding_window_view(hot, size_n, axis=0)[starts]  # (n, classes, size)
        return view.transpose(0, 2, 1).reshape(len(starts), -1).astype(np.float64)
    # Counts of each class in each window from a running sum: O(T * classes).
    running = np.concatenate([np.zeros((1, len(classes)), np.int64), np.cumsum(hot, axis=0)])
    counts = running[starts + size_n] - running[starts]
    return classes[np.argmax(counts, axis=1)]  # argmax takes the first (smallest) on ties


def _label_codes(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes 0..K-1 of ``labels`` and the sorted classes they index."""
    if hasattr(labels, "to_numpy"):
        labels = labels.to_numpy()
    try:
        array = np.asarray(labels)
    except (ValueError, TypeError) as exc:
        raise InvalidDataError(f"labels could not be read as an array: {exc}.") from None
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidDataError(f"labels must have shape (N,) or (N, 1), not {array.shape}.")
    if array.size == 0:
        raise InvalidDataError("labels is empty.")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise InvalidDataError("labels contain NaN or infinite values; every sample needs a label.")
    try:
        classes, codes = np.unique(array, return_inverse=True)
    except TypeError:
        raise InvalidDataError(
            "labels mix types that cannot be sorted (e.g. numbers and strings); use one type."
        ) from None
    return codes.reshape(-1).astype(np.int64), classes
