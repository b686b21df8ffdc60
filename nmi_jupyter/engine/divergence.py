"""What a bound's per-epoch values can be, and the test that a run has left it.

Pure functions of numbers (nats), like :mod:`early_stopping`: both trainers call
:func:`epoch_divergence` once per epoch with the curves so far, and it is tested
with scripted lists, no model trained.

A run is *diverged* when a value is one the bound cannot give for a working critic:
not finite, a training value far below zero, InfoNCE above its ceiling
(impossible), any bound above what n samples can support, or a jump between
epochs out of all proportion to the curve so far.  Its later epochs are not kept; the run ends with
``stop_reason="diverged"`` and a rigorous fit leaves it out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "FLOOR_NATS",
    "JUMP_FACTOR",
    "JUMP_FLOOR_NATS",
    "PLAUSIBLE_LOG_FACTOR",
    "ValueRange",
    "curve_ranges",
    "epoch_divergence",
    "infonce_ceiling",
    "value_range",
]

# Every bound here is 0 for the best constant (useless) critic (InfoNCE for any constant;
# NWJ at f = 1, TUBA at 0, JS at 0, SMILE for |f| <= clip), and training maximises it, so
# the training curve of a working run stays above 0 up to the noise of a nearly random
# critic: for InfoNCE, scores of spread s across a row cost about s^2 / 2 nats, a few
# hundredths at initialisation.  Below -1 nat (for InfoNCE: the true pairs score e times
# *less* likely than chance) on the very samples the critic is trained on, the optimiser
# is lost (InfoNCE at lr=1 reached -637 bits, SMILE at lr=10 -1.6e10 bits in its first
# epoch).  The validation curve is not held to it: a memorising critic legitimately
# goes below 0 on held-out samples, which early stopping handles.
FLOOR_NATS = 1.0
# No bound value from n training samples can be above 2 log(n) nats for a working
# critic: a distribution-free lower bound on MI cannot certify more than O(log n)
# (McAllester & Stratos 2020), InfoNCE is capped at log(block) <= log(n), and the
# accuracy suite's largest truth (8 nats) stays below log(n) of every run in it.
# Twice that is a value no estimate means; SMILE at lr=10 reached 392038 bits.
PLAUSIBLE_LOG_FACTOR = 2.0
# A jump between consecutive epochs larger than JUMP_FACTOR times the largest
# magnitude the curve has had so far (at least JUMP_FLOOR_NATS): a working curve
# rises from ~0 to its plateau over several epochs, by at most a few nats per epoch,
# so it never moves by ten times its own scale at once; an exploding or collapsing
# critic does (NWJ/TUBA values falling to -1e4 through one overflowing exp).
JUMP_FACTOR = 10.0
JUMP_FLOOR_NATS = 1.0
# InfoNCE above its ceiling is impossible in exact arithmetic; allow float32 rounding.
_CEILING_TOLERANCE_NATS = 1e-3


def infonce_ceiling(block_size: int, n: int) -> float:
    """The most InfoNCE can give, in nats, on ``n`` samples evaluated as the trainers
    evaluate it: near-equal blocks (``n // block_size`` of them, at least one), each
    capped at log(its size), averaged weighted by size.  ``log(block_size)`` when
    ``n`` is a multiple of it; ``log(n)`` when ``n < 2 * block_size`` (one block)."""
    n, block_size = int(n), int(block_size)
    if n < 2 or block_size < 1:
        return math.nan
    k = max(n // block_size, 1)
    q, r = divmod(n, k)  # torch.tensor_split: r blocks of q + 1, k - r blocks of q
    return (r * (q + 1) * math.log(q + 1) + (k - r) * q * math.log(q)) / n


@dataclass(frozen=True)
class ValueRange:
    """The values (nats) one curve of a working run can take."""

    low: float = -math.inf
    high: float = math.inf


def value_range(
    estimator: str, *, block_size: int, n_eval: int, n_train: int, held_out: bool
) -> ValueRange:
    """The range of a curve evaluated in blocks of ``block_size`` on ``n_eval`` samples
    of a run with ``n_train`` training samples (``held_out``: the validation curve)."""
    low = -math.inf if held_out else -FLOOR_NATS
    high = PLAUSIBLE_LOG_FACTOR * math.log(max(n_train, 2))
    if estimator == "infonce":
        high = min(high, infonce_ceiling(block_size, n_eval) + _CEILING_TOLERANCE_NATS)
    return ValueRange(low=low, high=high)


def curve_ranges(
    estimator: str, block_size: int, n_train: int, n_train_curve: int, n_val: int
) -> tuple[ValueRange, ValueRange]:
    """The ranges of a run's training curve (on ``n_train_curve`` of its ``n_train``
    training samples) and validation curve (``n_val`` samples), both evaluated in
    blocks of ``block_size``: what both trainers check each epoch."""
    common = {"block_size": block_size, "n_train": n_train}
    return (
        value_range(estimator, n_eval=n_train_curve, held_out=False, **common),
        value_range(estimator, n_eval=n_val, held_out=True, **common),
    )


def epoch_divergence(
    train: Sequence[float],
    val: Sequence[float],
    train_range: ValueRange = ValueRange(),
    val_range: ValueRange = ValueRange(),
) -> str | None:
    """Why the last epoch of these curves (nats, epoch 0 first) shows a diverged run,
    in a few words, or None when it looks like a working one.  Earlier epochs are
    taken as already checked."""
    for name, curve, limits in (("training", train, train_range), ("validation", val, val_range)):
        if not len(curve):
            continue
        value = float(curve[-1])
        if not math.isfinite(value):
            return f"a non-finite {name} value"
        if value < limits.low:
            return f"{name} value {value:.4g} nats, below {limits.low:.4g}"
        if value > limits.high:
            return f"{name} value {value:.4g} nats, above {limits.high:.4g}"
        if len(curve) >= 2:
            scale = max(JUMP_FLOOR_NATS, max(abs(float(v)) for v in curve[:-1]))
            jump = value - float(curve[-2])
            if abs(jump) > JUMP_FACTOR * scale:
                return f"{name} value jumped by {jump:.4g} nats in one epoch"
    return None
