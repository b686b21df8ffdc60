"""The per-epoch semantics both trainers share, driven by scripted curve values (no model),
and plans as plain data: views, units, the rigorous plan's runs and seeds."""

import math
import signal

import numpy as np
import pytest
import torch

import nmi_jupyter as nmi
from nmi_jupyter import EpochEnded, RunEnded, RunStarted
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.early_stopping import EarlyStopping
from nmi_jupyter.engine.plan import (
    CONTROL_SEED_STREAM,
    Plan,
    RunSpec,
    View,
    estimate_plan,
    rigorous_plan,
    run_seed,
)
from nmi_jupyter.engine.run_state import RunState, analysis_stop
from nmi_jupyter.engine.runs import PreparedRun, TrainData
from nmi_jupyter.engine.trainer import stacks, train_plan

CONFIG = EstimateConfig(epochs=30, patience=3, batch_size=8, units="nats", seed=0)


def _prepared(n_train=40, n_val=10, x_dim=2, y_dim=1, run_id=0):
    data = TrainData(
        torch.zeros(n_train, x_dim), torch.zeros(n_train, y_dim),
        torch.zeros(n_val, x_dim), torch.zeros(n_val, y_dim),
    )  # fmt: skip
    return PreparedRun(data, init_seed=1, shuffle_seed=2, spec=RunSpec(run_id, seed=5, gamma=3))


def _state(events=None, config=CONFIG, **kwargs):
    observer = None if events is None else events.append
    return RunState(_prepared(**kwargs), config, observer=observer)


def _checkpoint(epoch):
    return lambda: {"w": torch.tensor(float(epoch))}


def _feed(state, values):
    """Feed validation ``values`` (training curve = same) until the run ends; its reason."""
    for epoch, value in enumerate(values):
        reason = state.end_epoch(value, value, True, _checkpoint(epoch))
        if reason is not None:
            return reason
    return None


@pytest.mark.parametrize("lr_drop", [0.25, 1.0])
def test_the_learning_rate_drops_once_at_the_first_stall(lr_drop):
    values = list(np.linspace(0.0, 1.0, 12)) + [1.0] * 30
    events = []
    state = _state(events, config=CONFIG.replace(patience=4, lr_drop=lr_drop))
    scales = []
    for epoch, value in enumerate(values):
        reason = state.end_epoch(value, value, True, _checkpoint(epoch))
        scales.append(state.lr_scale)
        if reason is not None:
            break
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    dropped = [e.epoch for e in epochs if e.lr_dropped]
    if lr_drop == 1.0:  # no drop: the run stops at the first stall
        assert set(scales) == {1.0} and not dropped
        assert epochs[-1].stalled == epochs[-1].patience == 4
    else:
        first = dropped[0]
        assert scales[:first] == [1.0] * first and set(scales[first:]) == {0.25}
        assert epochs[first].stalled == epochs[first].patience == 4  # the stall that drops
        # after the drop the count restarts at the drop and runs to patience // 2
        assert [e.stalled for e in epochs[first + 1 :]] == [1, 2]
        assert {e.patience for e in epochs[first + 1 :]} == {2}
    assert reason == "early_stopping"


def test_epochs_follow_the_early_stopping_tracker_and_keep_few_checkpoints():
    values = list(np.linspace(0.0, 1.0, 12)) + [1.0 - 0.1 * k for k in range(1, 20)]
    events = []
    state = _state(events)
    reason = _feed(state, values)
    tracker = EarlyStopping(CONFIG.patience, drop=CONFIG.lr_drop < 1)
    for value in values:  # the same scores, the tracker alone
        decision = tracker.update(value)
        if decision.stop:
            break
    assert reason == "early_stopping" and state.epochs_run == len(tracker.values)
    assert state.best_epoch == decision.best_epoch
    np.testing.assert_array_equal(state.smoothed, decision.smoothed)
    assert set(state.checkpoints) == set(decision.keep) and state.best_epoch in state.checkpoints
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert [e.epoch for e in epochs] == list(range(state.epochs_run))
    assert all(e.gamma == 3 and e.run_id == 0 for e in epochs)
    assert epochs[-1].epochs_since_best == decision.epochs_since_best


