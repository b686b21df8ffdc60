"""Stopping early keeps the work: a cancel or Ctrl-C keeps each run's best checkpoint so
far as a partial run, and a second Ctrl-C while that is cleaned up loses nothing."""

import json
import math
import signal
import threading

import pytest

import nmi_jupyter as nmi
from nmi_jupyter import EpochEnded, RunEnded, RunStarted
from nmi_jupyter.engine import reduce, train
from nmi_jupyter.engine.interrupts import call_quietly, deferred_interrupts

FAST = {"epochs": 5, "batch_size": 32, "hidden_dim": 16, "embedding_dim": 8, "device": "cpu"}
GAMMAS = range(1, 4)


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=2000, dim=2, mi=1.0, seed=0)


def _kept(analysis, *args, **options):
    """``analysis(*args, **options)``, failing the test (instead of stopping the whole
    session) if a KeyboardInterrupt escapes it."""
    try:
        return analysis(*args, **options)
    except KeyboardInterrupt:
        pytest.fail("a KeyboardInterrupt escaped: the work done so far was lost")


def _ctrl_c() -> None:
    """What Ctrl-C or Jupyter's interrupt does: a real SIGINT to this process."""
    signal.raise_signal(signal.SIGINT)


class _EveryRunHasAnEpoch:
    """An observer that stops the analysis (cancel or KeyboardInterrupt) as soon as every
    run that started has finished one epoch, then keeps interrupting the clean-up."""

    def __init__(self, cancel=None, keep_interrupting=False):
        self.cancel, self.keep_interrupting = cancel, keep_interrupting
        self.started, self.with_epoch, self.stopped = set(), set(), False
        self.ended_after_stop = []

    def __call__(self, event):
        if isinstance(event, RunStarted):
            self.started.add(event.run_id)
        elif isinstance(event, EpochEnded) and not self.stopped:
            self.with_epoch.add(event.run_id)
            if self.with_epoch == self.started:
                self.stopped = True
                if self.cancel is None:
                    raise KeyboardInterrupt
                self.cancel.cancel()
        elif isinstance(event, RunEnded) and self.stopped:
            self.ended_after_stop.append(event)
            if self.keep_interrupting:  # a user pressing Ctrl-C again, and again
                _ctrl_c()
                raise KeyboardInterrupt


def _check_partial(rr, reason):
    assert len(rr.runs) > 0 and math.isfinite(rr.mi)
    assert rr.stopped and rr.partial and rr.stop_reason == reason
    assert "partial" in {f.code for f in rr.flags} and not rr.is_reliable
    partial = next(f for f in rr.flags if f.code == "partial")
    assert f"{reason} after" in partial.message and "best checkpoints so far" in partial.message
    assert partial.message in rr.summary()
    for run in (*rr.runs, *rr.controls):
        if run.partial:
            assert run.stop_reason == reason and run.epochs_run >= 1
            assert 0 <= run.best_epoch < run.epochs_run and math.isfinite(run.mi)


@pytest.mark.parametrize("how", ["cancelled", "interrupted"])
def test_batched_stop_after_the_first_epochs_keeps_every_run_as_partial(data, how):
    cancel = nmi.CancelToken() if how == "cancelled" else None
    observer = _EveryRunHasAnEpoch(cancel)
    rr = _kept(nmi.rigorous, *data, gammas=GAMMAS, seed=0, observer=observer, cancel=cancel, **FAST)
    _check_partial(rr, how)
    # All runs train together: none had finished 5 epochs, so every one is partial.
    assert len(rr.runs) == sum(GAMMAS) and all(r.partial for r in rr.runs)
    assert len(rr.controls) == 3 and all(r.partial for r in rr.controls)
    assert f"{len(rr.runs)} partial" in rr.summary()
    # The kept runs' numbers are the ones announced when they ended.
    announced = {(e.gamma, e.chunk): e.mi for e in observer.ended_after_stop if not e.control}
    assert {(r.gamma, r.chunk): r.mi for r in rr.runs} == announced


@pytest.mark.parametrize("how", ["cancelled", "interrupted"])
def test_one_after_another_stop_keeps_the_run_in_training_as_partial(data, how):
    cancel = nmi.CancelToken()

    def observer(event):  # stop in the first epoch of the first gamma = 2 run
        if isinstance(event, EpochEnded) and event.gamma == 2:
            if how == "interrupted":
                raise KeyboardInterrupt
            cancel.cancel()

    rr = _kept(
        nmi.rigorous,
        *data,
        gammas=GAMMAS,
        seed=0,
        observer=observer,
        cancel=cancel,
        batched=False,
        **FAST,
    )
    _check_partial(rr, how)
    assert [(r.gamma, r.partial, r.epochs_run) for r in rr.runs] == [(1, False, 5), (2, True, 1)]
    assert rr.gammas_used == (1, 2)


