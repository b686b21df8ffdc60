"""Result objects: numbers, histories, settings; text/HTML reprs, plots, save/load.

Saved results are plain JSON (never pickle): safe to open when someone sends one.
The format is versioned (``format_version``) and documented in README.md.

Saving is atomic: the JSON is written to a temporary file in the same folder and
renamed over the target, so a failed save leaves the previous file as it was.

Format policy for fields added later.  ``format_version`` changes only for an
incompatible change (a field removed, renamed or given a new meaning), never for an
addition.  A reader loads every field it knows and ignores the others, so a file
from a later version with extra fields loads; a field added later has a default,
so a file written before it existed loads too.  A field a result cannot do without
missing, or holding a value of the wrong type, makes the file "damaged", named in
one sentence.  Versions are whole numbers; 1, 1.0 and "1" all mean version 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import numbers
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from nmi_jupyter.engine.config import make_config, option_names
from nmi_jupyter.engine.errors import NeuralMIError
from nmi_jupyter.engine.events import STOP_REASONS
from nmi_jupyter.engine.linear_bound import LinearBound
from nmi_jupyter.engine.neighbours import NeighbourEstimate
from nmi_jupyter.engine.options_check import describe_value
from nmi_jupyter.engine.units import from_nats
from nmi_jupyter.engine.verdict import (
    Flag,
    Verdict,
    ceiling_text,
    ceilings,
    estimate_flags,
    near_ceiling,
)

__all__ = ["History", "EstimateResult", "load", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "nmi_jupyter.result"
FORMAT_VERSION = 1
STOPPED_REASONS = ("cancelled", "interrupted")


@dataclass(frozen=True, eq=False)
class History:
    """Per-epoch values (epoch 0 first) in the result's units."""

    train: np.ndarray
    val: np.ndarray
    val_smoothed: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, k), getattr(other, k), equal_nan=True)
            for k in ("train", "val", "val_smoothed")
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def epochs(self) -> np.ndarray:
        return np.arange(len(self.val))

    def to_dict(self) -> dict[str, list[float | None]]:
        return {k: floats_out(getattr(self, k)) for k in ("train", "val", "val_smoothed")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**{k: floats_in(data[k]) for k in ("train", "val", "val_smoothed")})


