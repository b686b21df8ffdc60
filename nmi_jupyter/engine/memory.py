"""The memory a critic's score matrix takes, and the budget no option may exceed.

Every bound scores all pairs of a block: a training minibatch of ``batch_size``
samples builds a ``batch_size`` x ``batch_size`` float32 score matrix plus its
working and autograd copies (the concat critic a hidden layer per pair on top),
so memory grows with the square of the block.  :data:`SCORE_MEMORY_BUDGET` bounds
one such matrix with its copies:

- training: a ``batch_size`` whose matrix would need more is refused before any
  data are prepared or any training starts (:func:`check_score_memory`), with the
  largest ``batch_size`` that fits;
- evaluation (no gradient): a block of ``eval_batch_size`` samples whose matrix
  would need more is scored a few rows at a time (:func:`eval_rows`,
  :func:`~nmi_jupyter.engine.bounds.bound_by_rows`), which gives the same value;
  blocks that fit are scored whole, exactly as before.

A leaf module: it imports nothing internal but the errors.
"""

from __future__ import annotations

import math
from typing import Any

from nmi_jupyter.engine.errors import OptionError

__all__ = [
    "SCORE_MEMORY_BUDGET",
    "PAIR_MLP_CRITICS",
    "pair_bytes",
    "training_bytes",
    "max_batch_size",
    "check_score_memory",
    "eval_rows",
]

# Bytes one score matrix may take with every copy made while it is used (1 GiB):
# batch_size up to 6688 with the separable and bilinear critics, 829 with the
# default concat critic (hidden_dim 64, n_layers 2).
SCORE_MEMORY_BUDGET = 2**30

_FLOAT = 4  # bytes of a float32 score
# Float32 copies of the (B, B) score matrix alive at the peak of one step, measured as
# the peak RSS of one step at B = 4096 (torch 2.x, CPU): training 4.2 (InfoNCE) to
# 5.4 (JS), evaluation 2.1 (InfoNCE) to 5.3 (JS, valued through both objectives).
_SCORE_COPIES = 6
# The concat critic also keeps (B, B, hidden_dim) activations: measured at B = 256,
# hidden_dim 64, about 2 * n_layers + 1 of them while training and 2-3 in evaluation.
_CONCAT_EVAL_LAYERS = 3
# Critics that run an MLP on every pair (the hybrid critic's pair MLP on the embeddings
# has the concat critic's shapes per pair: its (B, B, hidden_dim) activations).
PAIR_MLP_CRITICS = ("concat", "hybrid")


def pair_bytes(critic: str, hidden_dim: int, n_layers: int, training: bool) -> int:
    """Bytes per scored pair (i, j) at the peak of a training step or an evaluation."""
    floats = _SCORE_COPIES
    if critic in PAIR_MLP_CRITICS:
        layers = 2 * n_layers + 2 if training else _CONCAT_EVAL_LAYERS
        floats += hidden_dim * layers
    return _FLOAT * floats


def _config_pair_bytes(config: Any, training: bool) -> int:
    return pair_bytes(config.critic, config.hidden_dim, config.n_layers, training)


def training_bytes(config: Any, batch_size: int | None = None) -> int:
    """Peak bytes of one training step's score matrix (one run) under ``config``."""
    batch = config.batch_size if batch_size is None else batch_size
    return batch * batch * _config_pair_bytes(config, training=True)


def max_batch_size(config: Any) -> int:
    """The largest ``batch_size`` whose training step stays within the budget."""
    return math.isqrt(SCORE_MEMORY_BUDGET // _config_pair_bytes(config, training=True))


def check_score_memory(config: Any) -> None:
    """Raise :class:`OptionError` when one training step of ``config`` (an
    :class:`~nmi_jupyter.EstimateConfig`) would need more than the budget.

    ``eval_batch_size`` needs no limit: an evaluation block too large to score whole
    is scored in rows (:func:`eval_rows`).  Runs stacked by the batched trainer are
    sized by it to fit (``batched.max_stack``), so one run is what must fit.
    """
    need = training_bytes(config)
    if need > SCORE_MEMORY_BUDGET:
        critic = f" with the {config.critic} critic" if config.critic in PAIR_MLP_CRITICS else ""
        raise OptionError(
            f"batch_size={config.batch_size}{critic} would need about {_gib(need)} for each "
            f"training step's {config.batch_size} x {config.batch_size} score matrix, over the "
            f"{_gib(SCORE_MEMORY_BUDGET)} budget; the largest batch_size that fits is "
            f"{max_batch_size(config)}."
        )


def eval_rows(n_rows: int, n_cols: int, pair: int, stack: int = 1) -> int:
    """Rows of an ``n_rows`` x ``n_cols`` evaluation block (``stack`` runs at once,
    ``pair`` bytes per scored pair) to score at a time within the budget: ``n_rows``
    when the whole block fits, at least 1."""
    per_row = max(stack * n_cols * pair, 1)
    return max(1, min(n_rows, SCORE_MEMORY_BUDGET // per_row))


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"