def test_runs_without_a_finished_epoch_are_left_out(data):
    def observer(event):
        if isinstance(event, RunStarted) and event.run_id == 1:  # run 0 is done by then
            raise KeyboardInterrupt

    rr = _kept(nmi.rigorous, *data, gammas=GAMMAS, seed=0, observer=observer, batched=False, **FAST)
    assert rr.stop_reason == "interrupted" and [(r.gamma, r.partial) for r in rr.runs] == [
        (1, False)
    ]
    assert rr.fit is None and math.isnan(rr.mi) and "partial" in {f.code for f in rr.flags}


def test_a_second_ctrl_c_during_the_clean_up_loses_nothing(data, monkeypatch):
    fitted = []

    def fit_interrupted_once(*args):
        if not fitted:
            fitted.append(True)
            _ctrl_c()  # arrives while the kept runs are fitted
        return real_fit(*args)

    real_fit = reduce.fit_runs
    monkeypatch.setattr(reduce, "fit_runs", fit_interrupted_once)
    observer = _EveryRunHasAnEpoch(keep_interrupting=True)
    rr = _kept(nmi.rigorous, *data, gammas=GAMMAS, seed=0, observer=observer, **FAST)
    _check_partial(rr, "interrupted")
    assert fitted and len(observer.ended_after_stop) == sum(GAMMAS) + 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_run_interrupted_as_it_ends_is_kept_and_stops_the_analysis(data):
    def observer(event):  # one after another: the first run has just been evaluated
        if isinstance(event, RunEnded):
            raise KeyboardInterrupt

    rr = _kept(nmi.rigorous, *data, gammas=GAMMAS, seed=0, observer=observer, batched=False, **FAST)
    assert rr.stop_reason == "interrupted" and len(rr.runs) == 1
    run = rr.runs[0]  # trained to its end: its own stop_reason, not partial
    assert run.epochs_run == 5 and math.isfinite(run.mi)
    assert run.stop_reason == "max_epochs" and not run.partial


def test_partial_marks_survive_save_and_load_and_old_files_load_as_finished(data, tmp_path):
    cancel = nmi.CancelToken()
    observer = _EveryRunHasAnEpoch(cancel)
    rr = _kept(nmi.rigorous, *data, gammas=GAMMAS, seed=0, observer=observer, cancel=cancel, **FAST)
    path = tmp_path / "partial.json"
    rr.save(path)
    back = nmi.load(path)
    assert [r.partial for r in back.runs] == [r.partial for r in rr.runs] == [True] * 6
    assert back.stopped and back.mi == rr.mi and back.flags == rr.flags
    envelope = json.loads(path.read_text())
    for run in envelope["result"]["runs"]:
        del run["partial"]  # as written before the field existed
    path.write_text(json.dumps(envelope))
    assert not any(r.partial for r in nmi.load(path).runs)


def test_an_interrupted_estimate_keeps_its_best_checkpoint_through_a_second_ctrl_c(
    data, monkeypatch
):
    state = {"stopped": False, "signalled": False}
    real_evaluate = train.evaluate_bound

    def evaluate(*args, **kwargs):
        if state["stopped"] and not state["signalled"]:
            state["signalled"] = True
            _ctrl_c()  # arrives while the best checkpoint is evaluated
        return real_evaluate(*args, **kwargs)

    def observer(event):
        if isinstance(event, EpochEnded) and event.epoch == 2:
            state["stopped"] = True
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "evaluate_bound", evaluate)
    r = _kept(nmi.estimate, *data, seed=0, observer=observer, **{**FAST, "epochs": 30})
    assert state["signalled"] and r.stopped and r.stop_reason == "interrupted"
    assert r.epochs_run == 3 and 0 <= r.best_epoch <= 2 and math.isfinite(r.mi)
    assert r.critic is not None


def test_deferred_interrupts_hold_ctrl_c_in_the_main_thread_only():
    with deferred_interrupts() as held:
        _ctrl_c()
        _ctrl_c()
    assert held.count == 2 and held.interrupted
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        _ctrl_c()

    seen = []

    def elsewhere():
        with deferred_interrupts() as inner:
            seen.append(signal.getsignal(signal.SIGINT))
        seen.append(inner.interrupted)

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert seen == [signal.default_int_handler, False]


def test_call_quietly_drops_only_keyboard_interrupts():
    def interrupting(_):
        raise KeyboardInterrupt

    def failing(_):
        raise ValueError("a bug in an observer is not hidden")

    assert call_quietly(interrupting, None) is True
    assert call_quietly(lambda _: None, None) is False
    with pytest.raises(ValueError):
        call_quietly(failing, None)
