"""Pure parsing of a ``%%neuralmi`` invocation: the line and the body, no evaluation.

``%%neuralmi X Y [--options] [-o NAME]`` then body lines ``key = expression``.
X and Y are Python expressions (``spikes[:, :10]``), so the line is split on
whitespace outside brackets and quotes, not with shlex.
"""

from __future__ import annotations

import argparse
import ast
import re
from dataclasses import dataclass, field
from typing import Any

from nmi_jupyter.engine.errors import OptionError, closest_option_hint
from nmi_jupyter.engine.options import ANALYSES, ANALYSIS, OPTIONS, RUN, OptionSpec, options_of

__all__ = [
    "MagicRequest",
    "BodyOption",
    "parse_line",
    "parse_body",
    "parse_gammas",
    "split_line",
    "completions",
    "LINE_PARSER",
    "BODY_KEYS",
    "MODES",
    "USAGE",
]

MODES = ANALYSES
# The line's form, every mode named (the help, the parser's usage, errors).
USAGE = f"%%neuralmi X Y [--mode {'|'.join(MODES)}] [options] [-o NAME]"
# Options only an analysis other than a single estimate takes (--mode rigorous).
RIGOROUS_KEYS = frozenset(name for name in OPTIONS if name not in options_of("estimate"))
# Keys the body accepts: every option of the table, and the mode.
BODY_KEYS = (*OPTIONS, "mode")


class MagicSyntaxError(OptionError):
    """The magic's line or body cannot be read."""


@dataclass(frozen=True)
class BodyOption:
    """One ``key = expression`` line of the cell body (expression not yet evaluated)."""

    lineno: int
    key: str
    source: str


@dataclass(frozen=True)
class MagicRequest:
    """What the line asked for; ``options`` holds only the options given on the line."""

    x: str
    y: str
    options: dict[str, Any] = field(default_factory=dict)
    out: str = "_nmi"
    widgets: bool = True
    quiet: bool = False
    background: bool = False


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit the kernel
        raise MagicSyntaxError(f"%%neuralmi: {message}.")


def _choice(choices: tuple[str, ...], what: str):
    def convert(value: str) -> str:
        if value not in choices:
            hint = closest_option_hint(value, choices)
            raise argparse.ArgumentTypeError(
                f"{what} must be one of {', '.join(choices)}, not {value!r}{hint}"
            )
        return value

    return convert


def parse_gammas(text: str) -> list[int]:
    """``"1-10"`` -> 1..10; ``"1,2,5"``; ``"1-5,8"``."""
    values: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                lo, hi = part.split("-", 1)
                values += list(range(int(lo), int(hi) + 1))
            else:
                values.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"gammas must look like 1-10 or 1,2,4 or 1-5,8, not {text!r}"
        ) from None
    return values


def parse_lags(text: str) -> list[int]:
    """Lags on the line: ``range(-5, 6)`` (as in Python), ``-5..5`` (both ends
    included), ``0,3,5`` or ``-5..-1,3``.  A list starting with a minus sign is written
    ``--lags=-5..5`` (argparse would read ``-5..5`` after a space as a flag)."""
    text = text.strip().strip("'\"")
    found = re.fullmatch(r"range\(\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?(?:,\s*(-?\d+)\s*)?\)", text)
    if found:
        bounds = [int(v) for v in found.groups() if v is not None]
        if len(bounds) == 3 and bounds[2] == 0:
            raise argparse.ArgumentTypeError("lags: range() step must not be zero")
        return list(range(*bounds))
    values: list[int] = []
    try:
        for part in text.split(","):
            if ".." in part:
                lo, hi = part.split("..", 1)
                values += list(range(int(lo), int(hi) + 1))
            else:
                values.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"lags must look like range(-5, 6), -5..5 or 0,3,5, not {text!r}"
        ) from None
    return values


def _line_type(spec: OptionSpec):
    """How the line's text becomes a value of ``spec`` (checked later by the engine)."""
    if spec.kind == "choice":
        return _choice(spec.choices, spec.name)
    if spec.kind in ("gammas", "gamma_subset", "dims"):
        return parse_gammas
    if spec.kind == "lags":
        return parse_lags
    if spec.kind == "grid":
        return _literal
    return {"int": int, "float": float}.get(spec.kind, str)


