"""Pictures of a panel's current state, stored beside the widget in the notebook.

Front ends that show no widgets (nbconvert, nbviewer, GitHub, a saved notebook
opened without the kernel) show the ``image/png`` of an output instead, so every
panel keeps one that matches what the user last saw.  Matplotlib is used through
``matplotlib.figure.Figure``: no pyplot state, no backend switch.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

__all__ = ["png_of", "with_picture"]


def png_of(draw: Callable[[Any], None], figsize: tuple[float, float] = (6.4, 4.0)) -> bytes:
    """PNG bytes of a matplotlib ``Figure`` drawn by ``draw(figure)``."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def with_picture(widget, png: bytes, text: str) -> dict[str, Any]:
    """``widget``'s display bundle plus ``png`` and ``text``: widget front ends show the
    panel, the others the picture (or the text)."""
    bundle = dict(widget._repr_mimebundle_() or {})
    bundle["image/png"] = base64.b64encode(png).decode("ascii")
    bundle["text/plain"] = text
    return bundle
