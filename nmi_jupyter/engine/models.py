"""Embedding networks and critics f(x, y) that produce a score matrix.

Every critic maps a block of ``n`` x-samples (n, dx) and ``n`` y-samples (n, dy)
to scores (n, n) with ``scores[i, j] = f(x_i, y_j)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.encoders import Flatten, sequence_encoder
from nmi_jupyter.engine.errors import InvalidDataError
from nmi_jupyter.engine.memory import pair_bytes

__all__ = [
    "mlp",
    "SeparableCritic",
    "BilinearCritic",
    "ConcatCritic",
    "HybridCritic",
    "build_critic",
    "stacked_scores",
    "stacked_spectral_normalised",
    "eval_pair_bytes",
]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


# torch's spectral_norm parametrization's defaults, which the stacked form mirrors.
_SN_EPS = 1e-12


def mlp(
    in_dim: int,
    out_dim: int,
    hidden_dim: int,
    n_layers: int,
    activation: str,
    spectral_norm: bool = False,
) -> nn.Sequential:
    """An MLP with ``n_layers`` hidden layers of width ``hidden_dim``, linear output.

    ``spectral_norm``: each hidden layer's weight is divided by its largest singular
    value (torch's ``parametrizations.spectral_norm``: one power iteration per forward
    pass in training mode, none in eval mode); the output layer stays free, as in the
    reference library, so the embedding keeps its scale.
    """
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(n_layers):
        linear = nn.Linear(width, hidden_dim)
        if spectral_norm:
            linear = _spectral_norm(linear, eps=_SN_EPS)
        layers += [linear, _ACTIVATIONS[activation]()]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class SeparableCritic(nn.Module):
    """f(x, y) = g(x) · h(y): one matrix product scores every pair."""

    def __init__(self, g: nn.Module, h: nn.Module) -> None:
        super().__init__()
        self.g, self.h = g, h

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.g(x) @ self.h(y).T


class BilinearCritic(nn.Module):
    """f(x, y) = g(x)ᵀ W h(y) with a learned W, initialised to the identity."""

    def __init__(self, g: nn.Module, h: nn.Module, embedding_dim: int) -> None:
        super().__init__()
        self.g, self.h = g, h
        self.weight = nn.Parameter(torch.eye(embedding_dim))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.g(x) @ self.weight @ self.h(y).T


class ConcatCritic(nn.Module):
    """f(x, y) = MLP([x; y]) evaluated on all n² pairs.

    The first layer is split, W[x; y] = W_x x + W_y y, so the (n, n, dx + dy)
    concatenated input is never built: only the (n, n, hidden) activations are.
    """

    def __init__(self, x_dim: int, y_dim: int, hidden_dim: int, n_layers: int, activation: str):
        super().__init__()
        self.x_in = nn.Linear(x_dim, hidden_dim)
        self.y_in = nn.Linear(y_dim, hidden_dim, bias=False)
        self.act = _ACTIVATIONS[activation]()
        self.rest = mlp(hidden_dim, 1, hidden_dim, n_layers - 1, activation)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hidden = self.act(self.x_in(x)[:, None, :] + self.y_in(y)[None, :, :])
        return self.rest(hidden).squeeze(-1)


class HybridCritic(nn.Module):
    """f(x, y) = g(x) · h(y) + MLP([g(x); h(y)]) on all n² pairs of embeddings.

    Each side is squeezed through an embedding of width ``embedding_dim`` (the
    bottleneck stays explicit), then a small MLP (``hidden_dim``, ``n_layers``) scores
    every pair of embeddings, so cross-view interactions stay nonlinear: a term in
    g(x) or h(y) alone (InfoNCE's optimal critic carries log p(y)) costs no extra
    embedding dimension, as it does for g(x)·h(y) alone.  The pair MLP is a
    :class:`ConcatCritic` on the embeddings (its first layer split, so the
    concatenated pairs are never built).

    The dot product beside the MLP (``dot``, on when both embeddings have one width)
    lets every embedding dimension carry information from the first steps, as in the
    separable critic: without it the pair MLP learned a latent's directions one at a
    time and runs stopped between two of them (issue 19: a 6-dimensional latent read
    5, 7 or no plateau on 3 of 3 seeds tried; with it 6 on 3 of 5 seeds per mode, and
    one off otherwise; ``docs/research/dimensionality.md``).
    """

    def __init__(
        self,
        g: nn.Module,
        h: nn.Module,
        embedding_dim: int | tuple[int, int],
        hidden_dim: int,
        n_layers: int,
        activation: str,
        dot: bool = True,
    ) -> None:
        super().__init__()
        self.g, self.h = g, h
        # (x width, y width) when the two embeddings differ (a concat critic on windows)
        dims = embedding_dim if isinstance(embedding_dim, tuple) else (embedding_dim,) * 2
        self.pair = ConcatCritic(*dims, hidden_dim, n_layers, activation)
        self.dot = dot and dims[0] == dims[1]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gx, hy = self.g(x), self.h(y)
        if self.dot:
            return gx @ hy.T + self.pair(gx, hy)
        return self.pair(gx, hy)


def build_critic(
    config: EstimateConfig, x_dim: int | Sequence[int], y_dim: int | Sequence[int]
) -> nn.Module:
    """The critic named by ``config.critic`` for inputs of the given widths: an int (or
    ``(features,)``) for a 2-D side, ``(window, channels)`` for a side of windows, which
    ``config.embedding`` encodes (:mod:`~nmi_jupyter.engine.encoders`)."""
    x_shape, y_shape = _sample_shape(x_dim), _sample_shape(y_dim)
    if len(x_shape) == 2 or len(y_shape) == 2:
        return _windows_critic(config, x_shape, y_shape)
    if config.embedding != "mlp":
        raise InvalidDataError(
            f"embedding='{config.embedding}' encodes windows of shape (N, window, channels), "
            "but this analysis gave the critic 2-D x and y; make windows with nmi.windows "
            "or use embedding='mlp'."
        )
    x_dim, y_dim = x_shape[0], y_shape[0]
    if config.critic == "concat":
        return ConcatCritic(x_dim, y_dim, config.hidden_dim, config.n_layers, config.activation)
    sizes = (config.embedding_dim, config.hidden_dim, config.n_layers, config.activation)
    g = mlp(x_dim, *sizes, spectral_norm=config.spectral_norm)
    h = mlp(y_dim, *sizes, spectral_norm=config.spectral_norm)
    if config.critic == "bilinear":
        return BilinearCritic(g, h, config.embedding_dim)
    if config.critic == "hybrid":
        return HybridCritic(g, h, *sizes)
    return SeparableCritic(g, h)


def _sample_shape(dim: int | Sequence[int]) -> tuple[int, ...]:
    return (int(dim),) if np.ndim(dim) == 0 else tuple(int(d) for d in dim)


def _windows_critic(
    config: EstimateConfig, x_shape: tuple[int, ...], y_shape: tuple[int, ...]
) -> nn.Module:
    """The critic when a side holds windows (window, channels): that side encoded by
    ``config.embedding`` (an MLP on the flattened window for ``mlp``), a 2-D side by its
    MLP, and the head of ``config.critic`` on the embeddings (the concat critic's MLP on
    the pairs of encoded windows and raw 2-D features)."""
    act = _ACTIVATIONS[config.activation]
    hidden, layers, out = config.hidden_dim, config.n_layers, config.embedding_dim
    concat = config.critic == "concat"

    def side(shape: tuple[int, ...]) -> tuple[nn.Module, int]:
        width = int(np.prod(shape))
        if len(shape) == 2 and config.embedding != "mlp":
            window, channels = shape
            encoder = sequence_encoder(config.embedding, window, channels, out, hidden, layers, act)
            return encoder, out
        if concat:  # the concat critic reads the features themselves
            return (Flatten() if len(shape) == 2 else nn.Identity()), width
        net = mlp(width, out, hidden, layers, config.activation, config.spectral_norm)
        return (nn.Sequential(Flatten(), net) if len(shape) == 2 else net), out

    (g, gx), (h, hy) = side(x_shape), side(y_shape)
    if concat:
        return HybridCritic(g, h, (gx, hy), hidden, layers, config.activation, dot=False)
    if config.critic == "bilinear":
        return BilinearCritic(g, h, out)
    if config.critic == "hybrid":
        return HybridCritic(g, h, out, hidden, layers, config.activation)
    return SeparableCritic(g, h)


def stacked_scores(
    config: EstimateConfig,
) -> Callable[..., torch.Tensor] | None:
    """A direct batched-matmul form of the separable, bilinear and hybrid critics for K
    stacked runs: ``f(state, x (K, B, dx), y (K, B, dy), training=False) -> scores (K, B, B)``,
    with ``state`` the parameters and buffers named as ``stack_module_state`` names
    those of the modules built by :func:`build_critic`.

    It computes what ``vmap(functional_call(critic, ...))`` does, without the
    per-call tracing overhead (measured ~10 % of a rigorous analysis).  With
    ``spectral_norm``, ``training=True`` advances each run's power iteration in place
    (its ``_u``, ``_v`` buffers in ``state``), as the critic's forward does in training
    mode.  None for the concat critic, which the batched trainer runs through ``vmap``,
    and for sequence embeddings (windows train one run at a time: ``trainer.train_plan``).
    """
    if config.critic == "concat" or config.embedding != "mlp":
        return None
    act = _ACTIVATIONS[config.activation]()
    # ReLU in place on a fresh layer output (its gradient reads only the result)
    act_fresh = torch.relu_ if config.activation == "relu" else act
    depth = config.n_layers

    def weight_of(
        state: dict[str, torch.Tensor], layer: str, hidden: bool, training: bool
    ) -> torch.Tensor:
        if not (config.spectral_norm and hidden):
            return state[f"{layer}.weight"]
        sn = f"{layer}.parametrizations.weight"
        return stacked_spectral_normalised(
            state[f"{sn}.original"], state[f"{sn}.0._u"], state[f"{sn}.0._v"], training
        )

    def embed(
        state: dict[str, torch.Tensor], prefix: str, h: torch.Tensor, training: bool
    ) -> torch.Tensor:
        # Features-first: (K, features, B) activations, W h + b per layer, so each
        # weight's gradient (grad h^T) comes out laid out like the weight (K, out, in)
        # and the optimiser needs no transposed copy of it.  Returns (K, out, B).
        h = h.transpose(1, 2)
        for i in range(depth + 1):
            layer = f"{prefix}.{2 * i}"
            weight = weight_of(state, layer, i < depth, training)
            h = torch.baddbmm(state[f"{layer}.bias"].unsqueeze(2), weight, h)
            if i < depth:
                h = act_fresh(h)
        return h

    def scores(
        params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, training: bool = False
    ) -> torch.Tensor:
        gx = embed(params, "g", x, training).transpose(1, 2)  # (K, B, out)
        hy = embed(params, "h", y, training)  # (K, out, B')
        if config.critic == "hybrid":  # HybridCritic with its dot product
            return torch.bmm(gx, hy) + pair_scores(params, gx, hy.transpose(1, 2))
        if config.critic == "bilinear":
            gx = torch.bmm(gx, params["weight"])
        return torch.bmm(gx, hy)

    def pair_scores(
        state: dict[str, torch.Tensor], gx: torch.Tensor, hy: torch.Tensor
    ) -> torch.Tensor:
        # The hybrid critic's pair MLP (a ConcatCritic named "pair"): (K, B, B', hidden)
        # activations, then its remaining layers on every pair at once.
        a = torch.baddbmm(
            state["pair.x_in.bias"].unsqueeze(1), gx, state["pair.x_in.weight"].transpose(1, 2)
        )
        b = torch.bmm(hy, state["pair.y_in.weight"].transpose(1, 2))
        h = act(a[:, :, None, :] + b[:, None, :, :])
        for i in range(depth):
            layer = f"pair.rest.{2 * i}"
            weight = state[f"{layer}.weight"].transpose(1, 2).unsqueeze(1)
            h = torch.matmul(h, weight) + state[f"{layer}.bias"][:, None, None, :]
            if i < depth - 1:
                h = act(h)
        return h.squeeze(-1)

    return scores


def stacked_spectral_normalised(
    weight: torch.Tensor, u: torch.Tensor, v: torch.Tensor, training: bool
) -> torch.Tensor:
    """``weight`` (K, out, in) of K stacked runs, each divided by its spectral norm as
    torch's ``parametrizations.spectral_norm`` does for one: in training, one power
    iteration first updates ``u`` (K, out) and ``v`` (K, in) in place (no gradient);
    then sigma = u·(W v) with u, v held constant, and W / sigma carries the gradient."""
    if training:
        with torch.no_grad():
            wv = torch.bmm(weight, v.unsqueeze(-1)).squeeze(-1)
            u.copy_(F.normalize(wv, dim=-1, eps=_SN_EPS))
            wu = torch.bmm(weight.transpose(1, 2), u.unsqueeze(-1)).squeeze(-1)
            v.copy_(F.normalize(wu, dim=-1, eps=_SN_EPS))
    u, v = u.clone(), v.clone()
    sigma = (u * torch.bmm(weight, v.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return weight / sigma[:, None, None]


def eval_pair_bytes(params: Mapping[str, torch.Tensor]) -> int:
    """Peak bytes per scored pair when evaluating the critic with these parameters
    (``named_parameters()`` of a critic, or its stacked form with a leading run dim):
    the concat critic's hidden activations per pair count, read off its shapes (the
    hybrid critic's pair MLP, a concat critic named ``pair``, alike)."""
    first = next((name for name in params if name.endswith("x_in.weight")), None)
    if first is None:
        return pair_bytes("separable", 0, 0, training=False)
    prefix = first[: -len("x_in.weight")]
    hidden = params[first].shape[-2]
    n_layers = sum(
        1 for name in params if name.startswith(f"{prefix}rest.") and name.endswith(".weight")
    )
    return pair_bytes("concat", hidden, n_layers, training=False)
