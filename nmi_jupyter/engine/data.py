"""Input checking and conversion, and train/validation splits.

Everything a user hands us (numpy arrays, torch tensors, pandas objects, nested
lists) becomes a 2-D float array (samples, features) here (windows (samples, window,
channels) stay 3-D for a sequence encoder: :func:`as_windows`), or a
:class:`~nmi_jupyter.InvalidDataError` explaining what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from nmi_jupyter.engine.errors import InsufficientDataError, InvalidDataError
from nmi_jupyter.engine.options import SEQUENCE_EMBEDDINGS
from nmi_jupyter.engine.options_check import as_gammas

__all__ = [
    "as_samples",
    "as_windows",
    "check_pair",
    "split_indices",
    "Standardizer",
    "gamma_chunks",
    "master_order",
    "check_gammas",
    "column_blocks",
    "standardized_parts",
    "MIN_VALIDATION",
]

# A validation block smaller than this makes the smoothed curve, and so early
# stopping, meaningless.
MIN_VALIDATION = 10


def as_samples(data: Any, name: str) -> np.ndarray:
    """Return ``data`` as a float array of shape (n_samples, n_features): float32 input
    stays float32 (no copy; later steps compute in float64 where it matters), any
    other numbers become float64.

    1-D input is one feature; (N, a, b, ...) input is flattened per sample.
    """
    try:
        if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch, without importing torch
            data = _tensor_to_numpy(data)
        elif hasattr(data, "to_numpy"):  # pandas Series / DataFrame
            data = data.to_numpy()
        elif hasattr(data, "toarray") and hasattr(data, "nnz"):  # scipy.sparse
            data = data.toarray()
        array = np.asarray(data)
    except (ValueError, TypeError, RuntimeError, OverflowError) as exc:
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
    if array.dtype != np.float32:
        array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InvalidDataError(
            f"{name} contains {bad.sum()} NaN or infinite values (first in sample {rows[0]}); "
            "drop or impute those samples."
        )
    if len(array) < 2:
        raise InsufficientDataError(
            f"{name} has {len(array)} sample; MI needs many paired samples (one per row)."
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


def as_windows(data: Any, name: str, embedding: str) -> np.ndarray:
    """``data`` for a sequence encoder: 3-D (N, window, channels) kept as a float array
    of that shape (checked as :func:`as_samples` checks its flattened features); 1-D or
    2-D data as :func:`as_samples` returns them (that side keeps its MLP).  2-D windows of
    one channel must be given as (N, window, 1), since (N, d) reads as d features."""
    shape = getattr(data, "shape", None)
    if shape is None:
        try:
            shape = np.shape(data)
        except (ValueError, TypeError):  # ragged: as_samples says what is wrong
            shape = ()
    shape = tuple(shape)
    if len(shape) > 3:
        raise InvalidDataError(
            f"embedding='{embedding}' reads {name} as windows (N, window, channels), but {name} "
            f"has shape {shape}; reshape it to 3 dimensions."
        )
    array = as_samples(data, name)
    return array.reshape(shape) if len(shape) == 3 else array


def _tensor_to_numpy(tensor: Any) -> np.ndarray:
    """A torch tensor as a numpy array: sparse tensors densified, and half-precision
    floats (bfloat16, float16, which numpy cannot hold or torch cannot export)
    widened to float64, the precision every input ends up in."""
    tensor = tensor.detach().cpu()
    if str(getattr(tensor, "layout", "torch.strided")) != "torch.strided":
        tensor = tensor.to_dense()
    if str(tensor.dtype) in ("torch.float16", "torch.bfloat16"):
        tensor = tensor.double()
    return tensor.numpy()


def check_pair(x: Any, y: Any, embedding: str = "mlp") -> tuple[np.ndarray, np.ndarray]:
    """Convert and check x and y together: same number of samples, at least two.

    With ``embedding="mlp"`` (the default) both become 2-D (samples, features), windows
    (N, window, channels) flattened to window * channels features.  With a sequence
    embedding (``cnn``, ``gru``, ``tcn``) windows stay 3-D, as the encoders read them
    (:func:`as_windows`), and at least one of x and y must be windows.
    """
    if embedding in SEQUENCE_EMBEDDINGS:
        xs, ys = as_windows(x, "x", embedding), as_windows(y, "y", embedding)
        if xs.ndim == 2 and ys.ndim == 2:
            raise InvalidDataError(
                f"embedding='{embedding}' encodes windows of shape (N, window, channels), but "
                f"x and y are 2-D (shapes {xs.shape} and {ys.shape}); make windows with "
                "nmi.windows(data, size) or use embedding='mlp'."
            )
    else:
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

    def to_float32(self, data: np.ndarray) -> np.ndarray:
        """``self(data)`` computed in float64 and stored as float32 (what the critic
        sees), a block of columns at a time: no whole float64 copy is made."""
        out = np.empty(data.shape, dtype=np.float32)
        for cols in column_blocks(data):
            out[:, cols] = (data[:, cols] - self.mean[cols]) / self.scale[cols]
        return out


def standardized_parts(
    data: np.ndarray, parts: list[np.ndarray], standardize: bool = True
) -> list[np.ndarray]:
    """``data[rows]`` for each ``rows`` in ``parts`` as float32 (what the critic sees),
    z-scored in float64 with the statistics of the first part (the training part) when
    ``standardize``.  Float64 data take the statistics of the whole training part, as
    always; float32 data (whose precision is float32 anyway) a block of columns at a
    time, so no float64 or whole training copy is made.  Windows (n, window, channels)
    are z-scored per channel (over every time step), so a sequence encoder's weights,
    shared across time, see one scale per channel."""
    if data.ndim == 3:
        channels = data.shape[2]
        train = data[parts[0]].reshape(-1, channels)
        scaler = Standardizer.fit(train) if standardize else Standardizer.identity(channels)
        return [
            scaler.to_float32(data[rows].reshape(-1, channels)).reshape(len(rows), *data.shape[1:])
            for rows in parts
        ]
    if data.dtype != np.float32:
        train = data[parts[0]]
        scaler = Standardizer.fit(train) if standardize else Standardizer.identity(data.shape[1])
        return [scaler.to_float32(train)] + [scaler.to_float32(data[rows]) for rows in parts[1:]]
    out = [np.empty((len(rows), data.shape[1]), dtype=np.float32) for rows in parts]
    for cols in column_blocks(data):
        blocks = [data[rows, cols].astype(np.float64) for rows in parts]
        if standardize:
            scaler = Standardizer.fit(blocks[0])
            blocks = [scaler(block) for block in blocks]
        for target, block in zip(out, blocks, strict=True):
            target[:, cols] = block
    return out


# Elements (rows x columns) of the float64 working blocks of the column-wise steps:
# 32 MiB, a small part of the data at the sizes where memory matters.
_BLOCK_ELEMENTS = 2**22


def column_blocks(data: np.ndarray) -> list[slice]:
    """Slices of columns of ``data`` (n, d) holding about ``_BLOCK_ELEMENTS`` each."""
    width = max(1, _BLOCK_ELEMENTS // max(len(data), 1))
    return [slice(j, j + width) for j in range(0, data.shape[1], width)]


def copula_normal(data: np.ndarray) -> np.ndarray:
    """Each column mapped to a standard normal through its ranks: ``Phi^-1(rank / (n + 1))``.

    A monotone per-feature map, so MI is unchanged, and the result is the same for any
    increasing transform of a column (exactly: only the ranks are used).  Ties get
    their average rank.  (n, d) -> (n, d), float32 for float32 data (the critic's
    precision; half the memory), float64 otherwise.  One column at a time, so the
    working memory is a few columns, not a few copies of ``data``.  Windows
    (n, window, channels) are mapped per channel, ranked over all n * window values.
    """
    if data.ndim == 3:
        # Windows: one map per channel, ranked over every sample and time step, so a
        # value means the same at every step of the window (the encoders share their
        # weights across time); still a monotone map of each feature, so MI is unchanged.
        n, window, channels = data.shape
        return copula_normal(data.reshape(n * window, channels)).reshape(data.shape)
    out = np.empty(data.shape, dtype=np.float32 if data.dtype == np.float32 else np.float64)
    for j in range(data.shape[1]):
        out[:, j] = stats.norm.ppf(stats.rankdata(data[:, j]) / (len(data) + 1))
    return out


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
    """Validate a gamma list: distinct integers >= 1 (numpy integers and 3.0 too),
    returned sorted as plain ints; anything else is an :class:`OptionError`."""
    return as_gammas(gammas)
