"""The quickstart, executed as a user would (nbclient, like ``jupyter nbconvert --execute``),
saves a picture beside every widget, so nbconvert HTML, nbviewer and GitHub show what the
user saw (issue 16)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_widget_output_of_the_executed_quickstart_carries_a_picture(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    book = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    env_before = os.environ.get("NMI_QUICK")
    os.environ["NMI_QUICK"] = "1"  # the kernel inherits it: a few epochs, small data
    try:
        resources = {"metadata": {"path": str(tmp_path)}}
        client = nbclient.NotebookClient(
            book, timeout=600, kernel_name="python3", resources=resources
        )
        client.execute()
    finally:
        if env_before is None:
            os.environ.pop("NMI_QUICK", None)
        else:
            os.environ["NMI_QUICK"] = env_before
    widget_outputs = [
        output
        for cell in book.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    assert widget_outputs, "the quickstart shows no widget"
    bare = [o for o in widget_outputs if "image/png" not in o["data"]]
    assert not bare, f"{len(bare)} of {len(widget_outputs)} widget outputs have no picture"
    text = "".join(
        o.get("data", {}).get("text/plain", "")
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "FitPanel(children" not in text
