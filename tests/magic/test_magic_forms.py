"""Every form of the magic that the documentation shows works as written; the line
form gives what the cell form gives; mistakes are reported before anything is drawn."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nmi_jupyter as nmi
from nmi_jupyter.magic.background import BackgroundRun
from nmi_jupyter.magic.cell_magic import NeuralMIMagics

ROOT = Path(__file__).resolve().parents[2]
TINY = "batch_size = 32\nhidden_dim = 8\nembedding_dim = 4\n"
MAGIC = re.compile(r"^%%?neuralmi\b")


@pytest.fixture
def ip(monkeypatch):
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    shell.run_cell(
        "import numpy as np\n"
        "import concurrent.futures as cf\n"
        "import nmi_jupyter as nmi\n"
        "x, y = nmi.generators.correlated_gaussians(2000, 2, 1.0, seed=0)\n"
        "spikes = np.hstack([x] * 6)\n"
        "behaviour = y\n"
        "xw, yw = x, y\n"
        "EPOCHS = 2\n"
        "PERMS = 9\n"
        "xi, yi, channels = x, y, spikes[:, :4]\n"
        "x0, y0, z0 = x, y, behaviour\n"
        "z = np.random.default_rng(1).normal(size=(2000, 1))\n"
        "client = pool = cf.ThreadPoolExecutor(2)\n"
    )
    shown: list[dict] = []
    original = shell.display_pub.publish

    def publish(data, metadata=None, *args, **kwargs):
        shown.append(data)
        return original(data, metadata, *args, **kwargs)

    monkeypatch.setattr(shell.display_pub, "publish", publish)
    shell.shown = shown
    yield shell
    shell.user_ns["client"].shutdown()
    for c in shell.configurables:
        if isinstance(c, NeuralMIMagics):
            for name in c.trait_names(config=True):
                setattr(c, name, None)
    shell.config.pop("NeuralMIMagics", None)
    shell.run_line_magic("unload_ext", "nmi_jupyter")


# ----- the examples in README.md and the notebooks -----
def _examples_in_markdown(text: str) -> list[str]:
    """Magic examples in fenced or indented code blocks and in table cells."""
    found: list[str] = []
    lines = text.splitlines()
    fenced = False
    for i, raw in enumerate(lines):
        if raw.strip().startswith("```"):
            fenced = not fenced
            continue
        indent = "" if fenced else "    "
        if not raw.startswith(indent) or not MAGIC.match(raw[len(indent) :]):
            if raw.startswith("|") and re.match(r"\|\s*`%%?neuralmi", raw):
                cell = raw.split("|")[1]
                found.append("\n".join(c.strip().strip("`") for c in cell.split("<br>")))
            continue
        block = [raw[len(indent) :]]
        for more in lines[i + 1 :]:
            if not more.strip() or more.strip().startswith("```") or not more.startswith(indent):
                break
            block.append(more[len(indent) :])
        found.append("\n".join(block))
    return found


def _documented_examples() -> list[tuple[str, str]]:
    examples = [("README.md", e) for e in _examples_in_markdown((ROOT / "README.md").read_text())]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        for cell in book.cells:
            if cell.cell_type == "code" and MAGIC.match(cell.source):
                examples.append((path.name, cell.source))
            elif cell.cell_type == "markdown":
                examples += [(path.name, e) for e in _examples_in_markdown(cell.source)]
    return examples


def _small(example: str) -> str:
    """The example as written, with fewer epochs (the form is what is tested)."""
    example = re.sub(r"--epochs\s+\d+", "--epochs 2", example)
    return re.sub(r"^epochs\s*=.*$", "epochs = 2", example, flags=re.MULTILINE)


EXAMPLES = _documented_examples()


def test_the_documentation_shows_both_forms():
    sources = [e for _, e in EXAMPLES]
    assert len(sources) >= 8
    assert any(s.startswith("%neuralmi") for s in sources)
    assert any("--background" in s for s in sources) and any("--executor" in s for s in sources)


@pytest.mark.parametrize(
    "where, example", EXAMPLES, ids=[f"{w}:{e.splitlines()[0]}" for w, e in EXAMPLES]
)
def test_every_documented_magic_runs_as_written(ip, where, example):
    ip.run_line_magic("config", "NeuralMIMagics.epochs = 2")
    ip.run_line_magic("config", "NeuralMIMagics.hidden_dim = 8")
    ip.run_line_magic("config", "NeuralMIMagics.batch_size = 64")
    ran = ip.run_cell(_small(example))
    assert ran.success, f"{where}: {example!r} failed: {ran.error_before_exec or ran.error_in_exec}"
    out = re.search(r"-o\s+(\w+)", example)
    value = ip.user_ns[out.group(1) if out else "_nmi"]
    if isinstance(value, BackgroundRun):
        value = value.wait(120)
    assert isinstance(
        value,
        nmi.EstimateResult
        | nmi.RigorousResult
        | nmi.SweepResult
        | nmi.DimensionalityResult
        | nmi.LagResult
        | nmi.PermutationResult
        | nmi.PairwiseResult
        | nmi.ConditionalResult
        | nmi.TransferResult,
    )


# ----- the line form -----
def test_line_form_gives_the_cell_forms_result_and_panels(ip):
    line = "x y --mode rigorous --gammas 1-3 --epochs 2 --seed 0"
    returned = ip.run_line_magic("neuralmi", line + " -o by_line")
    by_line, line_shown = ip.user_ns["by_line"], len(ip.shown)
    ip.run_cell_magic("neuralmi", line + " -o by_cell", "# no options")
    by_cell = ip.user_ns["by_cell"]
    assert returned is None  # the fit panel shows the result, as for the cell
    assert by_line.fit == by_cell.fit and by_line.mi == by_cell.mi
    kinds = [sorted(d) for d in ip.shown]
    assert kinds[:line_shown] == kinds[line_shown:]  # the same outputs, in the same order
    assert any("image/png" in d and "Corrected MI" in d["text/plain"] for d in ip.shown)


def test_line_form_errors_name_the_line_form(ip):
    for line in ("x", "x y --epochs -5", "x y --nonsense 3", "undefined_name y"):
        with pytest.raises(UsageError) as caught:
            ip.run_line_magic("neuralmi", line)
        assert "%%neuralmi" not in str(caught.value), str(caught.value)
        if line != "x y --epochs -5":  # the engine's sentence names no magic at all
            assert str(caught.value).startswith("%neuralmi"), str(caught.value)
    with pytest.raises(UsageError, match=r"^%%neuralmi"):
        ip.run_cell_magic("neuralmi", "x", "# nothing")


def test_line_help_shows_the_help(ip, capsys):
    assert ip.run_line_magic("neuralmi", "--help") is None
    text = capsys.readouterr().out
    assert "%neuralmi X Y" in text and "--batch-size" in text and "required" not in text


# ----- mistakes and stops -----
@pytest.mark.parametrize(
    "line",
    ["x y --epochs -5", "x[:100] y", "x y --mode rigorous --epochs -5", "x[:100] y --no-widgets"],
)
def test_mistakes_are_reported_before_anything_is_drawn(ip, line):
    with pytest.raises(UsageError):
        ip.run_line_magic("neuralmi", line)
    assert ip.shown == []  # no empty "starting ..." panel above the error


def test_background_mistake_is_reported_in_the_cell(ip):
    ip.user_ns["bg"] = "before"
    with pytest.raises(UsageError, match="epochs"):
        ip.run_line_magic("neuralmi", "x y --epochs -5 --background -o bg")
    assert ip.user_ns["bg"] == "before" and ip.shown == []


def test_background_analysis_shows_its_fit_panel_when_it_ends(ip):
    from nmi_jupyter.widgets.fit_panel import FitPanel
    from nmi_jupyter.widgets.training_panel import TrainingPanel

    run = ip.run_line_magic(
        "neuralmi", "x y --mode rigorous --gammas 1-3 --epochs 2 --seed 0 --background -o bg"
    )
    result = run.wait(120)
    assert ip.user_ns["bg"] is result and run.display_error is None
    # the live panel (a widget, reachable from any thread) holds the fit panel at its end
    live = [w for w in _widgets_shown(ip.shown) if isinstance(w, TrainingPanel)]
    assert live and isinstance(live[-1].children[-1], FitPanel)
    assert live[-1].children[-1].result is result


def _widgets_shown(bundles):
    from ipywidgets.widgets.widget import _instances

    ids = [
        d["application/vnd.jupyter.widget-view+json"]["model_id"]
        for d in bundles
        if "application/vnd.jupyter.widget-view+json" in d
    ]
    return [_instances[i] for i in ids if i in _instances]