def test_the_last_allowed_epoch_ends_the_run_at_max_epochs():
    state = _state(config=CONFIG.replace(epochs=4))
    assert _feed(state, [0.1, 0.2, 0.3, 0.4, 0.5]) == "max_epochs"
    assert state.epochs_run == 4


@pytest.mark.parametrize(
    "train, val, finite",
    [(math.nan, 0.5, True), (0.5, math.inf, True), (0.5, 0.5, False), (-5.0, 0.5, True)],
    ids=["nan-train", "inf-val", "non-finite-loss", "below-floor"],
)
def test_a_diverged_epoch_ends_the_run_and_is_not_kept(train, val, finite):
    events = []
    state = _state(events)
    assert _feed(state, [0.1, 0.2]) is None
    copied = []
    reason = state.end_epoch(train, val, finite, lambda: copied.append(1) or {})
    assert reason == "diverged" and state.epochs_run == 2 and not copied
    assert len([e for e in events if isinstance(e, EpochEnded)]) == 2


def test_finish_evaluates_only_the_best_checkpoint_and_announces_the_run():
    events = []
    state = _state(events)
    state.started()
    _feed(state, [0.1, 0.5, 0.2])
    seen = []

    def evaluate(checkpoint):
        seen.append(float(checkpoint["w"]))
        return 0.7, 0.6

    state.finish("cancelled", evaluate)
    assert seen == [float(state.best_epoch)]
    outcome = state.outcome()
    assert (outcome.mi_train, outcome.mi_val, outcome.stop_reason) == (0.7, 0.6, "cancelled")
    assert outcome.n_train == 40 and outcome.n_val == 10 and not outcome.interrupted
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    assert events[-1].mi == 0.7 and events[-1].epochs_run == 3


def test_finish_without_an_epoch_evaluates_nothing():
    state = _state()
    state.finish("interrupted", lambda checkpoint: pytest.fail("nothing to evaluate"))
    assert math.isnan(state.mi_train) and state.best_epoch == -1


def test_an_interrupt_as_a_run_ends_keeps_it_and_marks_the_analysis_interrupted():
    def observer(event):
        if isinstance(event, RunEnded):
            raise KeyboardInterrupt

    state = RunState(_prepared(), CONFIG, observer=observer)
    _feed(state, [0.1, 0.2])
    state.finish("max_epochs", lambda checkpoint: (1.0, 1.0))  # no KeyboardInterrupt escapes
    assert state.stop_reason == "max_epochs" and state.interrupted
    assert analysis_stop([state.outcome()]) == "interrupted"
    # A run stopped by the interrupt itself is not marked again.
    stopped = RunState(_prepared(), CONFIG, observer=observer)
    stopped.finish("interrupted", lambda checkpoint: (1.0, 1.0))
    assert not stopped.interrupted and analysis_stop([stopped.outcome()]) == "interrupted"


def test_ctrl_c_while_the_best_checkpoint_is_evaluated_is_held_back():
    state = _state()
    _feed(state, [0.1, 0.2])

    def evaluate(checkpoint):
        signal.raise_signal(signal.SIGINT)
        return 1.0, 1.0

    state.finish("early_stopping", evaluate)
    assert state.mi_train == 1.0 and state.interrupted


def test_both_trainers_draw_the_same_orders_from_the_shuffle_seed():
    a, b = _state(), _state()
    assert torch.equal(a.train_order, b.train_order) and torch.equal(a.val_order, b.val_order)
    g = torch.Generator().manual_seed(2)  # the order of draws both trainers rely on
    assert torch.equal(a.train_order, torch.randperm(40, generator=g))
    assert torch.equal(a.val_order, torch.randperm(10, generator=g))
    first_epoch = torch.randperm(40, generator=g)
    assert torch.equal(a.new_epoch(), first_epoch) and torch.equal(b.new_epoch(), first_epoch)


# ----- plans -----


