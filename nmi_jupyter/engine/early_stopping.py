"""Smoothing of the validation curve and early stopping on it.

Pure numpy/scipy: the tracker is fed one validation value per epoch and decides;
no model is involved, so it is tested with scripted score lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter

__all__ = ["smooth_history", "best_index", "EarlyStopping", "StopDecision"]

_GAUSSIAN_TRUNCATE = 4.0


def smooth_history(values: np.ndarray, median_window: int = 5, sigma: float = 1.0) -> np.ndarray:
    """Median filter (``median_window``) then Gaussian filter (``sigma``), edges held constant.

    A median filter removes isolated spikes of a noisy validation curve; the
    Gaussian then removes the remaining jitter.  Returns float64, same length.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    out = median_filter(values, size=median_window, mode="nearest")
    if sigma > 0:
        out = gaussian_filter1d(out, sigma, mode="nearest", truncate=_GAUSSIAN_TRUNCATE)
    return out


def best_index(smoothed: np.ndarray, min_improvement: float = 0.0) -> int:
    """Index of the best epoch: scanning forward, a value becomes the new best only when
    it beats the current best by ``min_improvement`` relative to the best's magnitude."""
    best = 0
    for t in range(1, len(smoothed)):
        if smoothed[t] > smoothed[best] + min_improvement * abs(smoothed[best]):
            best = t
    return best


@dataclass(frozen=True)
class StopDecision:
    """What the tracker concluded after an epoch (epochs count from 0).

    ``stalled`` counts the epochs without improvement toward the stop, out of
    ``patience``: since the best epoch, or after a learning-rate drop since the later of
    the drop and the best epoch.  ``drop`` is True at the one epoch where the learning
    rate drops (the first stall, when the tracker drops); ``dropped``: it has dropped.
    """

    smoothed: np.ndarray
    best_epoch: int
    epochs_since_best: int
    stop: bool
    keep: frozenset[int]  # epochs whose checkpoints may still become the best
    stalled: int = 0
    patience: int = 0
    drop: bool = False
    dropped: bool = False


class EarlyStopping:
    """Stops when the smoothed validation value has not improved for ``patience`` epochs.

    With ``drop`` the first such stall does not stop: it asks for a smaller learning
    rate (:attr:`StopDecision.drop`), and training stops once the curve has not
    improved for ``max(patience // 2, 1)`` epochs counted from the later of the drop and
    the best epoch.  The best epoch is chosen over the whole curve, before and after.

    Smoothing looks ahead, so the last ``settle`` epochs' smoothed values still move
    as new epochs arrive; the best epoch can therefore only be one of those or the
    best among the settled ones.  ``keep`` names exactly these checkpoints, so a
    trainer never needs to store more than ``settle + 1`` of them.
    """

    def __init__(
        self,
        patience: int,
        min_improvement: float = 1e-3,
        median_window: int = 5,
        sigma: float = 1.0,
        drop: bool = False,
    ) -> None:
        self.patience = patience
        self.drop = drop
        self.after_drop = max(patience // 2, 1)
        self.dropped_at: int | None = None
        self.min_improvement = min_improvement
        self.median_window = median_window
        self.sigma = sigma
        self.settle = median_window // 2 + (math.ceil(_GAUSSIAN_TRUNCATE * sigma) if sigma else 0)
        self.values: list[float] = []

    def update(self, value: float) -> StopDecision:
        self.values.append(float(value))
        smoothed = smooth_history(np.array(self.values), self.median_window, self.sigma)
        best = best_index(smoothed, self.min_improvement)
        last = len(smoothed) - 1
        n_settled = max(len(smoothed) - self.settle, 0)
        keep = set(range(n_settled, len(smoothed)))
        if n_settled:
            keep.add(best_index(smoothed[:n_settled], self.min_improvement))
        drop = False
        if self.dropped_at is None:
            stalled, patience = last - best, self.patience
            stop = stalled >= patience
            if stop and self.drop:
                drop, stop = True, False
                self.dropped_at = last
        else:
            stalled, patience = last - max(best, self.dropped_at), self.after_drop
            stop = stalled >= patience
        return StopDecision(
            smoothed=smoothed,
            best_epoch=best,
            epochs_since_best=last - best,
            stop=stop,
            keep=frozenset(keep),
            stalled=stalled,
            patience=patience,
            drop=drop,
            dropped=self.dropped_at is not None,
        )
