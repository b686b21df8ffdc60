"""Pure parsing of a ``%%neuralmi`` invocation: the line and the body, no evaluation.

``%%neuralmi X Y [--options] [-o NAME]`` then body lines ``key = expression``.
X and Y are Python expressions (``spikes[:, :10]``), so the line is split on
whitespace outside brackets and quotes, not with shlex.
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass, field
from typing import Any

from nmi_jupyter.engine.api import RIGOROUS_OPTIONS
from nmi_jupyter.engine.config import CRITICS, DEVICES, ESTIMATORS, SPLITS, UNITS, option_names
from nmi_jupyter.engine.errors import OptionError, closest_option_hint

__all__ = [
    "MagicRequest",
    "BodyOption",
    "parse_line",
    "parse_body",
    "parse_gammas",
    "split_line",
    "LINE_PARSER",
    "BODY_KEYS",
    "MODES",
]

MODES = ("estimate", "rigorous")
# Keys the body accepts: every engine option, the rigorous-mode options, the mode.
RIGOROUS_KEYS = RIGOROUS_OPTIONS
BODY_KEYS = (*option_names(), *RIGOROUS_KEYS, "mode")


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


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%%neuralmi", add_help=False, allow_abbrev=False)
    p.add_argument("x", help="Python expression for X (samples in rows)")
    p.add_argument("y", help="Python expression for Y (samples in rows)")
    p.add_argument("--mode", type=_choice(MODES, "mode"), help="estimate (default) or rigorous")
    p.add_argument(
        "--estimator", type=_choice(ESTIMATORS, "estimator"), help="bound: " + ", ".join(ESTIMATORS)
    )
    p.add_argument("--critic", type=_choice(CRITICS, "critic"), help=", ".join(CRITICS))
    p.add_argument("--epochs", type=int, help="most epochs (default 50)")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="minibatch (default 128)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 5e-4)")
    p.add_argument("--patience", type=int, help="early-stopping patience (default 10)")
    p.add_argument("--gammas", type=parse_gammas, help="rigorous gammas, e.g. 1-10 or 1,2,4")
    p.add_argument("--split", type=_choice(SPLITS, "split"), help="random or blocked")
    p.add_argument("--units", type=_choice(UNITS, "units"), help="bits (default) or nats")
    p.add_argument("--seed", type=int, help="random seed for a reproducible result")
    p.add_argument(
        "--copula",
        action="store_const",
        const=True,
        help="rank-Gaussianise each feature first (the default; MI unchanged; tames heavy tails)",
    )
    p.add_argument(
        "--no-copula",
        dest="copula",
        action="store_const",
        const=False,
        help="give the critic the raw (standardised) features",
    )
    p.add_argument("--device", type=str, help=", ".join(DEVICES) + " or cuda:N")
    p.add_argument(
        "--executor",
        type=str,
        help="rigorous: a notebook name holding a concurrent.futures executor or a Dask Client",
    )
    p.add_argument("--retries", type=int, help="rigorous: resubmissions of a failed work unit")
    p.add_argument(
        "--no-widgets",
        dest="widgets",
        action="store_false",
        help="no live panel (plain-text progress)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output at all")
    p.add_argument(
        "--background",
        action="store_true",
        help="train in a worker thread; the cell returns a handle at once",
    )
    p.add_argument("-o", "--out", default="_nmi", help="variable for the result (default _nmi)")
    return p


LINE_PARSER = _build_parser()
_FLAGS = ("widgets", "quiet", "out", "x", "y", "background")


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