def test_a_view_picks_rows_paired_rows_and_columns_without_copying_everything():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(30.0).reshape(10, 3)
    assert View().apply(x, y)[0] is x
    rows = np.array([1, 3, 5])
    vx, vy = View(rows, y_rows=rows + 1, x_columns=(1,), y_columns=(0, 2)).apply(x, y)
    np.testing.assert_array_equal(vx, x[rows][:, [1]])
    np.testing.assert_array_equal(vy, y[rows + 1][:, [0, 2]])
    assert View(rows).n_samples(10) == 3 and View().n_samples(10) == 10


def test_the_rigorous_plan_spells_its_controls_out_with_todays_seeds_and_rows():
    config = EstimateConfig(seed=4)
    plan = rigorous_plan(1000, [1, 2, 3], 1, True, config)
    runs, controls = [r for r in plan.runs if not r.control], [r for r in plan.runs if r.control]
    assert [r.run_id for r in plan.runs] == list(range(6 + 3))
    assert [r.unit for r in runs] == [0, 1, 1, 2, 2, 2] and {r.unit for r in controls} == {3}
    assert all(r.view.y_rows is None for r in runs)
    assert [(r.gamma, r.chunk, len(r.view.rows)) for r in controls] == [
        (2, 0, 500), (4, 0, 250), (4, 1, 250)
    ]  # fmt: skip
    for r in controls:  # y rows are a permutation's rows: the pairs are broken
        assert r.seed == run_seed(4, CONTROL_SEED_STREAM + r.gamma // 2, r.chunk, 0)
        assert not np.array_equal(r.view.y_rows, r.view.rows)
        assert sorted(r.view.y_rows) != sorted(r.view.rows)
    assert runs[0].seed == run_seed(4, 1, 0, 0)
    units = plan.units()
    assert [len(u.runs) for u in units] == [1, 2, 3, 3] and units[0].config is config
    assert estimate_plan(config).runs == (RunSpec(run_id=0, seed=4),)


def test_stacks_hold_consecutive_runs_of_equal_widths():
    runs = [_prepared(x_dim=d, run_id=k) for k, d in enumerate([2, 2, 2, 3, 2])]
    assert [[r.spec.run_id for r in s] for s in stacks(runs, 2)] == [[0, 1], [2], [3], [4]]


def test_a_plan_of_column_views_trains_on_any_path():
    """The trainer trains whatever views a plan holds: runs of other widths go to
    other stacks, and batched and one-after-another agree."""
    x, y = nmi.generators.correlated_gaussians(n=400, dim=3, mi=1.0, seed=0)
    config = EstimateConfig(epochs=2, batch_size=32, hidden_dim=8, embedding_dim=4, seed=0)
    runs = tuple(
        RunSpec(k, seed=k, view=View(x_columns=cols)) for k, cols in enumerate([(0,), (0, 1), (2,)])
    )
    plan = Plan(runs, config)
    batched = train_plan(plan, x, y, torch.device("cpu"))
    alone = train_plan(plan, x, y, torch.device("cpu"), batched=False)
    assert [o.stop_reason for o in batched] == ["max_epochs"] * 3
    for a, b in zip(batched, alone, strict=True):
        assert a.mi_train == pytest.approx(b.mi_train, abs=2e-4)


def test_an_interrupt_at_the_end_of_a_stack_stops_the_analysis(monkeypatch):
    """Before, a KeyboardInterrupt from the observer at the last RunEnded of a stack
    was lost: every run of the stack had ended, so the next stack trained."""
    monkeypatch.setattr("nmi_jupyter.engine.trainer.max_stack", lambda config, block: 1)
    x, y = nmi.generators.correlated_gaussians(n=600, dim=2, mi=1.0, seed=0)
    config = EstimateConfig(epochs=2, batch_size=32, hidden_dim=8, embedding_dim=4, seed=0)
    plan = rigorous_plan(len(x), [2], 1, False, config)

    def observer(event):
        if isinstance(event, RunEnded):
            raise KeyboardInterrupt

    outcomes = train_plan(plan, x, y, torch.device("cpu"), observer=observer)
    assert len(outcomes) == 1 and outcomes[0].stop_reason == "max_epochs"
    assert analysis_stop(outcomes) == "interrupted"
