"""Fixtures for the real-browser test: JupyterLab on 127.0.0.1 and Debian's Chromium.

Skipped where chromium, playwright or jupyterlab are missing (.ci/run installs them).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from labserver import CHROMIUM, launch_chromium, running_lab, write_settings

ROOT = Path(__file__).resolve().parents[2]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed"
    for module in ("playwright", "jupyterlab"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed"
    return None


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("lab")
    # The tutorial without its stored outputs and widget state, so every view on the
    # page comes from this kernel.
    book = nbformat.read(ROOT / "notebooks" / "02_bias_correction.ipynb", as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    book.metadata.pop("widgets", None)
    nbformat.write(book, root / "fit.ipynb")
    write_settings(root)
    with running_lab(root, env={"NMI_QUICK": "1"}) as server:
        yield server


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()