def _literal(text: str) -> Any:
    """A Python literal on the line (``--grid "{'lr': [0.001, 0.01]}"``)."""
    try:
        return ast.literal_eval(text.strip("'\""))
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(
            f"expected a Python literal such as {{'embedding_dim': [1, 2, 4]}}, not {text!r}"
        ) from None


def _line_help(spec: OptionSpec) -> str:
    default = "" if spec.kind == "executor" else f" (default {spec.default_text})"
    # argparse formats help with %-style placeholders
    return (spec.help + default).replace("%", "%%")


def _metavar(spec: OptionSpec) -> str | None:
    if spec.kind == "choice":
        return "{" + ",".join(spec.choices) + "}"
    if spec.kind in ("gammas", "gamma_subset", "dims"):
        return "1-10|1,2,4"
    if spec.kind == "lags":
        return "range(-5,6)|0..5|0,3"
    if spec.kind == "grid":
        return "DICT"
    return {"executor": "NAME", "int": "N", "float": "X"}.get(spec.kind)


def _build_parser() -> argparse.ArgumentParser:
    """The line's parser, generated from the option table: every option gets its
    ``--kebab-case`` flag, a boolean ``--flag/--no-flag``."""
    p = _Parser(
        prog="%%neuralmi",
        usage=USAGE.replace("%%neuralmi", "%(prog)s"),
        add_help=False,
        allow_abbrev=False,
    )
    p.add_argument("x", help="Python expression for X (samples in rows)")
    p.add_argument("y", help="Python expression for Y (samples in rows)")
    p.add_argument(
        "--mode",
        type=_choice(MODES, "mode"),
        metavar="{" + ",".join(MODES) + "}",
        help="the analysis (default estimate)",
    )
    groups = {
        RUN: p.add_argument_group("options of every run"),
        ANALYSIS: p.add_argument_group(
            f"options of the analyses of many runs (--mode {', '.join(MODES[1:])})"
        ),
    }
    for spec in OPTIONS.values():
        group = groups[spec.scope]
        if spec.kind == "bool":
            group.add_argument(
                spec.flag,
                dest=spec.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=_line_help(spec),
            )
        else:
            group.add_argument(
                spec.flag,
                dest=spec.name,
                type=_line_type(spec),
                metavar=_metavar(spec),
                help=_line_help(spec),
            )
    shown = p.add_argument_group("output")
    shown.add_argument(
        "--no-widgets",
        dest="widgets",
        action="store_false",
        help="no live panel (plain-text progress)",
    )
    shown.add_argument("--quiet", action="store_true", help="no progress output at all")
    shown.add_argument(
        "--background",
        action="store_true",
        help="train in a worker thread; the cell returns a handle at once",
    )
    shown.add_argument("-o", "--out", default="_nmi", help="variable for the result (default _nmi)")
    return p


LINE_PARSER = _build_parser()
_FLAGS = ("widgets", "quiet", "out", "x", "y", "background")
# Every --flag of the line, for completion.
LINE_FLAGS = tuple(
    s for action in LINE_PARSER._actions for s in action.option_strings if s.startswith("--")
)
# The values completion offers after a flag or a body key (choices, True/False).
_VALUES = {"mode": MODES, **{name: spec.values for name, spec in OPTIONS.items() if spec.values}}
_KEY_OF_FLAG = {"--mode": "mode", **{spec.flag: name for name, spec in OPTIONS.items()}}
_BODY_KEY = re.compile(r"\s*(\w*)")
_BODY_VALUE = re.compile(r"\s*(\w+)\s*=\s*(['\"]?)([\w:]*)")


def split_line(line: str) -> list[str]:
    """Split on whitespace outside (), [], {} and string quotes."""
    tokens: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in line:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch in "([{":
            depth += 1
            current.append(ch)
        elif ch in ")]}":
            depth -= 1
            current.append(ch)
        elif ch.isspace() and depth <= 0:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(ch)
    if quote or depth > 0:
        raise MagicSyntaxError(f"%%neuralmi: unbalanced brackets or quotes in {line.strip()!r}.")
    if current:
        tokens.append("".join(current))
    return tokens


