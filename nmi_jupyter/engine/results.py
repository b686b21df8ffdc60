"""Result objects: numbers, histories, settings; text/HTML reprs, plots, save/load.

Saved results are plain JSON (never pickle): safe to open when someone sends one.
The format is versioned (``format_version``) and documented in README.md.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from nmi_jupyter.engine.diagnostics import linear_bound_flag
from nmi_jupyter.engine.errors import NeuralMIError
from nmi_jupyter.engine.events import STOP_REASONS
from nmi_jupyter.engine.linear_bound import LinearBound

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


@dataclass(frozen=True)
class EstimateResult:
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
    linear: LinearBound | None = None  # best feature pair's closed-form lower bound (nats)
    # The trained torch module.  It takes the features as it saw them: rank-Gaussianised
    # (copula, the default) and standardised with training statistics, not the raw arrays.
    critic: Any = field(default=None, repr=False, compare=False)

    @property
    def epochs_run(self) -> int:
        return len(self.history.val)

    @property
    def stopped(self) -> bool:
        """True when the run was cancelled or interrupted before it finished."""
        return self.stop_reason in STOPPED_REASONS

    @property
    def ceiling(self) -> float:
        """InfoNCE's training objective can never exceed log(batch_size): a critic trained
        on it stops learning near that value (inf for the other bounds)."""
        if self.settings.get("estimator") != "infonce":
            return math.inf
        return math.log(self.settings["batch_size"]) / (
            math.log(2) if self.units == "bits" else 1.0
        )

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
        flags = linear_bound_flag(self.mi, self.linear, self.units)
        lines += [f"warning: {f.message}." for f in flags]
        if math.isfinite(self.ceiling) and self.mi > 0.9 * self.ceiling:
            lines.append(
                f"warning: the MI is within 10% of the InfoNCE ceiling "
                f"log(batch_size) = {self.ceiling:.2f} {self.units}; the true MI may be higher "
                "(try estimator='smile' or a larger batch_size)."
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"<EstimateResult mi={self.mi:.4f} {self.units} (validation {self.mi_val:.4f}), "
            f"best epoch {self.best_epoch} of {self.epochs_run}, {self.stop_reason}>"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._table_rows()
        )
        return (
            "<div class='nmi-result'><strong>nmi_jupyter estimate</strong>"
            f"<table>{rows}</table></div>"
        )

    def _table_rows(self) -> list[tuple[str, str]]:
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
            bound = self.linear.in_units(self.units)[0]
            rows.append(
                ("lower bound, one feature pair", f"{bound:.4f} {self.units} (no training)")
            )
        rows += [
            ("warning", f.message) for f in linear_bound_flag(self.mi, self.linear, self.units)
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
            top = max(np.nanmax(h.train), np.nanmax(h.val))
            if top > 0.6 * self.ceiling:
                ax.axhline(self.ceiling, color="C3", ls=":", lw=1, label="InfoNCE ceiling")
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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EstimateResult:
        data = dict(data)
        data.pop("kind", None)
        data["mi"], data["mi_val"] = float_in(data["mi"]), float_in(data["mi_val"])
        data["history"] = History.from_dict(data["history"])
        linear = data.pop("linear", None)  # absent from files saved before it existed
        data["linear"] = LinearBound.from_dict(linear) if linear else None
        return cls(**data)

    def save(self, path: str | os.PathLike) -> None:
        """Write the result as versioned JSON (see README, "Saved results")."""
        save_json(self.to_dict(), path)


def save_json(result: dict[str, Any], path: str | os.PathLike) -> None:
    """Wrap a result's plain data in the versioned envelope and write it."""
    envelope = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "result": result,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(envelope, f, indent=1, allow_nan=False)


def _result_kinds() -> dict[str, Any]:
    # Imported here: rigorous_result builds on this module.
    from nmi_jupyter.engine.rigorous_result import RigorousResult

    return {"estimate": EstimateResult, "rigorous": RigorousResult}


def load(path: str | os.PathLike) -> Any:
    """Read a result written by ``save`` (an EstimateResult or a RigorousResult).

    Plain JSON: nothing in the file is executed.
    """
    try:
        with open(path, encoding="utf-8") as f:
            envelope = json.load(f)
    except FileNotFoundError:
        raise NeuralMIError(f"No result file at {os.fspath(path)!r}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NeuralMIError(f"{os.fspath(path)!r} is not a JSON result file ({exc}).") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_NAME:
        raise NeuralMIError(f"{os.fspath(path)!r} is not an nmi_jupyter result file.")
    version = envelope.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise NeuralMIError(
            f"{os.fspath(path)!r} uses result format version {version}, newer than this "
            f"nmi_jupyter reads ({FORMAT_VERSION}); upgrade nmi_jupyter."
        )
    result = envelope.get("result", {})
    kind = result.get("kind")
    kinds = _result_kinds()
    if kind not in kinds:
        raise NeuralMIError(f"{os.fspath(path)!r} holds an unknown result kind {kind!r}.")
    try:
        return kinds[kind].from_dict(result)
    except (KeyError, TypeError, ValueError) as exc:
        raise NeuralMIError(
            f"{os.fspath(path)!r} is an incomplete or damaged result ({exc})."
        ) from None


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
