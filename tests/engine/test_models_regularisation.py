"""Regularising the critic: spectral normalisation of the hidden layers and weight decay,
the same numbers in the one-run and the stacked (batched) trainers."""

import copy

import numpy as np
import pytest
import torch
from torch.func import stack_module_state

import nmi_jupyter as nmi
from nmi_jupyter import EstimateConfig, OptionError
from nmi_jupyter.engine.batched import StackedAdam
from nmi_jupyter.engine.bounds import get_bound
from nmi_jupyter.engine.models import build_critic, stacked_scores, stacked_spectral_normalised

FAST = {"epochs": 4, "batch_size": 32, "hidden_dim": 16, "embedding_dim": 8, "device": "cpu"}
# One power iteration per training step (torch's default, and the reference library's)
# tracks sigma from below and lags while the weights move: measured, the normalised
# weights' true spectral norm reached 1.05-1.09 after 40-200 Adam steps at lr 1e-3.
SIGMA_TOL = 0.15
LR = 1e-3


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=1500, dim=2, mi=1.0, seed=0)


def _batches(steps: int, n: int = 200, dim: int = 5, batch: int = 32):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=gen)
    y = x + 0.5 * torch.randn(n, dim, generator=gen)
    for _ in range(steps):
        idx = torch.randint(0, n, (batch,), generator=gen)
        yield x[idx], y[idx]


def _sn_config(**more) -> EstimateConfig:
    return EstimateConfig(spectral_norm=True, hidden_dim=16, embedding_dim=8, device="cpu", **more)


def _train_both(config: EstimateConfig, steps: int):
    """One critic trained by torch (nn.Module + torch.optim) and its copy trained in the
    stacked form (stacked_scores + StackedAdam) on the same minibatches."""
    torch.manual_seed(0)
    critic = build_critic(config, 5, 5)
    params, buffers = stack_module_state([copy.deepcopy(critic)])
    names = list(params)
    scores = stacked_scores(config)
    bound = get_bound("infonce", 5.0)
    opt = torch.optim.Adam(critic.parameters(), lr=LR)
    stacked_opt = StackedAdam([params[n] for n in names], lr=LR)
    critic.train()
    for x, y in _batches(steps):
        loss = -bound(critic(x, y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        plist = [params[n] for n in names]
        values = bound(scores({**params, **buffers}, x[None], y[None], True))
        stacked_opt.step(plist, torch.autograd.grad(-values.sum(), plist))
    return critic, params, buffers


def test_hidden_layers_are_spectrally_normalised_the_output_layer_is_free():
    critic = build_critic(_sn_config(), 5, 5)
    names = dict(critic.named_parameters())
    assert "g.0.parametrizations.weight.original" in names
    assert "g.2.parametrizations.weight.original" in names
    assert "g.4.weight" in names  # the output layer
    plain = build_critic(EstimateConfig(hidden_dim=16, embedding_dim=8), 5, 5)
    assert not any("parametrizations" in n for n, _ in plain.named_parameters())


def test_one_run_hidden_layers_keep_spectral_norm_at_most_one_after_training():
    critic, _, _ = _train_both(_sn_config(), steps=40)
    critic.eval()
    for net in (critic.g, critic.h):
        for layer in (net[0], net[2]):
            sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
            assert sigma <= 1 + SIGMA_TOL
        # the normalisation is doing something: the raw first layer is far from norm 1
        raw = torch.linalg.matrix_norm(net[0].parametrizations.weight.original.detach(), ord=2)
        assert raw > 1.3


def test_stacked_hidden_layers_keep_spectral_norm_at_most_one_after_training():
    _, params, buffers = _train_both(_sn_config(), steps=40)
    for prefix in ("g.0", "g.2", "h.0", "h.2"):
        sn = f"{prefix}.parametrizations.weight"
        weight = stacked_spectral_normalised(
            params[sn + ".original"].detach(), buffers[sn + ".0._u"], buffers[sn + ".0._v"], False
        )
        assert torch.linalg.matrix_norm(weight[0], ord=2) <= 1 + SIGMA_TOL


def test_stacked_power_iteration_is_torchs_step_for_step():
    critic, params, buffers = _train_both(_sn_config(), steps=30)
    state = {**params, **buffers}
    for name, value in critic.state_dict().items():
        if name == "h.4.bias":
            # g(x_i)·c adds a constant to each row of scores, which InfoNCE ignores: its
            # gradient is float noise, which Adam scales up to steps of size lr.
            continue
        torch.testing.assert_close(state[name][0].detach(), value, rtol=1e-4, atol=1e-5)


def test_evaluation_does_not_advance_the_power_iteration():
    config = _sn_config()
    critic, params, buffers = _train_both(config, steps=5)
    before = {n: b.clone() for n, b in buffers.items()}
    x, y = next(_batches(1))
    stacked_scores(config)({**params, **buffers}, x[None], y[None])
    for n, b in buffers.items():
        assert torch.equal(b, before[n])
    one = {n: b.clone() for n, b in critic.named_buffers()}
    critic.eval()
    critic(x, y)
    for n, b in critic.named_buffers():
        assert torch.equal(b, one[n])


def test_stacked_weight_decay_is_decoupled_as_in_adamw():
    # With zero gradients AdamW only shrinks every weight by (1 - lr * weight_decay) per
    # step; Adam's L2 decay would instead take steps of about lr toward zero.  The
    # trainers' agreement (below) checks the rest of AdamW against torch's.
    weights = torch.randn(3, 4, 5)
    start = weights.clone()
    adam = StackedAdam([weights], lr=1e-2, weight_decay=0.5)
    for _ in range(3):
        adam.step([weights], [torch.zeros_like(weights)])
    torch.testing.assert_close(weights, start * (1 - 1e-2 * 0.5) ** 3)


@pytest.mark.parametrize(
    "options, atol",
    [
        ({"spectral_norm": True}, 3e-3),
        ({"weight_decay": 0.1}, 2e-4),
        ({"spectral_norm": True, "critic": "bilinear", "weight_decay": 0.01}, 3e-3),
    ],
)
def test_batched_and_one_at_a_time_agree_with_regularisation(data, options, atol):
    # Same seeds: the same initialisation (u, v included) and minibatch order; only float
    # summation order differs (a little more after many power iterations).
    b = nmi.rigorous(*data, gammas=[1, 2, 3], seed=0, batched=True, **FAST, **options)
    s = nmi.rigorous(*data, gammas=[1, 2, 3], seed=0, batched=False, **FAST, **options)
    for rb, rs in zip(b.runs, s.runs, strict=True):
        assert rb.best_epoch == rs.best_epoch
        np.testing.assert_allclose(rb.history.val, rs.history.val, atol=atol)
        assert rb.mi == pytest.approx(rs.mi, abs=atol)


def test_regularisation_changes_the_numbers(data):
    plain = nmi.estimate(*data, seed=0, **FAST)
    for options in ({"spectral_norm": True}, {"weight_decay": 1.0}):
        assert nmi.estimate(*data, seed=0, **FAST, **options).mi != plain.mi


def test_spectral_norm_with_the_concat_critic_is_one_clear_sentence():
    with pytest.raises(OptionError, match="not to the concat critic"):
        EstimateConfig(critic="concat", spectral_norm=True)


@pytest.mark.parametrize("value", [-0.1, float("nan"), "a lot"])
def test_weight_decay_must_be_a_non_negative_number(value):
    with pytest.raises(OptionError, match="weight_decay"):
        EstimateConfig(weight_decay=value)
