"""A JupyterLab server on 127.0.0.1 and Debian's Chromium, for the browser test and
``docs/screenshots.py`` (one implementation for both)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (root), and nothing that reaches for the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def write_settings(root: Path, theme: str | None = None) -> Path:
    """User settings for a quiet Lab (no news pop-up), optionally a theme; returns the folder."""
    settings = root / "settings"
    apputils = settings / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    if theme:
        (apputils / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    return settings


@contextlib.contextmanager
def running_lab(root: Path, env: dict[str, str] | None = None) -> Iterator[dict]:
    """Start JupyterLab in ``root`` (random port, token); yield {base, token, runtime};
    stop it by process group at the end, also on failure."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    runtime = root / "runtime"
    settings = root / "settings"
    full_env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "JUPYTER_RUNTIME_DIR": str(runtime),
        **(env or {}),
    }
    log = open(root / "server.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={settings}",
        ],
        cwd=root,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError(
                        f"JupyterLab did not start; see {root / 'server.log'}"
                    ) from None
                time.sleep(0.5)
        yield {"base": base, "token": token, "runtime": runtime, "root": root}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def launch_chromium(playwright):
    """Debian's Chromium through Playwright (never a downloaded browser build)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code ``cells`` with the python3 kernel, written to ``path``."""
    import nbformat

    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    book.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(book, path)
    return path


def open_and_run_all(page, lab: dict, workspace: str, notebook: str) -> None:
    """Open ``notebook`` in a fresh JupyterLab workspace of its own (so no other test's tab
    is restored beside it), wait for its kernel and click Run > Run All Cells."""
    page.goto(
        f"{lab['base']}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={lab['token']}"
    )
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    page.wait_for_selector("text=| Idle", timeout=120_000)  # the kernel is connected
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
