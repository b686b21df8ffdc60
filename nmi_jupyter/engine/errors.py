"""Errors and warnings a user of nmi_jupyter can meet.

Every error raised for a user's mistake is a :class:`NeuralMIError` whose message
is one sentence a scientist understands; the notebook magic shows that sentence
instead of a traceback.  This is a leaf module: it imports nothing internal.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "NeuralMIError",
    "InvalidDataError",
    "InsufficientDataError",
    "OptionError",
    "NeuralMIWarning",
    "closest_option_hint",
]


class NeuralMIError(ValueError):
    """Base class of every user-facing error raised by nmi_jupyter."""


class InvalidDataError(NeuralMIError):
    """The arrays cannot be used as they are (shape, dtype, NaN, constant column...)."""


class InsufficientDataError(NeuralMIError):
    """Too few samples for the requested batch size, split or subsampling."""


class OptionError(NeuralMIError):
    """An option is unknown or has a value outside its allowed range."""


class NeuralMIWarning(UserWarning):
    """Something worth a scientist's attention that does not stop the computation."""


def closest_option_hint(name: str, valid: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the valid name closest to ``name``, or ``""``."""
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""