def completions(before_cursor: str, in_body: bool) -> tuple[str, list[str]]:
    """What tab completion offers at the cursor: ``(fragment, candidates)``, where
    ``fragment`` is the typed text the chosen candidate replaces.

    On the magic line (``before_cursor`` is the text after ``%neuralmi``): flags
    (``--ep`` -> ``--epochs``) and, after a flag that takes one of a few values, those
    values (``--estimator sm`` -> ``smile``).  In the body: keys (``epo`` ->
    ``epochs``) and, after ``key =``, the values of that key (quoted when no quote
    was typed: ``estimator = `` -> ``"infonce"``, ...; ``copula = `` -> ``False``).
    """
    if in_body:
        whole = _BODY_KEY.fullmatch(before_cursor)
        if whole:
            typed = whole.group(1)
            return typed, [key for key in BODY_KEYS if key.startswith(typed)]
        value = _BODY_VALUE.fullmatch(before_cursor)
        if not value:
            return "", []
        key, quote, typed = value.groups()
        values = _VALUES.get(key, ())
        is_text = key == "mode" or (key in OPTIONS and OPTIONS[key].kind != "bool")
        found = [v for v in values if v.startswith(typed)]
        if is_text and not quote:
            return typed, [f'"{v}"' for v in found]
        return typed, found
    tokens = before_cursor.split()
    if before_cursor[-1:].isspace() or not tokens:
        tokens.append("")
    typed, previous = tokens[-1], (tokens[-2] if len(tokens) > 1 else "")
    key = _KEY_OF_FLAG.get(previous)
    if key is not None and (key == "mode" or OPTIONS[key].kind != "bool"):
        return typed, [v for v in _VALUES.get(key, ()) if v.startswith(typed)]
    if typed.startswith("-"):
        return typed, [flag for flag in LINE_FLAGS if flag.startswith(typed)]
    return typed, []


def parse_line(line: str) -> MagicRequest:
    """Parse the magic line into a :class:`MagicRequest` (expressions kept as text)."""
    tokens = split_line(line)
    if len([t for t in tokens if not t.startswith("-")]) < 2 and not any(
        t in ("-h", "--help") for t in tokens
    ):
        raise MagicSyntaxError(
            "%%neuralmi needs two expressions, X and Y: e.g. %%neuralmi spikes behaviour."
        )
    ns = LINE_PARSER.parse_args(tokens)
    values = vars(ns)
    options = {k: v for k, v in values.items() if k not in _FLAGS and v is not None}
    if not values["out"].isidentifier():
        raise MagicSyntaxError(f"%%neuralmi: -o needs a variable name, not {values['out']!r}.")
    return MagicRequest(
        x=values["x"],
        y=values["y"],
        options=options,
        out=values["out"],
        widgets=values["widgets"],
        quiet=values["quiet"],
        background=values["background"],
    )


def parse_body(body: str) -> list[BodyOption]:
    """Parse ``key = expression`` lines; comments and blank lines are allowed.

    Raises :class:`MagicSyntaxError` naming the line for anything else: a
    statement, an unknown key (with the closest valid one), a key given twice.
    """
    options: list[BodyOption] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(body.splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            tree = ast.parse(text, mode="exec")
        except SyntaxError:
            tree = None
        stmt = tree.body[0] if tree and len(tree.body) == 1 else None
        if not (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            raise MagicSyntaxError(
                f"%%neuralmi body line {lineno}: expected 'key = value', got {text!r} "
                "(one option per line; the body holds options, not code)."
            )
        key = stmt.targets[0].id
        if key not in BODY_KEYS:
            raise MagicSyntaxError(
                f"%%neuralmi body line {lineno}: unknown option '{key}'"
                f"{closest_option_hint(key, BODY_KEYS)}."
            )
        if key in seen:
            raise MagicSyntaxError(
                f"%%neuralmi body line {lineno}: '{key}' was already set on line {seen[key]}."
            )
        seen[key] = lineno
        options.append(BodyOption(lineno, key, ast.get_source_segment(text, stmt.value) or ""))
    return options
