"""Sequence encoders: a window (B, window, channels) -> an embedding (B, embedding_dim).

The option ``embedding`` names how each side of a critic turns its input into an
embedding: ``mlp`` (the default; a window is flattened to window * channels features),
``cnn``, ``gru`` or ``tcn``.  A sequence encoder reads a 3-D side (N, window, channels)
with its time axis kept; a 2-D side (a label, a behaviour variable) keeps its MLP.
The critic heads of :mod:`~nmi_jupyter.engine.models` then score the embeddings
unchanged.  Sizes come from the options: ``hidden_dim`` channels (or GRU units),
``n_layers`` layers (the TCN adds layers until its receptive field covers the
window), ``embedding_dim`` outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nmi_jupyter.engine.options import EMBEDDINGS, SEQUENCE_EMBEDDINGS

__all__ = [
    "EMBEDDINGS",
    "SEQUENCE_EMBEDDINGS",
    "KERNEL_SIZE",
    "CNNEncoder",
    "GRUEncoder",
    "TCNEncoder",
    "Flatten",
    "sequence_encoder",
    "tcn_dilations",
]

# Temporal kernel of the CNN and TCN layers.
KERNEL_SIZE = 3


class Flatten(nn.Module):
    """(B, window, channels) -> (B, window * channels), what the MLP embedding reads."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class CNNEncoder(nn.Module):
    """``n_layers`` 1-D temporal convolutions (``hidden_dim`` channels, kernel 3, the
    length kept), then the mean and the max over time (a rate-like and a
    detection-like summary, both shift-invariant), then a linear map to the embedding."""

    def __init__(
        self,
        channels: int,
        out_dim: int,
        hidden_dim: int,
        n_layers: int,
        activation: type[nn.Module],
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = channels
        for _ in range(n_layers):
            layers += [nn.Conv1d(width, hidden_dim, KERNEL_SIZE, padding="same"), activation()]
            width = hidden_dim
        self.convs = nn.Sequential(*layers)
        self.out = nn.Linear(2 * hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x.transpose(1, 2))  # (B, hidden, window)
        return self.out(torch.cat([h.mean(-1), h.amax(-1)], dim=-1))


class GRUEncoder(nn.Module):
    """A GRU (``n_layers`` layers of ``hidden_dim`` units, batch first) read to the end
    of the window; its last hidden state, through a linear map, is the embedding."""

    def __init__(self, channels: int, out_dim: int, hidden_dim: int, n_layers: int) -> None:
        super().__init__()
        self.gru = nn.GRU(channels, hidden_dim, num_layers=n_layers, batch_first=True)
        self.out = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, last = self.gru(x)  # (n_layers, B, hidden)
        return self.out(last[-1])


def tcn_dilations(window: int, n_layers: int) -> list[int]:
    """Dilations 1, 2, 4, ... of a TCN: at least ``n_layers`` layers, and as many more
    as its receptive field, 1 + (kernel - 1) * sum(dilations), needs to cover ``window``
    (so the last time step sees the whole window)."""
    dilations: list[int] = []
    while len(dilations) < n_layers or 1 + (KERNEL_SIZE - 1) * sum(dilations) < window:
        dilations.append(2 ** len(dilations))
    return dilations


class _CausalBlock(nn.Module):
    """A dilated causal convolution (left padding only: step t sees steps <= t) with an
    activation and a residual connection (a 1x1 convolution when the widths differ)."""

    def __init__(
        self, width: int, hidden_dim: int, dilation: int, activation: type[nn.Module]
    ) -> None:
        super().__init__()
        self.pad = (KERNEL_SIZE - 1) * dilation
        self.conv = nn.Conv1d(width, hidden_dim, KERNEL_SIZE, dilation=dilation)
        self.act = activation()
        self.skip = nn.Conv1d(width, hidden_dim, 1) if width != hidden_dim else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(F.pad(h, (self.pad, 0)))) + self.skip(h)


class TCNEncoder(nn.Module):
    """A temporal convolutional network: dilated causal convolutions with dilations
    1, 2, 4, ... (:func:`tcn_dilations`) covering the window; the last time step,
    through a linear map, is the embedding."""

    def __init__(
        self,
        channels: int,
        window: int,
        out_dim: int,
        hidden_dim: int,
        n_layers: int,
        activation: type[nn.Module],
    ) -> None:
        super().__init__()
        blocks = []
        width = channels
        for dilation in tcn_dilations(window, n_layers):
            blocks.append(_CausalBlock(width, hidden_dim, dilation, activation))
            width = hidden_dim
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.transpose(1, 2))  # (B, hidden, window)
        return self.out(h[:, :, -1])


def sequence_encoder(
    embedding: str,
    window: int,
    channels: int,
    out_dim: int,
    hidden_dim: int,
    n_layers: int,
    activation: type[nn.Module],
) -> nn.Module:
    """The encoder ``embedding`` (cnn, gru or tcn) of windows (B, window, channels)."""
    if embedding == "cnn":
        return CNNEncoder(channels, out_dim, hidden_dim, n_layers, activation)
    if embedding == "gru":
        return GRUEncoder(channels, out_dim, hidden_dim, n_layers)
    if embedding == "tcn":
        return TCNEncoder(channels, window, out_dim, hidden_dim, n_layers, activation)
    raise AssertionError(f"not a sequence embedding: {embedding!r}")  # the option checks it
