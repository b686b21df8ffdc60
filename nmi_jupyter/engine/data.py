"""Input checking and conversion, and train/validation splits.

Everything a user hands us (numpy arrays, torch tensors, pandas objects, nested
lists) becomes a 2-D float array (samples, features) here, or a
:class:`~nmi_jupyter.InvalidDataError` explaining what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from nmi_jupyter.engine.errors import InsufficientDataError, InvalidDataError, OptionError

__all__ = [
    "as_samples",
    "check_pair",
    "split_indices",
    "Standardizer",
    "gamma_chunks",
    "master_order",
    "check_gammas",
    "MIN_VALIDATION",
]

# A validation block smaller than this makes the smoothed curve, and so early
# stopping, meaningless.
MIN_VALIDATION = 10


def as_samples(data: Any, name: str) -> np.ndarray:
    """Return ``data`` as a float64 array of shape (n_samples, n_features).

    1-D input is one feature; (N, a, b, ...) input is flattened per sample.
    """
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch tensor, without importing torch
        data = data.detach().cpu().numpy()
    elif hasattr(data, "to_numpy"):  # pandas Series / DataFrame
        data = data.to_numpy()
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise InvalidDataError(
            f"{name} could not be read as a numeric array (ragged or mixed data?): {exc}."
        ) from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise InvalidDataError(
            f"{name} must hold numbers, but its values have type {array.dtype}; "
            "convert or encode them first."
        )
    if np.issubdtype(array.dtype, np.complexfloating):
        raise InvalidDataError(f"{name} holds complex numbers; pass real and imaginary parts.")
    if array.ndim == 0:
        raise InvalidDataError(f"{name} is a single number; it needs one row per sample.")
    if array.size == 0:
        raise InvalidDataError(f"{name} is empty (shape {array.shape}).")
    array = array.reshape(len(array), -1) if array.ndim != 1 else array[:, None]
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InvalidDataError(
            f"{name} contains {bad.sum()} NaN or infinite values (first in sample {rows[0]}); "
            "drop or impute those samples."
        )
    spread = np.ptp(array, axis=0)
    constant = np.flatnonzero(spread == 0)
    if constant.size:
        cols = ", ".join(map(str, constant[:5])) + (" ..." if constant.size > 5 else "")
        raise InvalidDataError(
            f"{name} has {constant.size} constant feature(s) (column {cols}); "
            "they carry no information, remove them."
        )
    return array


def check_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert and check x and y together: same number of samples, at least two."""
    xs, ys = as_samples(x, "x"), as_samples(y, "y")
    if len(xs) != len(ys):
        raise InvalidDataError(
            "x and y must have the same number of samples, "
            f"but x has {len(xs)} and y has {len(ys)}."
        )
    return xs, ys


def split_indices(
    n: int,
    split: str,
    val_fraction: float,
    gap: int = 0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation sample indices.

    ``random``: a random ``val_fraction`` of samples (needs ``rng``).
    ``blocked``: the last contiguous ``val_fraction`` of samples, with ``gap``
    samples before it dropped so neighbouring time points do not leak.
    """
    n_val = max(int(round(n * val_fraction)), 1)
    if n_val < MIN_VALIDATION:
        raise InsufficientDataError(
            f"With {n} samples and val_fraction={val_fraction}, only {n_val} samples would "
            f"validate; at least {MIN_VALIDATION} are needed (use more data or a larger "
            "val_fraction)."
        )
    if split == "random":
        if rng is None:
            raise ValueError("a random split needs an rng")
        order = rng.permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    n_train = n - n_val - gap
    if n_train < 1:
        raise InsufficientDataError(
            f"A blocked split of {n} samples with a gap of {gap} leaves no training samples."
        )
    return np.arange(n_train), np.arange(n - n_val, n)


@dataclass(frozen=True)
class Standardizer:
    """Per-feature z-scoring with statistics fitted on the training part only."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray) -> Standardizer:
        scale = data.std(axis=0)
        # A feature that happens to be constant on the training part (but not
        # overall) is centred only.
        scale = np.where(scale > 0, scale, 1.0)
        return cls(mean=data.mean(axis=0), scale=scale)

    @classmethod
    def identity(cls, n_features: int) -> Standardizer:
        return cls(mean=np.zeros(n_features), scale=np.ones(n_features))

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return (data - self.mean) / self.scale


def copula_normal(data: np.ndarray) -> np.ndarray:
    """Each column mapped to a standard normal through its ranks: ``Phi^-1(rank / (n + 1))``.

    A monotone per-feature map, so MI is unchanged, and the result is the same for any
    increasing transform of a column (exactly: only the ranks are used).  Ties get
    their average rank.  (n, d) -> (n, d) float64.
    """
    ranks = stats.rankdata(data, axis=0)
    return stats.norm.ppf(ranks / (len(data) + 1))


def master_order(n: int, split: str, rng: np.random.Generator) -> np.ndarray:
    """One random permutation for i.i.d. samples (``split="random"``), the time order
    for time series (``split="blocked"``, so chunks are contiguous blocks)."""
    return rng.permutation(n) if split == "random" else np.arange(n)


def gamma_chunks(order: np.ndarray, gammas: list[int]) -> dict[int, list[np.ndarray]]:
    """The subsampling plan of rigorous mode: for each gamma, ``gamma`` disjoint equal
    chunks of ``n // gamma`` sample indices cut from one master ``order`` (the same
    order serves every gamma)."""
    n = len(order)
    plan = {}
    for gamma in gammas:
        size = n // gamma
        plan[gamma] = [np.sort(order[c * size : (c + 1) * size]) for c in range(gamma)]
    return plan


def check_gammas(gammas: Any) -> list[int]:
    """Validate a gamma list: distinct integers >= 1, returned sorted."""
    try:
        items = list(gammas)
        values = sorted({int(g) for g in items if float(g) == int(g)})
        ok = len(values) == len(items) and all(g >= 1 for g in values)
    except (TypeError, ValueError):
        ok = False
    if not ok or len(values) < 2:
        raise OptionError(
            f"gammas must be at least two distinct integers >= 1 (e.g. range(1, 11)), "
            f"not {gammas!r}."
        )
    return values
