"""Early stopping driven by scripted validation scores: no model is trained."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d, median_filter

from nmi_jupyter.engine.early_stopping import EarlyStopping, best_index, smooth_history


def test_smoothing_is_median_then_gaussian():
    rng = np.random.default_rng(0)
    v = rng.normal(size=40)
    expected = gaussian_filter1d(median_filter(v, 5, mode="nearest"), 1.0, mode="nearest")
    np.testing.assert_allclose(smooth_history(v), expected)


def test_smoothing_removes_a_single_spike():
    v = np.ones(20)
    v[10] = 50.0
    assert smooth_history(v).max() == pytest.approx(1.0)


def test_best_index_needs_relative_improvement():
    assert best_index(np.array([1.0, 1.0005, 1.002])) == 2
    assert best_index(np.array([1.0, 1.0005, 1.0009]), min_improvement=1e-3) == 0
    assert best_index(np.array([1.0, 1.0005, 1.0009]), min_improvement=0.0) == 2


def _run(scores, patience, **kw):
    stopper = EarlyStopping(patience, **kw)
    for epoch, s in enumerate(scores):
        decision = stopper.update(s)
        if decision.stop:
            return epoch, decision
    return None, decision


def test_stops_patience_epochs_after_the_smoothed_peak():
    rising = list(np.linspace(0, 2, 15))
    scores = rising + [2.0 - 0.05 * k for k in range(1, 30)]
    stopped_at, decision = _run(scores, patience=5)
    assert stopped_at is not None
    assert decision.epochs_since_best == 5
    assert abs(decision.best_epoch - 14) <= 2  # smoothing may move the peak by a step or two


def test_a_lone_spike_does_not_become_the_best_epoch():
    scores = [1.0] * 3 + [9.0] + [1.0] * 20  # the spike arrives before patience runs out
    stopped_at, decision = _run(scores, patience=6, min_improvement=1e-3)
    assert decision.best_epoch == 0
    assert stopped_at == 6


def test_never_stops_while_improving():
    stopped_at, decision = _run(list(np.linspace(0, 5, 60)), patience=3)
    assert stopped_at is None
    assert decision.best_epoch == 59


@pytest.mark.parametrize("seed", range(20))
def test_kept_checkpoints_always_contain_the_best_epoch(seed):
    """Smoothing looks ahead, so the best epoch can move backwards; the trainer keeps
    only ``decision.keep`` checkpoints, which must always include the final best."""
    rng = np.random.default_rng(seed)
    scores = np.cumsum(rng.normal(size=80)) + rng.normal(size=80) * 3
    stopper = EarlyStopping(patience=100, min_improvement=1e-3)
    stored: set[int] = set()
    for epoch, s in enumerate(scores):
        decision = stopper.update(s)
        stored.add(epoch)
        stored &= decision.keep
        assert decision.best_epoch in stored
        assert len(stored) <= stopper.settle + 1


def test_the_first_stall_drops_the_learning_rate_and_half_the_patience_ends_the_run():
    rising = list(np.linspace(0, 2, 15))
    scores = rising + [2.0 - 0.05 * k for k in range(1, 40)]
    plain_stop, plain = _run(scores, patience=6)
    stopper = EarlyStopping(6, drop=True)
    decisions = []
    for s in scores:
        decisions.append(stopper.update(s))
        if decisions[-1].stop:
            break
    drops = [epoch for epoch, d in enumerate(decisions) if d.drop]
    assert drops == [plain_stop]  # the stall that would have stopped drops instead, once
    assert not decisions[plain_stop].stop and decisions[plain_stop].dropped
    assert not any(d.dropped for d in decisions[:plain_stop])
    # Nothing improves after the drop: the run ends patience // 2 = 3 epochs later.
    assert len(decisions) - 1 == plain_stop + 3
    last = decisions[-1]
    assert last.stop and last.stalled == 3 and last.patience == 3
    assert last.best_epoch == plain.best_epoch  # the best epoch is the whole curve's


def test_an_improvement_after_the_drop_restarts_the_shorter_count():
    stopper = EarlyStopping(6, drop=True)
    scores = list(np.linspace(0, 2, 15))
    for s in scores:
        decision = stopper.update(s)
    while not decision.drop:  # flat until the stall drops the learning rate
        decision = stopper.update(2.0)
    dropped_at = len(stopper.values) - 1
    for s in [*np.linspace(2.1, 3.0, 10), *[3.0] * 20]:  # the smaller rate finds more
        decision = stopper.update(s)
        if decision.stop:
            break
    last = len(stopper.values) - 1
    assert decision.stop and decision.dropped and last > dropped_at + 10
    assert decision.best_epoch > dropped_at and decision.stalled == 3
    assert last - decision.best_epoch == 3
