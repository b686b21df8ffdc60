"""The fit-diagnosis notebook in a real JupyterLab: panels render, the mouse drags the
cutoff handle and clicks a gamma, and the kernel's result changes accordingly."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from labserver import open_and_run_all, write_notebook

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("NMI_SCREENSHOTS", "browser-screenshots"))
HANDLE_FILL = ("rgb(255, 127, 14)", "#ff7f0e")


def _kernel_client(lab, notebook: str):
    """A client of the kernel behind ``notebook`` (each test's notebook has its own)."""
    from jupyter_client import BlockingKernelClient

    url = f"{lab['base']}/api/sessions?token={lab['token']}"
    sessions = json.loads(urllib.request.urlopen(url).read())
    kernel_id = next(s["kernel"]["id"] for s in sessions if s["path"].endswith(notebook))
    client = BlockingKernelClient(connection_file=str(lab["runtime"] / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return client


def _ask(client, expression: str) -> str:
    out: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    client.execute_interactive(f"print({expression})", output_hook=hook, timeout=60)
    return "".join(out).strip()


def _drag_handle_left(page, fraction: float) -> None:
    """Drag the fit panel's orange handle left by ``fraction`` of its figure's width."""
    handle = None
    for fill in HANDLE_FILL:
        candidates = page.locator(f".bqplot path.dot[style*='{fill}']")
        if candidates.count():
            handle = candidates.last
            break
    assert handle is not None, "the orange handle is not in the page"
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    figure = handle.locator("xpath=ancestor::*[local-name()='svg'][1]").bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 - fraction * figure["width"], y0, steps=12)
    page.mouse.up()


def test_fit_panel_drag_and_click_change_the_kernel_result(lab, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1300, "height": 1400})
    # Each test in a workspace of its own (and reset): JupyterLab would otherwise
    # restore the other test's notebook beside this one, and "Run All Cells" could
    # act on that tab.
    open_and_run_all(page, lab, "fit", "fit.ipynb")
    page.wait_for_selector(
        ".widget-html-content:has-text('Drag the orange handle')", timeout=300_000
    )
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=300_000)
    page.screenshot(path=str(SHOTS / "01_after_run.png"), full_page=True)

    # The live panel's curves and the fit panel's marks are drawn, numbers shown.
    assert page.locator(".bqplot path.line").count() > 5
    assert page.locator("text=corrected MI =").count() >= 1

    client = _kernel_client(lab, "fit.ipynb")
    try:
        assert _ask(client, "good.fit.mode") == "automatic"
        before = _ask(client, "max(good.gammas_used)")

        _drag_handle_left(page, 0.3)
        time.sleep(2)
        page.screenshot(path=str(SHOTS / "02_after_drag.png"), full_page=True)
        assert _ask(client, "good.fit.mode") == "manual"
        after = int(_ask(client, "max(good.gammas_used)"))
        assert after < int(before)
        exact = _ask(
            client,
            "good.fit == good.refit(exclude=sorted(set(good.gammas) - set(good.gammas_used))).fit",
        )
        assert exact == "True"

        # Click gamma 2's mean: it leaves the fit.
        means = page.locator(
            ".bqplot path.dot[style*='stroke: white'], "
            ".bqplot path.dot[style*='stroke: rgb(255, 255, 255)']"
        )
        assert means.count() >= 3
        means.nth(1).click()
        time.sleep(2)
        page.screenshot(path=str(SHOTS / "03_after_click.png"), full_page=True)
        assert "2" not in _ask(client, "good.gammas_used").strip("()").replace(" ", "").split(",")
    finally:
        client.stop_channels()


ONE_LINE = [
    "%load_ext nmi_jupyter",
    "import nmi_jupyter as nmi\n"
    "x, y = nmi.generators.correlated_gaussians(n=1500, dim=2, mi=1.0, seed=0)",
    "%neuralmi x y --mode rigorous --gammas 1-6 --epochs 3 --seed 0 -o res",
]
# Errors of the page that come from the product (bqplot marks, our widgets), as
# opposed to JupyterLab's own start-up noise.
PRODUCT = ("attribute", "bqplot", "widget", "translate", "NaN", "undefined")


def test_one_line_rigorous_cell_shows_one_truth_and_saves_the_dragged_fit(lab, browser):
    import base64
    import hashlib
    import re
    import subprocess
    import sys

    path = write_notebook(lab["root"] / "one_line.ipynb", ONE_LINE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1300, "height": 1400})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_and_run_all(page, lab, "one-line", "one_line.ipynb")
    page.wait_for_selector(
        ".widget-html-content:has-text('Drag the orange handle')", timeout=300_000
    )
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=300_000)
    client = _kernel_client(lab, "one_line.ipynb")
    try:
        _drag_handle_left(page, 0.3)
        time.sleep(3)
        page.screenshot(path=str(SHOTS / "04_one_line_after_drag.png"), full_page=True)
        assert _ask(client, "res.fit.mode") == "manual"
        # Every number in the cell's output area is the kernel's current result.
        area = page.locator(".jp-Cell").nth(2).locator(".jp-OutputArea").inner_text()
        shown = set(re.findall(r"\d+\.\d{3,4}", area))
        kernel = _ask(
            client,
            "' '.join(f'{abs(v):.3f} {abs(v):.4f}' for v in (res.mi, res.mi_error, "
            "res.mi_error_pred, "
            "res.fit.slope, res.fit.delta, res.fit.r2, res.linear_mi, res.neighbours.mi, "
            "res.neighbours.se))",
        ).split()
        assert f"{float(kernel[1]):.4f}" in area  # the corrected MI
        stale = shown - set(kernel)
        assert not stale, f"numbers on screen that the kernel's result does not have: {stale}"
        picture = _ask(
            client,
            "__import__('hashlib').sha256(res.panel().png()).hexdigest()",
        )
    finally:
        client.stop_channels()
    page.keyboard.press("Control+s")
    time.sleep(3)
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(path)],
        check=True,
        capture_output=True,
    )
    exported = path.with_suffix(".html").read_text()
    assert "FitPanel(children" not in exported
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', exported)
    hashes = {hashlib.sha256(base64.b64decode(i)).hexdigest() for i in images}
    assert picture in hashes, "the saved notebook does not show the dragged fit"
    product = [e for e in errors if any(word in e for word in PRODUCT)]
    assert not product, f"{len(product)} console errors, e.g. {product[:3]}"
