"""One training run end to end: reproducibility, units, events, stopping, save/load, errors."""

import json
import math

import numpy as np
import pytest
import torch

import nmi_jupyter as nmi
from nmi_jupyter import (
    CancelToken,
    EpochEnded,
    InsufficientDataError,
    InvalidDataError,
    OptionError,
    RunEnded,
    RunStarted,
)

FAST = {"epochs": 6, "batch_size": 64, "hidden_dim": 16, "embedding_dim": 8, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=800, dim=2, mi=1.0, seed=0)


def test_same_seed_is_bit_for_bit_reproducible(data):
    a = nmi.estimate(*data, seed=3, **FAST)
    b = nmi.estimate(*data, seed=3, **FAST)
    c = nmi.estimate(*data, seed=4, **FAST)
    np.testing.assert_array_equal(a.history.val, b.history.val)
    np.testing.assert_array_equal(a.history.train, b.history.train)
    assert a.mi == b.mi
    assert a.mi != c.mi


def test_missing_seed_is_drawn_and_recorded(data):
    r = nmi.estimate(*data, **FAST)
    again = nmi.estimate(*data, **{**FAST, "seed": r.settings["seed"]})
    assert again.mi == r.mi


def test_nats_and_bits_differ_by_ln2(data):
    bits = nmi.estimate(*data, seed=1, units="bits", **FAST)
    nats = nmi.estimate(*data, seed=1, units="nats", **FAST)
    assert nats.mi == pytest.approx(bits.mi * math.log(2), rel=1e-12)
    np.testing.assert_allclose(nats.history.val_smoothed, bits.history.val_smoothed * math.log(2))
    assert bits.units == "bits" and nats.units == "nats"


def test_result_reports_the_best_smoothed_epoch(data):
    r = nmi.estimate(*data, seed=2, **{**FAST, "epochs": 12})
    h = r.history
    assert r.best_epoch == int(np.argmax(h.val_smoothed)) or h.val_smoothed[r.best_epoch] >= (
        h.val_smoothed.max() * (1 - 1e-3)
    )
    # Here the validation set (80) is smaller than both block sizes, so the reported
    # validation value is the curve's value at the best epoch.
    assert r.mi_val == pytest.approx(h.val[r.best_epoch], rel=1e-6)
    assert len(h.train) == len(h.val) == len(h.val_smoothed) == r.epochs_run


def test_restored_critic_reproduces_the_reported_value(data):
    r = nmi.estimate(*data, seed=5, standardize=False, copula=False, **{**FAST, "epochs": 10})
    x, y = data
    # Re-derive the split the run used and evaluate the restored critic on its
    # training part: the number must equal the reported one.
    from nmi_jupyter.engine.bounds import infonce
    from nmi_jupyter.engine.data import split_indices
    from nmi_jupyter.engine.runtime import child_seeds
    from nmi_jupyter.engine.train import evaluate_bound

    split_seed, _, shuffle_seed = child_seeds(5, 3)
    tr, _ = split_indices(len(x), "random", 0.1, 0, np.random.default_rng(split_seed))
    order = torch.randperm(len(tr), generator=torch.Generator().manual_seed(shuffle_seed))
    xt = torch.as_tensor(x[tr], dtype=torch.float32)
    yt = torch.as_tensor(y[tr], dtype=torch.float32)
    value = evaluate_bound(r.critic.eval(), infonce, xt, yt, r.settings["eval_batch_size"], order)
    assert value / math.log(2) == pytest.approx(r.mi, rel=1e-6)


def test_events_arrive_in_order_with_units(data):
    events = []
    r = nmi.estimate(*data, seed=0, observer=events.append, **FAST)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert [e.epoch for e in epochs] == list(range(r.epochs_run))
    assert epochs[-1].val_smoothed == pytest.approx(tuple(r.history.val_smoothed))
    assert events[-1].mi == r.mi and events[-1].units == "bits"
    assert events[0].n_train == r.n_train == 720 and events[0].n_val == 80


