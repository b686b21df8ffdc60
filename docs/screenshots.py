"""Screenshots of the panels in a real JupyterLab under headless Chromium.

    python docs/screenshots.py [--out docs]

Starts JupyterLab on 127.0.0.1 (random port, token) in a temporary folder with a
small notebook, opens it in Debian's Chromium through Playwright (never
``playwright install``), runs it, and saves ``training_panel.png`` (mid-training)
and ``fit_panel.png`` (at the end).  The server is stopped by PID, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CELLS = [
    "%load_ext nmi_jupyter\nimport nmi_jupyter as nmi\n"
    "x, y = nmi.generators.correlated_gaussians(n=6000, dim=5, mi=2.0, seed=0)",
    "%%neuralmi x y --mode rigorous --seed 0 -o res\nepochs = 60\npatience = 60",
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(root: Path, port: int, token: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
            "--LabApp.news_url=''",
            "--LabApp.user_settings_dir=" + str(root / "settings"),
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for(url: str, timeout: float = 90) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--theme", default="light", choices=["light", "dark"])
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "_dark" if args.theme == "dark" else ""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = root / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        theme = "JupyterLab Dark" if args.theme == "dark" else "JupyterLab Light"
        (settings / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        (root / "panels.ipynb").write_text(json.dumps(notebook(CELLS)))
        port, token = free_port(), secrets.token_hex(16)
        server = start_lab(root, port, token)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/api/status?token={token}")
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    headless=True,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--no-first-run",
                    ],
                )
                page = browser.new_page(viewport={"width": 1300, "height": 1450})
                page.goto(f"{base}/lab/tree/panels.ipynb?token={token}")
                page.wait_for_selector(".jp-Notebook", timeout=60000)
                page.wait_for_selector(
                    ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000
                )
                page.click(".jp-Cell .jp-InputArea-editor >> nth=0")
                page.keyboard.press("Shift+Enter")  # runs a cell and moves to the next
                page.keyboard.press("Shift+Enter")
                page.wait_for_selector(".bqplot svg", timeout=60000)
                time.sleep(6)
                page.screenshot(path=str(out / f"training_panel{suffix}.png"), full_page=True)
                page.wait_for_selector("text=Drag the orange handle", timeout=240000)
                time.sleep(2)
                page.locator("text=corrected MI =").first.scroll_into_view_if_needed()
                page.screenshot(path=str(out / f"fit_panel{suffix}.png"), full_page=True)
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
