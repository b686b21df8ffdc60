"""The checking functions every option goes through, wherever it comes from.

One function per kind of value (:func:`as_int`, :func:`as_float`, :func:`as_bool`,
:func:`as_choice`, gamma lists), used by :class:`~nmi_jupyter.EstimateConfig`, the
options of ``rigorous()`` and ``refit()``, the fit options and the magic's
``%config`` traits, so that one option is judged the same way everywhere.  Each
returns a plain Python value (numpy scalars are welcome and converted, so settings
stay JSON data) or raises :class:`~nmi_jupyter.OptionError` with one sentence.

A leaf module: it imports nothing internal but the errors.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from nmi_jupyter.engine.errors import OptionError, closest_option_hint

__all__ = [
    "as_int",
    "as_float",
    "as_bool",
    "as_choice",
    "as_device",
    "as_gammas",
    "as_gamma_subset",
    "check_observer",
    "check_cancel",
    "describe_value",
]

# Larger values are not a number of epochs, samples or gammas anybody means, and past
# 2**63 torch and numpy overflow (a seed must also fit torch's 64-bit generator).
MAX_INT = 2**63 - 1
# Gammas (and exclude/use lists) read at most: gamma g trains g runs, so 1000 gammas
# already mean 500,500 runs; a longer collection is refused before it is listed.
MAX_GAMMAS = 1000


def describe_value(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error sentences."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _whole_number(value: Any) -> int | None:
    """``value`` as an int when it is an integer or an integer-valued real, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isfinite(f) and f.is_integer():
            return int(f)
    return None


def as_int(name: str, value: Any, minimum: int | None = None, maximum: int = MAX_INT) -> int:
    """An integer option: ints, numpy integers and integer-valued floats (3.0) pass and
    come back as ``int``; 2.7, True, "3" and None are errors, never truncated."""
    number = _whole_number(value)
    low = minimum if minimum is not None else -MAX_INT
    if number is None or not low <= number <= maximum:
        bound = f" >= {minimum}" if minimum is not None else ""
        raise OptionError(f"{name} must be an integer{bound}, not {describe_value(value)}.")
    return number


def as_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """A real option within ``[low, high]`` (an ``_open`` end excludes it), finite
    unless ``finite=False`` lets infinity through (NaN never passes): ints, floats and
    numpy scalars pass and come back as ``float``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    ok = ok and (math.isfinite(number) or (not finite and not math.isnan(number)))
    ok = ok and (low is None or (number > low if low_open else number >= low))
    ok = ok and (high is None or (number < high if high_open else number <= high))
    if not ok:
        raise OptionError(
            f"{name} must be a {'finite ' if finite else ''}number"
            f"{_range_text(low, high, low_open, high_open)}, not {describe_value(value)}."
        )
    return number


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        if low_open and high_open:
            return f" strictly between {low:g} and {high:g}"
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def as_bool(name: str, value: Any) -> bool:
    """True or False (numpy booleans too); 0, 1 and "yes" are errors."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise OptionError(f"{name} must be True or False, not {describe_value(value)}.")


def as_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (a string; a numpy string too), naming the closest on a typo."""
    if isinstance(value, str) and value in choices:
        return str(value)
    hint = closest_option_hint(value, choices) if isinstance(value, str) else ""
    raise OptionError(
        f"{name} must be one of {', '.join(choices)}; got {describe_value(value)}{hint}."
    )


def as_device(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices`` or ``cuda:N`` (a CUDA device by index)."""
    if isinstance(value, str) and (
        value in choices or (value.startswith("cuda:") and value[5:].isdigit())
    ):
        return str(value)
    listed = ", ".join(f"'{c}'" for c in choices)
    raise OptionError(f"{name} must be {listed} or 'cuda:N', not {describe_value(value)}.")


