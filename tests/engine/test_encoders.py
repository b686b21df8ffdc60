"""Sequence encoders (embedding = mlp | cnn | gru | tcn) on windows (N, window, channels)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nmi_jupyter as nmi
from nmi_jupyter.engine import trainer
from nmi_jupyter.engine.config import make_config
from nmi_jupyter.engine.data import check_pair, copula_normal, standardized_parts
from nmi_jupyter.engine.encoders import KERNEL_SIZE, TCNEncoder, sequence_encoder, tcn_dilations
from nmi_jupyter.engine.errors import InvalidDataError, OptionError
from nmi_jupyter.engine.models import build_critic
from nmi_jupyter.engine.options import EMBEDDINGS, SEQUENCE_EMBEDDINGS
from nmi_jupyter.engine.plan import rigorous_plan

RNG = np.random.default_rng(3)
TINY = {"epochs": 2, "hidden_dim": 8, "embedding_dim": 4, "batch_size": 64, "seed": 0}


def windows_pair(n: int = 300, window: int = 6, channels: int = 2, seed: int = 0):
    """x windows; y (n, 1) the sum of x's last two steps in channel 0, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, window, channels))
    y = x[:, -2:, 0].sum(axis=1, keepdims=True) + 0.5 * rng.normal(size=(n, 1))
    return x, y


def one_sentence(info: pytest.ExceptionInfo) -> str:
    text = str(info.value)
    assert text.endswith(".") and "\n" not in text, text
    return text


# ----- the encoders -----


@pytest.mark.parametrize("embedding", SEQUENCE_EMBEDDINGS)
@pytest.mark.parametrize("window", [1, 5, 20])
def test_each_encoder_maps_windows_to_embeddings(embedding, window):
    encoder = sequence_encoder(
        embedding, window, 3, 7, hidden_dim=8, n_layers=2, activation=torch.nn.ReLU
    )
    out = encoder(torch.randn(5, window, 3))
    assert out.shape == (5, 7) and torch.isfinite(out).all()


@pytest.mark.parametrize("window", [1, 2, 3, 5, 6, 20, 64])
@pytest.mark.parametrize("n_layers", [1, 2, 4])
def test_tcn_dilations_double_and_cover_the_window(window, n_layers):
    dilations = tcn_dilations(window, n_layers)
    assert dilations == [2**k for k in range(len(dilations))] and len(dilations) >= n_layers
    assert 1 + (KERNEL_SIZE - 1) * sum(dilations) >= window
    if len(dilations) > n_layers:  # no layer more than the window needs
        assert 1 + (KERNEL_SIZE - 1) * sum(dilations[:-1]) < window


def test_tcn_is_causal_and_its_last_step_sees_the_whole_window():
    torch.manual_seed(0)
    tcn = TCNEncoder(2, 20, 4, hidden_dim=8, n_layers=1, activation=torch.nn.Tanh)
    x = torch.randn(3, 20, 2)
    later = x.clone()
    later[:, 12:] += 1.0
    with torch.no_grad():
        h, h_later = (tcn.blocks(a.transpose(1, 2)) for a in (x, later))
        assert torch.equal(h[:, :, :12], h_later[:, :, :12])  # step t sees steps <= t only
        first = x.clone()
        first[:, 0] += 1.0
        assert not torch.allclose(tcn(x), tcn(first))  # the first step reaches the output


@pytest.mark.parametrize("critic", ["separable", "bilinear", "concat", "hybrid"])
@pytest.mark.parametrize("embedding", EMBEDDINGS)
def test_every_critic_head_scores_encoded_windows(critic, embedding):
    config = make_config(critic=critic, embedding=embedding, hidden_dim=8, embedding_dim=4)
    for x_shape, y_shape in [((6, 2), (1,)), ((6, 2), (4, 3)), ((3,), (6, 2))]:
        net = build_critic(config, x_shape, y_shape)
        scores = net(torch.randn(5, *x_shape), torch.randn(5, *y_shape))
        assert scores.shape == (5, 5)


