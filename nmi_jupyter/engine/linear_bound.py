"""A certified lower bound on I(X;Y) from one feature pair, in closed form.

For scalars with standard-normal marginals (the rank transform of ``copula_normal``
makes them so), the Gaussian has the largest joint entropy at a given correlation,
so ``I(X_i; Y_j) >= -log(1 - rho^2) / 2`` with rho the correlation of the normal
scores; and by data processing ``I(X; Y) >= I(X_i; Y_j)`` for every pair of
features.  The best single pair is therefore a lower bound on the MI the neural
critic estimates, found in milliseconds without training (Gaussian-copula MI, as
used in neuroscience since Ince et al. 2017, here per pair so that it stays a bound:
on whole multivariate blocks it is not one, and it overshot 4-24x on the accuracy
suite's latent cases).  A neural estimate far *below* it has missed structure
that a straight line through one feature pair already shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmi_jupyter.engine.data import column_blocks, copula_normal
from nmi_jupyter.engine.neighbours import order_fraction
from nmi_jupyter.engine.units import NatsWithError

__all__ = ["LinearBound", "linear_bound"]


@dataclass(frozen=True)
class LinearBound(NatsWithError):
    """The best single-pair Gaussian-copula MI between ``X[:, pair[0]]`` and
    ``Y[:, pair[1]]``, from ``n`` samples: ``mi_nats`` and its standard error
    ``se_nats`` in nats; ``mi`` and ``se`` in ``units``.

    A result holds its bound in its own units (``result.linear.mi`` is comparable to
    ``result.mi``); the saved file keeps nats (``to_dict``).
    """

    mi_nats: float
    se_nats: float
    pair: tuple[int, int]
    n: int
    units: str = "nats"
    # neighbours.order_fraction of the pair's normal scores: near 0 for i.i.d. samples,
    # large for a time series (its neighbours in value are its neighbours in time)
    in_order: float = 0.0

    def describe(self, units: str | None = None) -> str:
        """One line for summaries: which pair, the bound and its standard error (in
        ``units``, its own by default)."""
        units = units or self.units
        mi, se = self.in_units(units)
        i, j = self.pair
        return (
            f"lower bound from one feature pair (X[:, {i}], Y[:, {j}]; Gaussian copula, "
            f"no training): {mi:.4f} ± {se:.4f} {units}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data, in nats whatever ``units`` (the saved format since it existed)."""
        return {
            "mi": self.mi_nats,
            "se": self.se_nats,
            "pair": list(self.pair),
            "n": self.n,
            "in_order": self.in_order,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearBound:
        """The bound :meth:`to_dict` wrote (nats; a result converts it to its units)."""
        pair = (int(d["pair"][0]), int(d["pair"][1]))
        in_order = float(d.get("in_order", 0.0))  # files from before it existed: 0
        return cls(float(d["mi"]), float(d["se"]), pair, int(d["n"]), in_order=in_order)


def linear_bound(x: np.ndarray, y: np.ndarray, normal_scores: bool = False) -> LinearBound:
    """The best single feature pair's Gaussian-copula MI between (n, dx) ``x`` and
    (n, dy) ``y``.  ``normal_scores=True`` says the columns already went through
    :func:`copula_normal` (saves the ranking).  The standard error is the delta
    method's |rho| / sqrt(n) nats; the maximum over dx * dy pairs adds at most about
    log(dx * dy) / n nats of selection bias, which the flag's margin covers.
    """
    sx = x if normal_scores else copula_normal(x)
    sy = y if normal_scores else copula_normal(y)
    n = len(sx)
    best, pair = 0.0, (0, 0)
    # Blocks of columns at a time, so the float64 working copies stay a few MiB
    # however many samples and features there are.
    for x_cols in column_blocks(sx):
        zx = _standard(sx[:, x_cols])
        for y_cols in column_blocks(sy):
            corr = zx.T @ _standard(sy[:, y_cols]) / n
            i, j = np.unravel_index(int(np.argmax(np.abs(corr))), corr.shape)
            if abs(corr[i, j]) > abs(best):
                best, pair = float(corr[i, j]), (x_cols.start + int(i), y_cols.start + int(j))
    rho = min(abs(best), 1.0 - 1e-15)
    i, j = pair
    in_order = order_fraction(np.stack([sx[:, i], sy[:, j]], axis=1))
    return LinearBound(-0.5 * math.log1p(-(rho**2)), rho / math.sqrt(n), pair, n, in_order=in_order)


def _standard(z: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance (normal scores of n samples have a
    variance slightly below 1; ties lower it further)."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.mean(axis=0)
    scale = z.std(axis=0)
    return z / np.where(scale > 0, scale, 1.0)
