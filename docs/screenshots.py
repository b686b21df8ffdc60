"""Screenshots of the panels in a real JupyterLab under headless Chromium.

    python docs/screenshots.py [--out docs] [--theme dark] [--dask | --flagged]

Starts JupyterLab on 127.0.0.1 (random port, token) in a temporary folder with a
small notebook, opens it in Debian's Chromium through Playwright (never
``playwright install``), runs it, and saves ``training_panel.png`` (mid-training)
and ``fit_panel.png`` (at the end).  The server is stopped by PID, also on failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from labserver import launch_chromium, running_lab, write_settings  # noqa: E402

CELLS = [
    "%load_ext nmi_jupyter\nimport nmi_jupyter as nmi\n"
    "x, y = nmi.generators.correlated_gaussians(n=6000, dim=5, mi=2.0, seed=0)",
    "%%neuralmi x y --mode rigorous --seed 0 -o res\nepochs = 60\npatience = 60",
]
# --dask: the same analysis on a two-worker Dask LocalCluster (events streamed live).
DASK_CELLS = [
    CELLS[0] + "\nfrom dask.distributed import Client, LocalCluster\n"
    "client = Client(LocalCluster(n_workers=2, threads_per_worker=1, host='127.0.0.1', "
    "dashboard_address=None))",
    CELLS[1].replace("-o res", "--executor client -o res"),
]
# --flagged: one feature each with 10 bits; the critic stalls far below the linear lower
# bound and the KSG estimate (fit_panel_flagged.png shows the flags, the bound's green
# dashes, the KSG point and the verdict).
FLAGGED_CELLS = [
    "%load_ext nmi_jupyter\nimport nmi_jupyter as nmi\n"
    "x, y = nmi.generators.correlated_gaussians(n=5000, dim=1, mi=10.0, seed=0)",
    "%%neuralmi x y --mode rigorous --seed 0 -o res\nepochs = 50",
]


def notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": c,
            }
            for c in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--theme", default="light", choices=["light", "dark"])
    parser.add_argument("--dask", action="store_true", help="train on a Dask LocalCluster")
    parser.add_argument(
        "--flagged", action="store_true", help="a failing analysis: fit_panel_flagged.png only"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ("_dark" if args.theme == "dark" else "") + ("_dask" if args.dask else "")
    suffix += "_flagged" if args.flagged else ""
    cells = DASK_CELLS if args.dask else FLAGGED_CELLS if args.flagged else CELLS
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_settings(root, "JupyterLab Dark" if args.theme == "dark" else "JupyterLab Light")
        (root / "panels.ipynb").write_text(json.dumps(notebook(cells)))
        with running_lab(root) as lab, sync_playwright() as p:
            base, token = lab["base"], lab["token"]
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1300, "height": 1450})
            page.goto(f"{base}/lab/tree/panels.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=60000)
            page.wait_for_selector("text=| Idle", timeout=60000)  # the kernel is connected
            page.click(".jp-Cell .jp-InputArea-editor >> nth=0")
            page.keyboard.press("Shift+Enter")  # runs a cell and moves to the next
            page.keyboard.press("Shift+Enter")
            page.wait_for_selector(".bqplot svg", timeout=60000)
            time.sleep(12 if args.dask else 6)
            if not args.flagged:
                page.screenshot(path=str(out / f"training_panel{suffix}.png"), full_page=True)
            page.wait_for_selector(
                ".widget-html-content:has-text('Drag the orange handle')", timeout=240000
            )
            time.sleep(2)
            page.locator("text=corrected MI =").first.scroll_into_view_if_needed()
            page.screenshot(path=str(out / f"fit_panel{suffix}.png"), full_page=True)
            browser.close()


if __name__ == "__main__":
    main()
