"""The divergence check on scripted per-epoch values (nats), no model trained."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from nmi_jupyter.engine.bounds import infonce
from nmi_jupyter.engine.divergence import (
    FLOOR_NATS,
    JUMP_FACTOR,
    ValueRange,
    curve_ranges,
    epoch_divergence,
    infonce_ceiling,
    value_range,
)
from nmi_jupyter.engine.train import evaluate_bound

TRAIN, VAL = curve_ranges("infonce", 128, 4500, 500, 500)


def _first_divergence(train, val, train_range=TRAIN, val_range=VAL):
    """The first epoch the check stops, fed one epoch at a time as a trainer does."""
    for t in range(len(train)):
        if epoch_divergence(train[: t + 1], val[: t + 1], train_range, val_range):
            return t
    return None


def test_working_curves_never_diverge():
    rng = np.random.default_rng(0)
    for plateau in (0.0, 0.5, 2.0, 4.5):  # up to near InfoNCE's ceiling log(166) = 5.1
        rise = plateau * (1 - np.exp(-np.arange(60) / 4.0))
        train = list(rise + rng.normal(scale=0.02, size=60))
        val = list(rise - 0.1 * np.arange(60) / 60 + rng.normal(scale=0.05, size=60))
        assert _first_divergence(train, val) is None


def test_a_random_critic_may_dip_a_little_below_zero():
    assert _first_divergence([-0.05, -0.2, 0.1], [-0.3, -0.5, 0.0]) is None
    # a memorising critic goes far below 0 on held-out samples only: not divergence
    assert _first_divergence([1.0, 2.0, 3.0], [0.2, -2.0, -4.0]) is None


@pytest.mark.parametrize(
    "train, val, epoch",
    [
        ([0.5, 1.0, math.nan], [0.5, 1.0, 1.0], 2),  # non-finite
        ([0.5, 1.0, 1.2], [0.5, math.inf, 1.0], 1),
        ([-441.0], [-400.0], 0),  # InfoNCE at lr=1: -637 bits in the report
        ([0.3, -FLOOR_NATS - 0.01], [0.3, 0.0], 1),
        ([0.5, 5.3], [0.5, 1.0], 1),  # above InfoNCE's ceiling log(166.7) = 5.12: impossible
    ],
)
def test_infonce_outside_its_range_diverges(train, val, epoch):
    assert _first_divergence(train, val) == epoch


def test_any_bound_above_what_the_samples_support_diverges():
    train_range, val_range = curve_ranges("smile", 128, 1800, 200, 200)
    limit = 2 * math.log(1800)  # 15 nats
    assert _first_divergence([3.0, 14.0], [3.0, 3.0], train_range, val_range) is None
    assert _first_divergence([3.0, 16.0], [3.0, 3.0], train_range, val_range) == 1
    assert _first_divergence([2.7e5], [2.7e5], train_range, val_range) == 0  # SMILE, lr=10
    assert value_range("nwj", block_size=128, n_eval=200, n_train=1800, held_out=True).high == (
        pytest.approx(limit)
    )


def test_a_jump_out_of_proportion_to_the_curve_diverges():
    wide = ValueRange()  # only the jump rule
    # NWJ collapsing through one overflowing exp; a rise from ~0 to a plateau is no jump
    assert _first_divergence([1.0, 2.0, 2.1, -30.0], [1.0, 2.0, 2.0, 2.0], wide, wide) == 3
    assert _first_divergence([0.01, 3.0, 4.0, 4.1], [0.0, 2.9, 4.0, 4.0], wide, wide) is None
    scale = 2.1
    below = [1.0, 2.0, 2.1, 2.1 + JUMP_FACTOR * scale - 0.1]
    assert _first_divergence(below, below, wide, wide) is None
    above = [1.0, 2.0, 2.1, 2.1 + JUMP_FACTOR * scale + 0.1]
    assert _first_divergence(above, above, wide, wide) == 3


@pytest.mark.parametrize("n, block", [(512, 512), (1000, 512), (1100, 512), (4500, 512), (37, 8)])
def test_infonce_ceiling_is_the_cap_of_the_blocks_evaluated(n, block):
    # A perfect critic (huge diagonal) reaches exactly the cap, block by block.
    x = torch.arange(n, dtype=torch.float64)[:, None]
    value = evaluate_bound(_PerfectCritic(), infonce, x, x, block)
    assert value == pytest.approx(infonce_ceiling(block, n), abs=1e-6)
    assert value >= math.log(min(block, n)) - 1e-9  # blocks merge upwards, never below
    assert infonce_ceiling(block, block) == pytest.approx(math.log(block))


class _PerfectCritic(nn.Module):
    """Scores 1e4 for a true pair, 0 otherwise."""

    def forward(self, x, y):
        return 1e4 * (x[:, None, 0] == y[None, :, 0]).float()
