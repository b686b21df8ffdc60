"""critic="hybrid" (issue 19): each side squeezed through an embedding of the bottleneck
dimension, then an MLP scoring every pair of embeddings."""

import copy

import pytest
import torch
from torch.func import functional_call, stack_module_state, vmap

import nmi_jupyter as nmi
from nmi_jupyter.engine.batched import max_stack
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.memory import pair_bytes, training_bytes
from nmi_jupyter.engine.models import HybridCritic, build_critic, eval_pair_bytes, stacked_scores


def test_scores_every_pair_through_the_bottleneck():
    config = EstimateConfig(critic="hybrid", embedding_dim=3, hidden_dim=8, n_layers=2)
    torch.manual_seed(0)
    critic = build_critic(config, 5, 4)
    assert isinstance(critic, HybridCritic)
    assert critic.g(torch.randn(2, 5)).shape == (2, 3)  # the explicit bottleneck
    x, y = torch.randn(6, 5), torch.randn(7, 4)
    scores = critic(x, y)
    assert scores.shape == (6, 7)
    # scores[i, j] is g(x_i) · h(y_j) plus the pair MLP on the concatenated embeddings
    gx, hy = critic.g(x), critic.h(y)
    pair = critic.pair
    first = torch.cat([pair.x_in.weight, pair.y_in.weight], dim=1)
    by_loop = torch.stack(
        [
            torch.stack(
                [
                    pair.rest(pair.act(first @ torch.cat([gx[i], hy[j]]) + pair.x_in.bias))[0]
                    for j in range(7)
                ]
            )
            for i in range(6)
        ]
    )
    torch.testing.assert_close(scores, gx @ hy.T + by_loop)


def test_the_dot_product_needs_one_embedding_width():
    # A concat critic on windows pairs embeddings of two widths: the pair MLP alone.
    g, h = torch.nn.Linear(5, 3), torch.nn.Linear(4, 2)
    critic = HybridCritic(g, h, (3, 2), hidden_dim=8, n_layers=1, activation="relu")
    assert not critic.dot
    x, y = torch.randn(6, 5), torch.randn(7, 4)
    torch.testing.assert_close(critic(x, y), critic.pair(g(x), h(y)))
    same = HybridCritic(g, torch.nn.Linear(4, 3), 3, hidden_dim=8, n_layers=1, activation="relu")
    assert same.dot
    off = HybridCritic(g, same.h, 3, 8, 1, "relu", dot=False)
    off.pair = same.pair
    torch.testing.assert_close(same(x, y) - off(x, y), g(x) @ same.h(y).T)


@pytest.mark.parametrize("n_layers", [1, 3])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_direct_stacked_scores_equal_each_critic(n_layers, spectral_norm):
    config = EstimateConfig(
        critic="hybrid",
        activation="tanh",
        n_layers=n_layers,
        hidden_dim=8,
        embedding_dim=2,
        spectral_norm=spectral_norm,
    )
    torch.manual_seed(0)
    critics = [build_critic(config, 3, 2).eval() for _ in range(4)]
    params, buffers = stack_module_state(critics)
    x, y = torch.randn(4, 6, 3), torch.randn(4, 5, 2)
    direct = stacked_scores(config)
    assert direct is not None
    got = direct({**params, **buffers}, x, y)
    assert got.shape == (4, 6, 5)
    for k in range(4):
        torch.testing.assert_close(got[k], critics[k](x[k], y[k]))
    if not spectral_norm:
        base = copy.deepcopy(critics[0]).to("meta")
        expected = vmap(lambda p, b, xx, yy: functional_call(base, (p, b), (xx, yy)))(
            params, buffers, x, y
        )
        torch.testing.assert_close(got, expected)


def test_memory_counts_the_pair_mlp_like_concat():
    hybrid = EstimateConfig(critic="hybrid")
    concat = EstimateConfig(critic="concat")
    assert training_bytes(hybrid) == training_bytes(concat) > training_bytes(EstimateConfig())
    assert max_stack(hybrid, 128) == max_stack(concat, 128) < 55
    critic = build_critic(EstimateConfig(critic="hybrid", hidden_dim=16, n_layers=3), 4, 4)
    assert eval_pair_bytes(dict(critic.named_parameters())) == pair_bytes(
        "concat", 16, 3, training=False
    )
    with pytest.raises(nmi.OptionError, match="hybrid critic"):
        EstimateConfig(critic="hybrid", batch_size=2000)
