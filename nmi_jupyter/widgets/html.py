"""HTML views of results: badges, flag lists, the results' ``_repr_html_``.

Plain HTML and the standard library only (no ipywidgets), so a result's HTML repr
works wherever it is asked for.  Colours follow the JupyterLab theme where there is
one (its CSS variables), with fallbacks readable on light and dark backgrounds.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nmi_jupyter.engine.results import EstimateResult
    from nmi_jupyter.engine.rigorous_result import RigorousResult
    from nmi_jupyter.engine.verdict import Flag

__all__ = [
    "badge",
    "verdict_badge",
    "flags_html",
    "rigorous_html",
    "estimate_html",
    "sweep_html",
    "dimensionality_html",
]

# JupyterLab's theme variables, each with a fallback for other front ends.
BADGE_COLOURS = {
    "success": "--jp-success-color1, #2e7d32",
    "error": "--jp-error-color1, #c62828",
    "warn": "--jp-warn-color1, #ef6c00",
}


def badge(text: str, kind: str) -> str:
    """A small coloured label ("success", "error" or "warn") that follows the
    JupyterLab theme where there is one."""
    colour = BADGE_COLOURS[kind]
    return (
        f"<span style='border:1px solid var({colour});color:var({colour});border-radius:3px;"
        f"padding:0 4px;font-size:85%;font-weight:bold'>{html.escape(text)}</span>"
    )


def verdict_badge(reliable: bool) -> str:
    """A "reliable" badge in green, or "not reliable" in red."""
    return badge("reliable", "success") if reliable else badge("not reliable", "error")


def flags_html(flags: tuple[Flag, ...]) -> str:
    """One line per flag: a badge with its code (red: unreliable, orange: a warning) and
    its sentence; an empty string when there are none.  Shared by the result's HTML and
    the fit panel."""
    items = "".join(
        f"<li>{badge(f.code, 'error' if f.unreliable else 'warn')} {html.escape(f.message)}</li>"
        for f in flags
    )
    return f"<ul style='margin:2px'>{items}</ul>" if items else ""


def rigorous_html(result: RigorousResult) -> str:
    """A rigorous result's summary with its verdict and flags as badges."""
    lines = [
        line
        for line in result.summary().splitlines()
        if not line.startswith(("unreliable because", "warning:"))
    ]
    body = "<br>".join(html.escape(line) for line in lines)
    return (
        "<div class='nmi-result'><strong>nmi_jupyter rigorous</strong> "
        f"{verdict_badge(result.is_reliable)}<br>{body}{flags_html(result.flags)}</div>"
    )


def estimate_html(result: EstimateResult) -> str:
    """An estimate as a two-column table (``result.table_rows()``)."""
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in result.table_rows()
    )
    return (
        f"<div class='nmi-result'><strong>nmi_jupyter estimate</strong><table>{rows}</table></div>"
    )


def _summary_html(title: str, result) -> str:
    """A result's summary (verdict lines as badges below) under a bold title."""
    lines = [
        line
        for line in result.summary().splitlines()
        if not line.startswith(("unreliable because", "warning:"))
    ]
    body = "<br>".join(html.escape(line) for line in lines)
    return (
        f"<div class='nmi-result'><strong>nmi_jupyter {title}</strong> "
        f"{verdict_badge(result.is_reliable)}<br>{body}{flags_html(result.flags)}</div>"
    )


def sweep_html(result) -> str:
    """A sweep: its summary (one line per grid point), verdict and flags as badges."""
    return _summary_html("sweep", result)


def dimensionality_html(result) -> str:
    """A dimensionality analysis: the dimension, the curve, verdict and flags."""
    return _summary_html("dimensionality", result)