def test_cancel_token_stops_between_epochs_and_keeps_the_partial_result(data):
    token = CancelToken()

    def observer(event):
        if isinstance(event, EpochEnded) and event.epoch == 2:
            token.cancel()

    r = nmi.estimate(*data, seed=0, observer=observer, cancel=token, **{**FAST, "epochs": 30})
    assert r.stop_reason == "cancelled" and r.stopped
    assert r.epochs_run == 3 and math.isfinite(r.mi)


def test_keyboard_interrupt_returns_the_partial_result_marked_interrupted(data):
    def observer(event):
        if isinstance(event, EpochEnded) and event.epoch == 3:
            raise KeyboardInterrupt

    r = nmi.estimate(*data, seed=0, observer=observer, **{**FAST, "epochs": 30})
    assert r.stop_reason == "interrupted" and r.stopped
    assert r.epochs_run == 4 and 0 <= r.best_epoch <= 3
    assert "interrupted" in r.summary()


def test_interrupt_before_the_first_epoch_gives_nan_not_a_crash(data):
    def observer(event):
        if isinstance(event, RunStarted):
            raise KeyboardInterrupt

    r = nmi.estimate(*data, seed=0, observer=observer, **FAST)
    assert r.stopped and r.epochs_run == 0 and math.isnan(r.mi) and r.best_epoch == -1


def _diverging_bound(after_calls: int, only_first_run: bool = False):
    """A real InfoNCE that turns NaN in training after ``after_calls`` training steps."""
    from nmi_jupyter.engine.bounds import infonce

    calls = []

    def bound(scores):
        value = infonce(scores)
        if torch.is_grad_enabled():
            calls.append(1)
            if len(calls) > after_calls:
                if only_first_run:
                    value = torch.cat([value[:1] * float("nan"), value[1:]])
                else:
                    value = value * float("nan")
        return value

    return lambda name, clip=5.0: bound


def test_divergence_stops_the_run_and_keeps_the_best_finite_epoch(data, monkeypatch):
    monkeypatch.setattr("nmi_jupyter.engine.train.get_bound", _diverging_bound(25))
    r = nmi.estimate(*data, seed=0, **{**FAST, "epochs": 20})
    # 720 training samples, batch 64: 11 steps an epoch, so step 26 falls in epoch 2.
    assert r.stop_reason == "diverged" and r.epochs_run == 2
    assert np.all(np.isfinite(r.history.val)) and r.best_epoch in (0, 1)
    assert math.isfinite(r.mi) and "diverged" in r.summary()


def test_a_diverging_batched_run_is_left_out_and_flagged(data, monkeypatch):
    monkeypatch.setattr(
        "nmi_jupyter.engine.batched.get_bound", _diverging_bound(25, only_first_run=True)
    )
    rr = nmi.rigorous(*data, gammas=[1, 2, 3], seed=0, control=False, **{**FAST, "epochs": 6})
    first = [r for r in rr.runs if (r.gamma, r.chunk) == (1, 0)][0]
    assert first.stop_reason == "diverged"
    assert all(r.stop_reason != "diverged" for r in rr.runs if r is not first)
    assert 1 not in rr.gammas_used  # its only run was excluded from the fit
    assert "unstable_runs" in {f.code for f in rr.flags}


def _exploding_bound(bound_name: str, after_calls: int):
    """A real bound whose per-epoch curves blow up (finite: x 1e6) after ``after_calls``
    training steps, as with SMILE at lr=10 or InfoNCE at lr=1.  The curves are
    evaluated in blocks under 2 x batch_size; the reported numbers, in blocks of 512 on
    the whole partition, stay real, so the restored checkpoint shows its true value."""
    from nmi_jupyter.engine.bounds import get_bound

    real, calls = get_bound(bound_name), []

    def bound(scores):
        value = real(scores)
        if torch.is_grad_enabled():
            calls.append(1)
        elif len(calls) > after_calls and scores.shape[-1] < 2 * FAST["batch_size"]:
            return value * 1e6
        return value

    return lambda name, clip=5.0: bound