def test_a_sequence_embedding_without_windows_is_a_sentence():
    # what an analysis that flattened the data would hand the trainer
    config = make_config(embedding="gru")
    with pytest.raises(InvalidDataError, match="embedding='gru' encodes windows") as info:
        build_critic(config, 3, 2)
    one_sentence(info)


# ----- the data -----


def test_mlp_flattens_windows_and_sequence_embeddings_keep_them():
    x, y = windows_pair(n=50, window=4, channels=3)
    xs, ys = check_pair(x, y)
    assert xs.shape == (50, 12) and ys.shape == (50, 1)
    np.testing.assert_array_equal(xs, x.reshape(50, 12))
    for embedding in SEQUENCE_EMBEDDINGS:
        xs, ys = check_pair(x, y, embedding)
        assert xs.shape == (50, 4, 3) and ys.shape == (50, 1)
        np.testing.assert_array_equal(xs, x)
    xs, ys = check_pair(torch.as_tensor(x), x[:, :, :1], "cnn")  # both sides windows
    assert xs.shape == (50, 4, 3) and ys.shape == (50, 4, 1)


def test_copula_of_windows_is_one_map_per_channel():
    """Windows slid over one series: a sample's value maps to the same normal score at
    every step of every window holding it (ranked per channel, not per step)."""
    rng = np.random.default_rng(1)
    series = np.stack([rng.exponential(size=200), rng.standard_t(3, size=200)], axis=1)
    w = np.lib.stride_tricks.sliding_window_view(series, 5, axis=0).transpose(0, 2, 1)
    scores = copula_normal(w)
    assert scores.shape == w.shape
    np.testing.assert_allclose(scores[1:, 0], scores[:-1, 1])  # sample t+1, steps 0 and 1
    for c in range(2):
        raw, mapped = w[:, :, c].ravel(), scores[:, :, c].ravel()
        order = np.argsort(raw)
        assert np.all(np.diff(mapped[order]) >= 0)  # monotone in the raw value
        assert abs(mapped.mean()) < 1e-3 and abs(mapped.std() - 1) < 0.05


