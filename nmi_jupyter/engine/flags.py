"""Flags: why a number should (or should not) be trusted, in words.  Leaf module."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Flag", "reasons_of", "warnings_of"]


@dataclass(frozen=True)
class Flag:
    """One finding about a result.

    ``code`` is stable (for programs and badges: "curvature", "too_few_gammas",
    "leverage", "sample_floor", "ceiling", "overfitting", "extrapolations_disagree",
    "negative_slope", "unstable_runs", "failed_runs", "shuffled_control",
    "below_linear_bound", "partial"; for one run also "diverged", "too_few_samples",
    "degenerate_variable"); ``message`` is one sentence
    for people; ``unreliable`` says whether it makes the result unreliable
    (otherwise it is a warning).
    """

    code: str
    message: str
    unreliable: bool = True

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "unreliable": self.unreliable}


def reasons_of(flags: Iterable[Flag]) -> tuple[str, ...]:
    return tuple(f.message for f in flags if f.unreliable)


def warnings_of(flags: Iterable[Flag]) -> tuple[str, ...]:
    return tuple(f.message for f in flags if not f.unreliable)