@pytest.mark.parametrize("estimator", ["infonce", "smile"])
def test_a_finite_blow_up_is_divergence(data, monkeypatch, estimator):
    # Before, finite blow-ups ran to max_epochs and were reported (392038 bits).
    monkeypatch.setattr("nmi_jupyter.engine.train.get_bound", _exploding_bound(estimator, 25))
    r = nmi.estimate(*data, seed=0, estimator=estimator, **{**FAST, "epochs": 20})
    assert r.stop_reason == "diverged" and r.epochs_run == 2 and r.best_epoch in (0, 1)
    assert abs(r.mi) < 5 and "diverged" in {f.code for f in r.flags} and not r.is_reliable
    assert "unreliable because training diverged" in r.summary()


def test_a_finite_blow_up_in_batched_runs_is_divergence(data, monkeypatch):
    monkeypatch.setattr("nmi_jupyter.engine.batched.get_bound", _exploding_bound("infonce", 25))
    rr = nmi.rigorous(*data, gammas=[1, 2, 3], seed=0, control=False, **{**FAST, "epochs": 20})
    assert {r.stop_reason for r in rr.runs} == {"diverged"} and rr.fit is None
    assert all(r.epochs_run < 20 for r in rr.runs)  # before: max_epochs, wild values fitted
    assert "unstable_runs" in {f.code for f in rr.flags} and not rr.is_reliable


def test_a_degenerate_variable_is_flagged():
    # One positive in 2000: constant in one partition (-0.083 bits with no word before).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = np.zeros(2000)
    y[7] = 1.0
    r = nmi.estimate(x, y, seed=0, **{**FAST, "epochs": 2})
    assert "degenerate_variable" in {f.code for f in r.flags} and not r.is_reliable
    assert min(r.varying_samples.values()) == 0 and "nearly) constant" in r.summary()
    ok = nmi.estimate(x, (x[:, 0] > 0).astype(float), seed=0, **{**FAST, "epochs": 2})
    assert "degenerate_variable" not in {f.code for f in ok.flags}


def test_fewer_samples_than_features_is_unreliable():
    # d = 1000 with N = 500 gave 0.51 bits for 2.5 with no word; smaller here.
    x, y = nmi.generators.correlated_gaussians(n=300, dim=400, mi=2.5, seed=0)
    r = nmi.estimate(x, y, seed=0, **{**FAST, "epochs": 2})
    flag = [f for f in r.flags if f.code == "too_few_samples"]
    assert flag and flag[0].unreliable and not r.is_reliable and "too_few_samples" in repr(r)


@pytest.mark.parametrize("critic", ["separable", "bilinear", "concat"])
@pytest.mark.parametrize("estimator", ["infonce", "nwj", "tuba", "js", "smile"])
def test_every_estimator_and_critic_trains(data, estimator, critic):
    r = nmi.estimate(
        *data, seed=0, estimator=estimator, critic=critic, **{**FAST, "epochs": 3, "batch_size": 32}
    )
    assert np.all(np.isfinite(r.history.train)) and r.epochs_run == 3


def test_blocked_split_and_gap(data):
    r = nmi.estimate(*data, seed=0, split="blocked", gap=20, **FAST)
    assert (r.n_train, r.n_val) == (700, 80)


def test_save_and_load_round_trip(tmp_path, data):
    r = nmi.estimate(*data, seed=0, **FAST)
    path = tmp_path / "result.json"
    r.save(path)
    envelope = json.loads(path.read_text())
    assert envelope["format"] == "nmi_jupyter.result" and envelope["format_version"] == 1
    loaded = nmi.load(path)
    assert loaded == r  # compares every field but the (unsaved) trained critic
    assert loaded.critic is None
    assert loaded.summary() == r.summary() and loaded.linear == r.linear


