"""%%neuralmi --mode pairwise / permutation_test (issue 21): the result stored, the
heatmap panel shown, mistakes as one UsageError sentence before training."""

from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nmi_jupyter as nmi

TINY = "--epochs 2 --hidden-dim 8 --batch-size 64 --seed 0 --threads 1"


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    rng = np.random.default_rng(0)
    shell.user_ns["c"] = rng.normal(size=(500, 3))
    shell.user_ns["x"], shell.user_ns["y"] = nmi.generators.correlated_gaussians(
        500, 1, 1.0, seed=0
    )
    yield shell
    shell.run_line_magic("unload_ext", "nmi_jupyter")


def test_a_map_of_x_alone_shows_its_heatmap(ip, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a[0]))
    ip.run_line_magic("neuralmi", f"c None --mode pairwise {TINY} -o pw")
    result = ip.user_ns["pw"]
    assert isinstance(result, nmi.PairwiseResult) and result.matrix.shape == (3, 3)
    from nmi_jupyter.widgets.pairwise_panel import PairwisePanel

    assert any(isinstance(s, PairwisePanel) for s in shown)


def test_a_permutation_test_with_its_count_in_the_body(ip):
    ip.run_cell_magic(
        "neuralmi", f"x y --mode permutation_test --quiet {TINY} -o pt", "permutations = 4"
    )
    result = ip.user_ns["pt"]
    assert isinstance(result, nmi.PermutationResult) and result.permutations == 4


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x y --mode permutation_test --quiet --null shuffle", "null"),
        ("x y --mode pairwise --quiet --permutations 9", "permutation_test"),
        ("c None --mode permutation_test --quiet", "needs y"),
    ],
)
def test_mistakes_are_one_sentence(ip, line, message):
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("neuralmi", line)
