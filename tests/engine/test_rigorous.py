"""Rigorous mode on small data with tiny models: plan, events, refit, save/load, stopping."""

import math

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter import EpochEnded, InsufficientDataError, OptionError, RunEnded, RunStarted
from nmi_jupyter.engine.data import gamma_chunks, master_order
from nmi_jupyter.engine.extrapolate import fit_gamma_line

FAST = {"epochs": 4, "batch_size": 32, "hidden_dim": 16, "embedding_dim": 8, "device": "cpu"}
GAMMAS = range(1, 6)


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=1500, dim=2, mi=1.0, seed=0)


@pytest.fixture(scope="module")
def result(data):
    return nmi.rigorous(*data, gammas=GAMMAS, seed=0, **FAST)


def test_one_run_per_chunk_on_equal_chunks(result):
    assert len(result.runs) == sum(GAMMAS) == 15
    for run in result.runs:
        assert run.n_samples == 1500 // run.gamma
    assert sorted({(r.gamma, r.chunk) for r in result.runs}) == [
        (g, c) for g in GAMMAS for c in range(g)
    ]
    assert len({r.seed for r in result.runs}) == 15
    assert result.stop_reason == "completed" and not result.partial


def test_gamma_chunks_are_disjoint_equal_and_blocked_when_asked():
    plan = gamma_chunks(master_order(103, "random", np.random.default_rng(0)), [1, 2, 5])
    for gamma, chunks in plan.items():
        assert len(chunks) == gamma and {len(c) for c in chunks} == {103 // gamma}
        joined = np.concatenate(chunks)
        assert len(np.unique(joined)) == len(joined)
    assert not np.array_equal(plan[2][0], np.arange(51))
    blocked = gamma_chunks(master_order(100, "blocked", np.random.default_rng(0)), [4])
    np.testing.assert_array_equal(blocked[4][1], np.arange(25, 50))


def test_fit_is_the_engine_fit_of_the_runs(result):
    g = [r.gamma for r in result.runs]
    mi = [r.mi for r in result.runs]
    mi_val = [r.mi_val for r in result.runs]  # the validation intercept's gap widens the CI
    fit = fit_gamma_line(g, mi, mi_val=mi_val, n_samples=1500)
    assert result.mi == fit.mi and result.mi_error == fit.mi_error
    assert result.fit.se_model == abs(fit.mi - fit.mi_val)
    assert result.gammas_used == fit.gammas_used


def test_refit_is_manual_exact_and_fast_to_undo(result):
    manual = result.refit(exclude={4, 5})
    g = [r.gamma for r in result.runs]
    mi, mi_val = [r.mi for r in result.runs], [r.mi_val for r in result.runs]
    assert manual.fit == fit_gamma_line(g, mi, mi_val=mi_val, exclude={4, 5}, n_samples=1500)
    assert manual.fit.mode == "manual" and manual.gammas_dropped == {4: "manual", 5: "manual"}
    assert manual.runs is result.runs  # no retraining
    back = manual.refit(exclude=None)
    assert back.fit == result.fit and back.fit.mode == "automatic"
    looser = result.refit(min_gamma_points=3)
    assert looser.fit.min_gamma_points == 3


def test_events_are_tagged_with_gamma_chunk_and_control(data):
    events = []
    rr = nmi.rigorous(*data, gammas=[1, 3], seed=1, observer=events.append, **FAST)
    started = [e for e in events if isinstance(e, RunStarted)]
    assert [(e.gamma, e.chunk, e.control) for e in started] == [
        (1, 0, False),
        (3, 0, False),
        (3, 1, False),
        (3, 2, False),
        (2, 0, True),
        (4, 0, True),
        (4, 1, True),
    ]
    assert [e.run_id for e in started] == list(range(7))
    assert all(e.gamma is not None for e in events if isinstance(e, EpochEnded | RunEnded))
    assert [(r.gamma, r.n_samples) for r in rr.controls] == [(2, 750), (4, 375), (4, 375)]


def test_same_seed_same_result(data, result):
    again = nmi.rigorous(*data, gammas=GAMMAS, seed=0, **FAST)
    assert again.mi == result.mi
    assert [r.mi for r in again.runs] == [r.mi for r in result.runs]


def test_save_load_refit_round_trip(tmp_path, data, result):
    manual = result.refit(exclude={5})
    path = tmp_path / "rigorous.json"
    manual.save(path)
    loaded = nmi.load(path)
    assert isinstance(loaded, nmi.RigorousResult)
    assert loaded.fit == manual.fit and loaded.runs == manual.runs
    assert loaded.refit(exclude={4, 5}).fit == manual.refit(exclude={4, 5}).fit
    assert loaded.summary() == manual.summary()
    # the linear lower bound is computed once, from the data, and travels as plain data
    assert loaded.linear == manual.linear and manual.linear.n == len(data[0])
    assert "lower bound from one feature pair" in loaded.summary()
    # files saved before the bound existed load without it
    import json

    d = json.loads(path.read_text())
    del d["result"]["linear"]
    path.write_text(json.dumps(d))
    assert nmi.load(path).linear is None


@pytest.mark.parametrize("batched", [True, False])
def test_cancel_keeps_finished_runs_and_marks_partial(data, batched):
    token = nmi.CancelToken()
    done = []

    def observer(event):
        if isinstance(event, RunEnded):
            done.append(event)
            if len(done) == 6:
                token.cancel()

    rr = nmi.rigorous(
        *data, gammas=GAMMAS, seed=0, observer=observer, cancel=token, batched=batched, **FAST
    )
    assert rr.partial and rr.stopped and rr.stop_reason == "cancelled"
    finished = [r for r in rr.runs if not r.partial]
    cut = [r for r in rr.runs if r.partial]
    # Batched runs that end their last epoch in the same step all finish together; the
    # runs still training keep their best checkpoint so far.  One after another, the
    # next run is cancelled before its first epoch and is left out.
    assert 6 <= len(finished) < 15 if batched else len(finished) == 6
    assert len(cut) >= 1 if batched else cut == []
    assert not rr.is_reliable
    assert all(r.stop_reason in {"early_stopping", "max_epochs"} for r in finished)
    assert all(r.stop_reason == "cancelled" and r.epochs_run >= 1 for r in cut)
    assert any("cancelled" in r for r in rr.reasons)
    if not batched:  # one run after another: gammas 1-3 finished, so a fit exists
        assert math.isfinite(rr.mi)


# Sequential: the 9th epoch falls in the third run (4 epochs each), so two runs
# finished and the third is kept as a partial run.  Batched: all runs train together
# and none has finished 4 epochs yet: the 9 runs with an epoch are kept as partial runs.
@pytest.mark.parametrize(("batched", "finished", "cut"), [(False, 2, 1), (True, 0, 9)])
def test_interrupt_keeps_finished_and_partial_runs(data, batched, finished, cut):
    count = []

    def observer(event):
        if isinstance(event, EpochEnded):
            count.append(event)
            if len(count) == 9:
                raise KeyboardInterrupt

    rr = nmi.rigorous(*data, gammas=GAMMAS, seed=0, observer=observer, batched=batched, **FAST)
    assert rr.stop_reason == "interrupted" and rr.stopped
    assert sum(not r.partial for r in rr.runs) == finished
    assert sum(r.partial for r in rr.runs) == cut
    assert "interrupted" in rr.summary()


def test_errors_come_before_training(data):
    x, y = data
    with pytest.raises(InsufficientDataError, match="gamma = 20 chunks hold 75 samples"):
        nmi.rigorous(x, y, gammas=range(1, 21), **{**FAST, "batch_size": 128})
    with pytest.raises(OptionError, match="gammas must be"):
        nmi.rigorous(x, y, gammas=[0, 1, 2], **FAST)
    with pytest.raises(OptionError, match="gammas must be"):
        nmi.rigorous(x, y, gammas=[2], **FAST)
    with pytest.raises(OptionError, match="repeats"):
        nmi.rigorous(x, y, repeats=0, **FAST)
    with pytest.raises(OptionError, match="delta_threshold"):
        nmi.rigorous(x, y, delta_threshold=-1, **FAST)


def test_repeats_train_more_runs_per_chunk(data):
    rr = nmi.rigorous(*data, gammas=[1, 2], repeats=2, seed=0, **FAST)
    assert len(rr.runs) == 6 and {r.repeat for r in rr.runs} == {0, 1}


def test_reprs_and_plot(result):
    import matplotlib

    matplotlib.use("Agg")
    text = result.summary()
    assert "Corrected MI" in text and result.units in text
    assert "reliable" in result._repr_html_()
    ax = result.plot()
    assert ax.get_xlabel().startswith("gamma") and ax.get_ylabel() == "MI (bits)"
    manual = result.refit(exclude={5}).plot()
    assert any(t.get_text() == "manual" for t in manual.texts)


def test_unknown_rigorous_option_names_the_closest(data):
    with pytest.raises(OptionError, match="did you mean 'gammas'"):
        nmi.rigorous(*data, gamma=[1, 2], **FAST)
    with pytest.raises(OptionError, match="did you mean 'delta_threshold'"):
        nmi.rigorous(*data, delta_treshold=0.2, **FAST)
