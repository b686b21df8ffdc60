"""Mutual-information lower bounds as pure functions of a critic score matrix.

``scores[..., i, j] = f(x_i, y_j)`` for a block of ``n`` paired samples: the
diagonal holds the true (joint) pairs, the off-diagonal the shuffled (product of
marginals) pairs.  Leading dimensions index independent runs (the batched
trainer); every function returns one value per matrix (a scalar for one
matrix), in nats.  Training maximises it (loss = -bound).  Formulas follow Poole et al. (2019), "On
variational bounds of mutual information", and Song & Ermon (2020), "Understanding
the limitations of variational MI estimators" (SMILE).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.nn import functional as F

__all__ = ["BOUNDS", "infonce", "nwj", "tuba", "js", "smile", "get_bound"]

Bound = Callable[[torch.Tensor], torch.Tensor]


def _check_square(scores: torch.Tensor) -> int:
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2] or scores.shape[-1] < 2:
        raise ValueError(f"scores must be square matrices of size >= 2, got {tuple(scores.shape)}")
    return scores.shape[-1]


def _diagonal(scores: torch.Tensor) -> torch.Tensor:
    return torch.diagonal(scores, dim1=-2, dim2=-1)


def _logmeanexp_off_diagonal(scores: torch.Tensor) -> torch.Tensor:
    n = scores.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=scores.device)
    masked = scores.masked_fill(eye, -math.inf)
    return torch.logsumexp(masked.flatten(-2), dim=-1) - math.log(n * (n - 1))


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE (CPC): mean_i [f_ii - logsumexp_j f_ij] + log n.

    Each term ``f_ii - logsumexp_j f_ij`` is a log-probability, hence <= 0, so
    the value never exceeds log(n) by construction.
    """
    n = _check_square(scores)
    log_prob = _diagonal(scores) - torch.logsumexp(scores, dim=-1)
    return log_prob.mean(dim=-1) + math.log(n)


def tuba(scores: torch.Tensor, log_baseline: torch.Tensor | None = None) -> torch.Tensor:
    """TUBA: 1 + mean_i f_ii - mean_{i!=j} exp(f_ij), scores shifted by a log baseline a(y_j).

    With no baseline (a = 1) this is the unnormalised Barber-Agakov bound.
    """
    _check_square(scores)
    if log_baseline is not None:
        scores = scores - log_baseline[..., None, :]
    joint = _diagonal(scores).mean(dim=-1)
    marginal = torch.exp(_logmeanexp_off_diagonal(scores))
    return 1.0 + joint - marginal


def nwj(scores: torch.Tensor) -> torch.Tensor:
    """NWJ (f-divergence / MINE-f): mean_i f_ii - mean_{i!=j} exp(f_ij - 1)."""
    return tuba(scores - 1.0)


def _js_fgan(scores: torch.Tensor) -> torch.Tensor:
    """The Jensen-Shannon f-GAN objective (not itself an MI bound)."""
    n = scores.shape[-1]
    diag = _diagonal(scores)
    first = -F.softplus(-diag).mean(dim=-1)
    second = (F.softplus(scores).sum(dim=(-2, -1)) - F.softplus(diag).sum(dim=-1)) / (n * (n - 1))
    return first - second


def js(scores: torch.Tensor) -> torch.Tensor:
    """JS: trained with the (lower variance) gradient of the JS f-GAN objective, valued
    as NWJ on f + 1 (the JS optimum is f* = log p(x,y)/p(x)p(y), NWJ's is 1 + that)."""
    _check_square(scores)
    js_value = _js_fgan(scores)
    return js_value + (nwj(scores + 1.0) - js_value).detach()


def smile(scores: torch.Tensor, clip: float = 5.0) -> torch.Tensor:
    """SMILE: Donsker-Varadhan with the partition term on scores clipped to [-clip, clip],
    trained with the JS gradient (Song & Ermon 2020)."""
    _check_square(scores)
    clipped = torch.clamp(scores, -clip, clip)
    dv = _diagonal(scores).mean(dim=-1) - _logmeanexp_off_diagonal(clipped)
    js_value = _js_fgan(scores)
    return js_value + (dv - js_value).detach()


BOUNDS: dict[str, Bound] = {"infonce": infonce, "nwj": nwj, "tuba": tuba, "js": js, "smile": smile}


def get_bound(name: str, smile_clip: float = 5.0) -> Bound:
    """The bound called ``name``, with SMILE's clip bound in."""
    if name == "smile":
        return lambda scores: smile(scores, clip=smile_clip)
    return BOUNDS[name]