class SavedResult(Verdict):
    """A result that writes itself as plain data: :meth:`save` wraps ``to_dict()`` in
    the versioned envelope (README, "Saved results"); ``nmi_jupyter.load`` reads it
    back, recomputing what the file says "for readers" (flags, readings)."""

    __slots__ = ()

    def save(self, path: str | os.PathLike) -> None:
        """Write the result as versioned JSON, atomically; ``nmi_jupyter.load`` reads it back."""
        save_json(self.to_dict(), path)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class EstimateResult(SavedResult):
    """The outcome of one training run (``nmi_jupyter.estimate``).

    Attributes:
        mi: the MI estimate, in ``units``: the bound on the training partition
            at the restored best checkpoint.
        mi_val: the bound on the validation partition at that checkpoint.
        units: "bits" or "nats".
        best_epoch: epoch (from 0) of the restored checkpoint, -1 if none finished.
        stop_reason: early_stopping, max_epochs, cancelled, interrupted or diverged.
        history: per-epoch training, validation and smoothed validation MI.
        settings: every option used (seed included), enough to reproduce the run.
        n_train, n_val: samples in each partition; x_dim, y_dim: features.
        elapsed: training wall time in seconds; device, threads: where it ran.
        varying_samples: for "x_train", "x_val", "y_train", "y_val", how many samples
            differ from the variable's most common value (see ``verdict``).
        linear: the best feature pair's closed-form lower bound, in ``units``
            (``linear.mi``; ``linear.mi_nats`` in nats), or None.

    The verdict, as for every result: ``flags`` lists every finding (a code and one
    sentence; see :func:`~nmi_jupyter.engine.verdict.estimate_flags`);
    ``is_reliable`` is False, with ``reasons`` in words, when training diverged or
    was stopped, InfoNCE reached its ceiling, the estimate is far below the linear
    lower bound, there are no more training samples than features, or a variable is
    (nearly) constant within a partition; ``warnings`` do not change it.
    """

    mi: float
    mi_val: float
    units: str
    best_epoch: int
    stop_reason: str
    history: History
    settings: dict[str, Any]
    n_train: int
    n_val: int
    x_dim: int
    y_dim: int
    elapsed: float
    device: str
    threads: int
    version: str = ""
    linear: LinearBound | None = None  # best feature pair's closed-form lower bound (units)
    varying_samples: dict[str, int] | None = None  # None in files saved before it existed
    # The nearest-neighbour (KSG) estimate of few-dimensional data (units), or None.
    neighbours: NeighbourEstimate | None = None
    # The trained torch module.  It takes the features as it saw them: rank-Gaussianised
    # (copula, the default) and standardised with training statistics, not the raw arrays.
    critic: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        in_units(self)

    @property
    def epochs_run(self) -> int:
        return len(self.history.val)

    @functools.cached_property
    def flags(self) -> tuple[Flag, ...]:
        """Every finding about this result, most serious first (computed once)."""
        return estimate_flags(self)

    @property
    def stopped(self) -> bool:
        """True when the run was cancelled or interrupted before it finished."""
        return self.stop_reason in STOPPED_REASONS

    @property
    def ceiling(self) -> float:
        """The most InfoNCE's reported ``mi`` can be, in ``units``: log of its evaluation
        blocks (``eval_batch_size`` samples of the training partition, or the whole
        partition when smaller); inf for the other bounds.  Training itself is capped
        lower, at log(batch_size) (:attr:`training_ceiling`); the ``ceiling`` flag fires
        at ``CEILING_FRACTION`` of the smaller of the two."""
        if self.settings.get("estimator") != "infonce":
            return math.inf
        return float(from_nats(ceilings(self.settings, self.n_train)[1], self.units))

    @property
    def training_ceiling(self) -> float:
        """The most InfoNCE's training objective (and the per-epoch curves, evaluated in
        blocks of batch_size) can reach, log(batch_size) in ``units``; inf for the other
        bounds."""
        if self.settings.get("estimator") != "infonce":
            return math.inf
        return float(from_nats(ceilings(self.settings, self.n_train)[0], self.units))

    # ----- text -----
    def summary(self) -> str:
        """A few lines a scientist can read: the estimate, how training ended, the setup."""
        s = self.settings
        lines = [
            f"MI estimate: {self.mi:.4f} {self.units} (validation {self.mi_val:.4f} {self.units})",
            f"training: best epoch {self.best_epoch} of {self.epochs_run} run "
            f"(max {s['epochs']}); stopped because {reason_text(self.stop_reason)}",
            f"setup: {s['estimator']} bound, {s['critic']} critic, {self.n_train} train / "
            f"{self.n_val} validation samples, x {self.x_dim}-d, y {self.y_dim}-d, "
            f"{self.elapsed:.1f} s on {self.device}",
        ]
        if self.linear is not None:
            lines.append(self.linear.describe(self.units))
        if self.neighbours is not None:
            lines.append(self.neighbours.describe(self.units))
        if math.isfinite(self.ceiling):
            lines.append(f"InfoNCE ceiling: {ceiling_text(s, self.n_train, self.units)}")
        lines += self.verdict_lines()
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        verdict = "reliable" if self.is_reliable else "not reliable"
        codes = ", ".join(f.code for f in self.flags)
        return (
            f"<EstimateResult mi={self.mi:.4f} {self.units} (validation {self.mi_val:.4f}), "
            f"best epoch {self.best_epoch} of {self.epochs_run}, {self.stop_reason}, {verdict}"
            + (f" ({codes})" if codes else "")
            + ">"
        )

    def _repr_html_(self) -> str:
        """:meth:`table_rows` as an HTML table (drawn by :mod:`nmi_jupyter.widgets.html`,
        imported when shown)."""
        from nmi_jupyter.widgets.html import estimate_html

        return estimate_html(self)

    def table_rows(self) -> list[tuple[str, str]]:
        """The result as (label, text) rows, for tables: numbers, setup, verdict, flags."""
        s = self.settings
        rows = [
            ("MI", f"{self.mi:.4f} {self.units}"),
            ("validation MI", f"{self.mi_val:.4f} {self.units}"),
            ("best epoch", f"{self.best_epoch} of {self.epochs_run} (max {s['epochs']})"),
            ("stopped because", reason_text(self.stop_reason)),
            ("estimator / critic", f"{s['estimator']} / {s['critic']}"),
            ("samples", f"{self.n_train} train, {self.n_val} validation"),
            ("dimensions", f"x {self.x_dim}, y {self.y_dim}"),
            ("time", f"{self.elapsed:.2f} s on {self.device}"),
            ("seed", str(s.get("seed"))),
        ]
        if self.linear:
            rows.append(
                (
                    "lower bound, one feature pair",
                    f"{self.linear.mi:.4f} {self.units} (no training)",
                )
            )
        if self.neighbours:
            knn = self.neighbours
            rows.append(
                (
                    "nearest-neighbour estimate (KSG)",
                    f"{knn.mi:.4f} ± {knn.se:.4f} {self.units} (no training)",
                )
            )
        if math.isfinite(self.ceiling):
            rows.append(("InfoNCE ceiling", ceiling_text(s, self.n_train, self.units)))
        rows.append(("verdict", "reliable" if self.is_reliable else "NOT reliable"))
        rows += [
            ("unreliable because" if f.unreliable else "warning", f"{f.code}: {f.message}")
            for f in self.flags
        ]
        return rows

    # ----- plot -----
    def plot(self, ax=None):
        """Training curves (matplotlib): train, validation raw and smoothed, best epoch.

        Returns the Axes.  matplotlib is imported only here.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 3.6))
        h = self.history
        ax.plot(h.epochs, h.train, label="training", color="C0")
        ax.plot(h.epochs, h.val, label="validation", color="C1", alpha=0.45)
        ax.plot(h.epochs, h.val_smoothed, label="validation (smoothed)", color="C1")
        if self.best_epoch >= 0:
            ax.axvline(self.best_epoch, color="0.5", ls="--", lw=1, label="best epoch")
            ax.plot([self.best_epoch], [self.mi], "o", color="C0")
        if math.isfinite(self.ceiling) and self.epochs_run:
            # The curves are evaluated in blocks of batch_size, the reported MI (the dot)
            # in larger ones: each ceiling is drawn once what it caps comes near it.
            top = max(np.nanmax(h.train), np.nanmax(h.val))
            for cap, value, label in (
                (self.training_ceiling, top, "InfoNCE ceiling, training (log batch_size)"),
                (self.ceiling, self.mi, "InfoNCE ceiling, reported MI"),
            ):
                if near_ceiling(value, cap):
                    ax.axhline(cap, color="C3", ls=":", lw=1, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"MI ({self.units})")
        ax.set_title(f"MI = {self.mi:.3f} {self.units} ({self.settings['estimator']})")
        ax.legend(loc="lower right", fontsize="small")
        return ax

    # ----- plain-data round trip -----
    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-serialisable; NaN becomes None)."""
        return {
            "kind": "estimate",
            "mi": float_out(self.mi),
            "mi_val": float_out(self.mi_val),
            "units": self.units,
            "best_epoch": self.best_epoch,
            "stop_reason": self.stop_reason,
            "history": self.history.to_dict(),
            "settings": dict(self.settings),
            "n_train": self.n_train,
            "n_val": self.n_val,
            "x_dim": self.x_dim,
            "y_dim": self.y_dim,
            "elapsed": self.elapsed,
            "device": self.device,
            "threads": self.threads,
            "version": self.version,
            "linear": self.linear.to_dict() if self.linear else None,
            "neighbours": self.neighbours.to_dict() if self.neighbours else None,
            "varying_samples": self.varying_samples,
            "flags": [f.to_dict() for f in self.flags],  # for readers; recomputed on load
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EstimateResult:
        """The result :meth:`to_dict` described (see the module's format policy)."""
        fields = saved_fields(
            cls,
            data,
            convert={
                "history": History.from_dict,
                "linear": linear_from_dict,
                "neighbours": neighbours_from_dict,
            },
            not_saved=("critic",),
        )
        check_settings(fields["settings"])
        return cls(**fields)


def save_json(result: dict[str, Any], path: str | os.PathLike) -> None:
    """Wrap a result's plain data in the versioned envelope and write it atomically:
    ``path`` ends up holding either its previous content or the whole new file."""
    path = _file_path(path)
    envelope = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "result": result,
    }
    try:  # serialised in full before the disk is touched
        text = json.dumps(envelope, indent=1, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise NeuralMIError(
            f"The result could not be saved: it holds a value JSON cannot store ({exc})."
        ) from None
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise NeuralMIError(
            f"Could not save the result to {path!r}: {exc.strerror or exc}."
        ) from None


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, flush it to disk and rename
    it over ``path`` (``os.replace`` is atomic); on any failure the temporary file is
    removed and ``path`` is left as it was."""
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # os.open with 0o666 lets the umask decide the permissions, as open() would.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _file_path(path: Any) -> str:
    """``path`` as a string; an int (which open() would take as a file descriptor),
    None or anything else that is not a path is an error."""
    if not isinstance(path, str | bytes | os.PathLike):
        raise NeuralMIError(
            f"A result file is named by a path (a string or pathlib.Path), "
            f"not {describe_value(path)}."
        )
    return os.fsdecode(os.fspath(path))


def _format_version(value: Any) -> int | None:
    """A saved ``format_version`` as an int (1, 1.0 and "1" are all version 1), or
    None when it is not a whole number."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return int(number) if math.isfinite(number) and number.is_integer() else None


def _result_kinds() -> dict[str, Any]:
    # Imported here: rigorous_result builds on this module.
    from nmi_jupyter.engine.dependence_result import ConditionalResult, TransferResult
    from nmi_jupyter.engine.dimensionality import DimensionalityResult
    from nmi_jupyter.engine.lag_result import LagResult
    from nmi_jupyter.engine.pairwise_result import PairwiseResult
    from nmi_jupyter.engine.permutation_result import PermutationResult
    from nmi_jupyter.engine.rigorous_result import RigorousResult
    from nmi_jupyter.engine.sweep_result import SweepResult

    return {
        "estimate": EstimateResult,
        "rigorous": RigorousResult,
        "sweep": SweepResult,
        "dimensionality": DimensionalityResult,
        "pairwise": PairwiseResult,
        "permutation_test": PermutationResult,
        "conditional": ConditionalResult,
        "transfer": TransferResult,
        "lag": LagResult,
    }


def load(path: str | os.PathLike) -> Any:
    """Read a result written by ``save`` (an EstimateResult or a RigorousResult).

    Plain JSON: nothing in the file is executed.  Anything that is not a complete
    result file (missing, a folder, not JSON, damaged, from a newer format) raises a
    :class:`NeuralMIError` naming the file and the problem.
    """
    path = _file_path(path)
    try:
        with open(path, encoding="utf-8") as f:
            envelope = json.load(f)
    except FileNotFoundError:
        raise NeuralMIError(f"No result file at {path!r}.") from None
    except IsADirectoryError:
        raise NeuralMIError(f"{path!r} is a folder, not a result file.") from None
    except OSError as exc:
        raise NeuralMIError(f"Could not read {path!r}: {exc.strerror or exc}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NeuralMIError(f"{path!r} is not a JSON result file ({exc}).") from None
    except RecursionError:
        raise NeuralMIError(
            f"{path!r} is not a result file (its JSON is nested too deeply)."
        ) from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_NAME:
        raise NeuralMIError(f"{path!r} is not an nmi_jupyter result file.")
    raw_version = envelope.get("format_version")
    version = _format_version(raw_version)
    if version is None or version < 1:
        raise NeuralMIError(
            f"{path!r} has format_version {describe_value(raw_version)}, which is not a "
            "version number; the file is damaged."
        )
    if version > FORMAT_VERSION:
        raise NeuralMIError(
            f"{path!r} uses result format version {version}, newer than this "
            f"nmi_jupyter reads ({FORMAT_VERSION}); upgrade nmi_jupyter."
        )
    result = envelope.get("result")
    if not isinstance(result, dict):
        raise NeuralMIError(
            f"{path!r} is a damaged result file: its result is {describe_value(result)}, "
            "not a record of fields."
        )
    kind = result.get("kind")
    kinds = _result_kinds()
    if not isinstance(kind, str) or kind not in kinds:
        raise NeuralMIError(f"{path!r} holds an unknown result kind {describe_value(kind)}.")
    try:
        return kinds[kind].from_dict(result)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        raise NeuralMIError(f"{path!r} is an incomplete or damaged result ({exc}).") from None


def saved_fields(
    cls: type,
    data: Any,
    *,
    convert: dict[str, Callable[[Any], Any]] | None = None,
    not_saved: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The keyword arguments of dataclass ``cls`` found in the plain ``data`` of a file.

    Unknown keys are ignored (a later version wrote them); a field missing from
    ``data`` keeps its default when it has one (it was added after the file was
    written) and is an error otherwise.  ``convert`` turns a field's plain data into
    its object; other fields annotated int, float, str or dict are type-checked (None
    is NaN for a float).  ``not_saved`` fields are never read.  Raises ValueError.
    """
    if not isinstance(data, dict):
        raise ValueError(f"a {cls.__name__} record is {describe_value(data)}")
    convert = convert or {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name in not_saved:
            continue
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{cls.__name__} has no {f.name!r}")
            continue
        value = data[f.name]
        out[f.name] = convert[f.name](value) if f.name in convert else _plain(f.name, f.type, value)
    return out


def _plain(name: str, annotation: Any, value: Any) -> Any:
    """``value`` checked against a simple annotation ("int", "float", "str | None"...)."""
    kinds = [part.strip() for part in str(annotation).split("|")]
    if value is None and "None" in kinds:
        return None
    kind = kinds[0]
    if kind == "float":
        if value is None:
            return math.nan
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
    elif kind == "int":
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    elif kind == "str":
        if isinstance(value, str):
            return value
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind.startswith("dict"):
        if isinstance(value, dict):
            return dict(value)
    else:
        return value
    raise ValueError(
        f"{name!r} should be {_KIND_WORDS.get(kind[:4], kind)}, not {describe_value(value)}"
    )


_KIND_WORDS = {
    "int": "a whole number",
    "floa": "a number",
    "str": "text",
    "bool": "true or false",
    "dict": "a record of named values",
}


# Settings every result has had since format version 1; its views read them.
_REQUIRED_SETTINGS = ("estimator", "critic", "epochs", "batch_size")


def check_settings(settings: dict[str, Any]) -> None:
    """Raise ValueError when a loaded result's settings lack what its views read, or
    hold an option value the engine would refuse (checked by the same validation as
    ``estimate()``'s options; keys it does not know are left alone).  A file saved before
    ``lr_drop`` existed gets ``lr_drop=1`` in place: its runs stopped at the first stall,
    and its settings must say so to reproduce them."""
    missing = [key for key in _REQUIRED_SETTINGS if key not in settings]
    if missing:
        raise ValueError(f"its settings have no {missing[0]!r}")
    if "lr" in settings:
        settings.setdefault("lr_drop", 1.0)
    try:
        make_config(**{k: v for k, v in settings.items() if k in option_names()})
    except NeuralMIError as exc:
        raise ValueError(f"its settings are damaged: {exc}") from None


def linear_from_dict(value: Any) -> LinearBound | None:
    """The saved linear bound, or None (files from before it existed have none)."""
    return LinearBound.from_dict(value) if value else None


def neighbours_from_dict(value: Any) -> NeighbourEstimate | None:
    """The saved nearest-neighbour estimate, or None (none computed, or a file from
    before it existed)."""
    return NeighbourEstimate.from_dict(value) if value else None


def in_units(result: Any) -> None:
    """Put a frozen result's closed-form side numbers (``linear``, ``neighbours``) in
    its ``units``."""
    for name in ("linear", "neighbours"):
        value = getattr(result, name)
        if value is not None and value.units != result.units:
            object.__setattr__(result, name, value.to_units(result.units))


def reason_text(reason: str) -> str:
    return STOP_REASONS.get(reason, reason)


def float_out(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def float_in(value: float | None) -> float:
    return math.nan if value is None else float(value)


def floats_out(values: np.ndarray) -> list[float | None]:
    return [float_out(v) for v in np.asarray(values, dtype=float)]


def floats_in(values: list[float | None]) -> np.ndarray:
    return np.array([float_in(v) for v in values], dtype=float)