def test_windows_are_standardised_per_channel_on_training_rows():
    rng = np.random.default_rng(2)
    data = rng.normal(loc=[3.0, -1.0], scale=[2.0, 0.5], size=(40, 6, 2))
    train, val = np.arange(30), np.arange(30, 40)
    a, b = standardized_parts(data, [train, val])
    assert a.shape == (30, 6, 2) and b.shape == (10, 6, 2) and a.dtype == np.float32
    np.testing.assert_allclose(a.reshape(-1, 2).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(a.reshape(-1, 2).std(0), 1, atol=1e-5)
    mean, std = data[train].reshape(-1, 2).mean(0), data[train].reshape(-1, 2).std(0)
    np.testing.assert_allclose(b, (data[val] - mean) / std, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("x", "y", "options", "error", "words"),
    [
        (
            RNG.normal(size=(20, 3)),
            RNG.normal(size=(20, 1)),
            {"embedding": "gru"},
            InvalidDataError,
            "embedding='gru' encodes windows of shape",
        ),
        (
            RNG.normal(size=(20, 4, 2, 2)),
            RNG.normal(size=(20, 1)),
            {"embedding": "cnn"},
            InvalidDataError,
            "reshape it to 3 dimensions",
        ),
        (
            RNG.normal(size=(20, 4, 2)),
            RNG.normal(size=(19, 1)),
            {"embedding": "tcn"},
            InvalidDataError,
            "same number of samples",
        ),
        (
            RNG.normal(size=(20, 4, 2)),
            RNG.normal(size=(20, 1)),
            {"embedding": "lstm"},
            OptionError,
            "embedding must be one of",
        ),
        (
            RNG.normal(size=(20, 4, 2)),
            RNG.normal(size=(20, 1)),
            {"embedding": "gru", "spectral_norm": True},
            OptionError,
            "spectral_norm applies to MLP embeddings",
        ),
    ],
)
def test_window_mistakes_are_one_sentence(x, y, options, error, words):
    with pytest.raises(error, match=words) as info:
        nmi.estimate(x, y, **{**TINY, **options})
    one_sentence(info)


def test_internal_dimensionality_with_an_encoder_is_a_sentence():
    x, _ = windows_pair()
    with pytest.raises(OptionError, match="use embedding='mlp'") as info:
        nmi.dimensionality(x, embedding="gru", embedding_dims=[1, 2, 3, 4], splits=2, epochs=1)
    one_sentence(info)


# ----- training -----


@pytest.mark.parametrize("embedding", EMBEDDINGS)
def test_each_embedding_trains_through_estimate(embedding):
    x, y = windows_pair()
    r = nmi.estimate(x, y, embedding=embedding, **TINY)
    assert np.isfinite(r.mi) and len(r.history.train) >= 1
    assert r.settings["embedding"] == embedding and r.x_dim == 12 and r.y_dim == 1
    # seeded: the same run again gives the same number
    assert nmi.estimate(x, y, embedding=embedding, **TINY).mi == r.mi


@pytest.mark.parametrize("embedding", SEQUENCE_EMBEDDINGS)
def test_each_encoder_trains_through_rigorous(embedding):
    x, y = windows_pair()
    rr = nmi.rigorous(
        x,
        y,
        embedding=embedding,
        gammas=[1, 2],
        min_gamma_points=2,
        control=False,
        **{**TINY, "epochs": 1, "batch_size": 32},
    )
    assert np.isfinite(rr.mi) and len(rr.runs) == 3
    assert rr.settings["embedding"] == embedding


def test_windows_train_one_run_after_another(monkeypatch):
    """The stacked trainer's critics are MLPs on 2-D data: a plan on windows is routed
    to the one-run trainer even when batched, and gives what batched=False gives."""
    x, y = windows_pair()
    xs, ys = check_pair(x, y, "cnn")

    def no_stacks(*args, **kwargs):
        raise AssertionError("windows must not reach the stacked trainer")

    config = make_config(embedding="cnn", **{**TINY, "epochs": 1, "batch_size": 32})
    plan = rigorous_plan(len(xs), [1, 2], 1, False, config)
    cpu = torch.device("cpu")
    sequential = trainer.train_plan(plan, xs, ys, cpu, batched=False)
    monkeypatch.setattr(trainer, "train_batched", no_stacks)
    routed = trainer.train_plan(plan, xs, ys, cpu, batched=True)
    assert [o.mi_train for o in routed] == [o.mi_train for o in sequential]


def test_a_sweep_over_embeddings_keeps_the_windows():
    x, y = windows_pair()
    s = nmi.sweep(x, y, grid={"embedding": ["mlp", "gru"]}, repeats=1, **TINY)
    frame = s.to_frame()
    assert list(frame["embedding"]) == ["mlp", "gru"] and np.isfinite(frame["mi"]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("embedding", SEQUENCE_EMBEDDINGS)
def test_encoders_train_on_cuda(embedding):
    x, y = windows_pair()
    r = nmi.estimate(x, y, embedding=embedding, device="cuda", **TINY)
    assert np.isfinite(r.mi) and r.device.startswith("cuda")


def test_windows_train_on_an_executor_as_in_process():
    from concurrent.futures import ThreadPoolExecutor

    x, y = windows_pair()
    options = {"gammas": [1, 2], "min_gamma_points": 2, "control": False}
    options.update(TINY, epochs=1, batch_size=32, embedding="tcn", threads=1)
    here = nmi.rigorous(x, y, **options)
    with ThreadPoolExecutor(2) as pool:
        there = nmi.rigorous(x, y, executor=pool, **options)
    assert [r.mi for r in there.runs] == [r.mi for r in here.runs] and len(here.runs) == 3


def test_lag_and_permutation_test_keep_windows_for_an_encoder():
    x, y = windows_pair()
    lag = nmi.lag(x, y, lags=[-1, 0, 1], embedding="cnn", repeats=1, **TINY)
    assert lag.settings["embedding"] == "cnn" and len(lag.to_frame()) == 3
    test = nmi.permutation_test(x, y, permutations=2, embedding="gru", **TINY)
    assert np.isfinite(test.p_value)
