"""What Notebook 7 and Voila show of a one-line rigorous cell (README, "What each front-end shows").

    pip install notebook voila        # not part of the test extra
    python docs/check_front_ends.py notebook
    python docs/check_front_ends.py voila

Starts the front-end on 127.0.0.1 (random port, token) in a temporary folder with a small
notebook, opens it in Debian's Chromium through Playwright (never ``playwright install``),
runs it (Notebook 7: Run All Cells; Voila runs it itself), waits for the live panel (Notebook 7
only: Voila shows nothing until the notebook has run) and for the fit panel, saves screenshots
beside the notebook and prints one JSON line: when each panel appeared and the console errors.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from labserver import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

app = sys.argv[1] if len(sys.argv) > 1 else "notebook"
if app not in ("notebook", "voila"):
    sys.exit("usage: python docs/check_front_ends.py notebook|voila")
root = Path(tempfile.mkdtemp(prefix=f"nmi-{app}-"))
book = nbformat.v4.new_notebook()
book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
book.cells = [
    nbformat.v4.new_code_cell(s)
    for s in [
        "%load_ext nmi_jupyter",
        "import nmi_jupyter as nmi\n"
        "x, y = nmi.generators.correlated_gaussians(n=3000, dim=2, mi=1.0, seed=0)",
        "%neuralmi x y --mode rigorous --gammas 1-6 --epochs 20 --seed 0 -o res",
    ]
]
nbformat.write(book, root / "fe.ipynb")
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
token = secrets.token_hex(8)
if app == "notebook":
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "notebook",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    url = f"http://127.0.0.1:{port}/notebooks/fe.ipynb?token={token}"
else:
    cmd = [
        sys.executable,
        "-m",
        "voila",
        "--no-browser",
        "--ServerApp.allow_root=True",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        f"--ServerApp.token={token}",
        str(root / "fe.ipynb"),
    ]
    url = f"http://127.0.0.1:{port}/?token={token}"
env = dict(os.environ, OMP_NUM_THREADS="1")
server = subprocess.Popen(
    cmd, cwd=root, stdout=open(root / "server.log", "w"), stderr=subprocess.STDOUT, env=env
)
try:
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api?token={token}", timeout=2)
            break
        except Exception:
            time.sleep(0.5)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = b.new_page(viewport={"width": 1300, "height": 1400})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.time()
        page.goto(url, timeout=300_000)
        if app == "notebook":
            page.wait_for_selector(".jp-Notebook", timeout=120_000)
            time.sleep(5)
            page.keyboard.press("Escape")
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            page.wait_for_selector(
                ".widget-html-content:has-text('shuffled controls')", timeout=300_000
            )
            live_at = time.time() - t0
            page.screenshot(path=str(root / "live.png"), full_page=True)
        else:
            live_at = None
        page.wait_for_selector(
            ".widget-html-content:has-text('Drag the orange handle')", timeout=600_000
        )
        fit_at = time.time() - t0
        time.sleep(3)
        page.screenshot(path=str(root / "fit.png"), full_page=True)
        ours = [
            e for e in errors if "nmi" in e.lower() or "bqplot" in e.lower() or "translate" in e
        ]
        print(
            json.dumps(
                {
                    "app": app,
                    "screenshots": str(root),
                    "live_panel_seen_at_s": live_at,
                    "fit_panel_at_s": round(fit_at, 1),
                    "console_errors": len(errors),
                    "product_errors": ours[:3],
                }
            )
        )
        b.close()
finally:
    server.terminate()
    server.wait(20)