def test_a_critic_far_below_the_linear_bound_is_unreliable():
    # 6 bits in one dimension and 2 epochs: the critic is nowhere near the truth, while
    # the closed-form bound of the one feature pair already shows about 6 bits.
    x, y = nmi.generators.correlated_gaussians(2000, 1, 6.0, seed=0)
    r = nmi.estimate(x, y, seed=0, **{**FAST, "epochs": 2})
    bound, se = r.linear.in_units("bits")
    assert abs(bound - 6.0) < 0.3 and r.linear.pair == (0, 0) and r.mi < 0.85 * bound
    # the same flag, and verdict, as a rigorous result's (it was a warning line before)
    assert "below_linear_bound" in {f.code for f in r.flags} and not r.is_reliable
    assert "unreliable because the estimate" in r.summary()
    assert "a lower bound on the MI" in r.summary()
    assert "lower bound, one feature pair" in r._repr_html_()
    # an estimate that reaches the bound gets none
    pair = nmi.generators.correlated_gaussians(2000, 1, 1.0, seed=0)
    easy = nmi.estimate(*pair, seed=0, **{**FAST, "epochs": 40, "patience": 40})
    assert easy.linear is not None and "below_linear_bound" not in {f.code for f in easy.flags}


def test_nan_values_survive_save_as_null(tmp_path, data):
    def observer(event):
        if isinstance(event, RunStarted):
            raise KeyboardInterrupt

    r = nmi.estimate(*data, seed=0, observer=observer, **FAST)
    r.save(tmp_path / "r.json")
    assert math.isnan(nmi.load(tmp_path / "r.json").mi)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON result file"),
        ('{"format": "something else"}', "not an nmi_jupyter result file"),
        ('{"format": "nmi_jupyter.result", "format_version": 99, "result": {}}', "upgrade"),
        (
            '{"format": "nmi_jupyter.result", "format_version": 1, "result": {"kind": "estimate"}}',
            "incomplete or damaged",
        ),
    ],
)
def test_load_rejects_bad_files_with_a_sentence(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(nmi.NeuralMIError, match=message):
        nmi.load(path)


def test_load_of_a_missing_file():
    with pytest.raises(nmi.NeuralMIError, match="No result file"):
        nmi.load("/nonexistent/result.json")


def test_user_errors_are_neural_mi_errors(data):
    x, y = data
    with pytest.raises(InvalidDataError, match="same number of samples"):
        nmi.estimate(x, y[:-1], **FAST)
    with pytest.raises(OptionError, match="did you mean 'epochs'"):
        nmi.estimate(x, y, epoch=3)
    with pytest.raises(InsufficientDataError, match="batch_size"):
        nmi.estimate(x[:120], y[:120], **{**FAST, "batch_size": 128})
    with (
        pytest.raises(OptionError, match="no CUDA GPU")
        if not torch.cuda.is_available()
        else (pytest.raises(AssertionError))
    ):
        nmi.estimate(x, y, **{**FAST, "device": "cuda"})
        raise AssertionError  # reached only with a GPU


def test_reprs_and_plot(data):
    import matplotlib

    matplotlib.use("Agg")
    r = nmi.estimate(*data, seed=0, **FAST)
    assert "MI estimate" in r.summary() and r.units in str(r)
    html = r._repr_html_()
    assert "<table>" in html and f"{r.mi:.4f}" in html
    ax = r.plot()
    assert ax.get_ylabel() == "MI (bits)" and len(ax.lines) >= 3


def test_threads_are_restored_after_the_run(data):
    before = torch.get_num_threads()
    r = nmi.estimate(*data, seed=0, **FAST)
    assert r.threads == 1 and torch.get_num_threads() == before
    assert nmi.estimate(*data, seed=0, threads=2, **FAST).threads == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_runs_on_cuda(data):
    r = nmi.estimate(*data, seed=0, **{**FAST, "device": "cuda"})
    assert r.device.startswith("cuda") and math.isfinite(r.mi)