def _items(name: str, values: Any, example: str) -> list[Any]:
    """The elements of a collection option; a string or a single number is an error."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise OptionError(
            f"{name} must be a collection of gammas (e.g. {example}), not {describe_value(values)}."
        )
    try:
        size = len(values) if hasattr(values, "__len__") else None
    except OverflowError:  # a range longer than sys.maxsize: count by reading
        size = None
    try:
        # Never more than MAX_GAMMAS + 1 items are read: range(1, 3 * 10**7) is refused
        # at once, not after listing 30 million numbers (3 GB).
        items = list(itertools.islice(values, MAX_GAMMAS + 1)) if size is None else None
    except Exception as exc:  # a user's iterable that fails while iterating
        raise OptionError(f"{name} could not be read as a collection of gammas ({exc}).") from None
    count = size if items is None else len(items)
    if count > MAX_GAMMAS:
        many = f"{count:,}" if items is None else f"more than {MAX_GAMMAS}"
        raise OptionError(
            f"{name} holds {many} values, but at most {MAX_GAMMAS} gammas are accepted "
            "(each gamma g trains g runs: range(1, 11) trains 55)."
        )
    if items is not None:
        return items
    try:
        return list(values)
    except Exception as exc:  # a user's iterable that fails while iterating
        raise OptionError(f"{name} could not be read as a collection of gammas ({exc}).") from None


def as_gammas(values: Any) -> list[int]:
    """The gammas of a rigorous analysis: at least two distinct integers >= 1, sorted."""
    example = "range(1, 11)"
    items = _items("gammas", values, example)
    numbers_ = [_whole_number(g) for g in items]
    bad = [g for g, n in zip(items, numbers_, strict=True) if n is None or not 1 <= n <= MAX_INT]
    if bad:
        raise OptionError(
            f"gammas must be integers >= 1 (e.g. {example}); {describe_value(bad[0])} is not one."
        )
    gammas = sorted(set(numbers_))
    if len(gammas) != len(items) or len(gammas) < 2:
        raise OptionError(
            f"gammas must be at least two distinct integers >= 1 (e.g. {example}), "
            f"not {describe_value(values)}."
        )
    return gammas  # type: ignore[return-value]


def as_gamma_subset(
    name: str, values: Any, gammas: Iterable[int], *, keep_at_least: int = 2
) -> list[int]:
    """A hand-picked set of gammas (``exclude`` or ``use``), each one of ``gammas``,
    sorted; an error when it leaves (``exclude``) or keeps (``use``) fewer than
    ``keep_at_least`` gammas, since the line needs two points."""
    available = sorted(gammas)
    items = _items(name, values, "{9, 10}")
    chosen = []
    for item in items:
        g = _whole_number(item)
        if g is None:
            raise OptionError(
                f"{name} must hold whole-number gammas; {describe_value(item)} is not one."
            )
        if g not in available:
            raise OptionError(
                f"{name} names gamma {g}, which this analysis does not have "
                f"(gammas {', '.join(map(str, available))})."
            )
        chosen.append(g)
    chosen = sorted(set(chosen))
    kept = len(chosen) if name == "use" else len(available) - len(chosen)
    if kept < keep_at_least:
        raise OptionError(
            f"{name}={describe_value(values)} leaves {kept} gamma{'s' * (kept != 1)} for the fit; "
            f"it needs at least {keep_at_least}."
        )
    return chosen


def check_observer(observer: Any) -> None:
    """``observer`` must be None or a callable taking one event."""
    if observer is not None and not callable(observer):
        raise OptionError(
            "observer must be a function called with each training event (or None), "
            f"not {describe_value(observer)}."
        )


def check_cancel(cancel: Any) -> None:
    """``cancel`` must be None or a :class:`~nmi_jupyter.CancelToken` (anything with a
    ``cancelled`` flag)."""
    if cancel is not None and not hasattr(type(cancel), "cancelled"):
        raise OptionError(
            f"cancel must be a nmi_jupyter.CancelToken (or None), not {describe_value(cancel)}."
        )
