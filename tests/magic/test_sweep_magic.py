"""%%neuralmi --mode sweep / dimensionality (issue 19): the grid in the body, the result
stored, mistakes as one UsageError sentence before training."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nmi_jupyter as nmi


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    shell.user_ns["x"], shell.user_ns["y"] = nmi.generators.correlated_gaussians(
        600, 2, 1.0, seed=0
    )
    yield shell
    shell.run_line_magic("unload_ext", "nmi_jupyter")


def test_a_sweep_with_its_grid_in_the_body(ip):
    ip.run_cell_magic(
        "neuralmi",
        "x y --mode sweep --quiet --epochs 2 --hidden-dim 8 --seed 0 -o sw",
        'grid = {"embedding_dim": [1, 2]}\nrepeats = 2',
    )
    result = ip.user_ns["sw"]
    assert isinstance(result, nmi.SweepResult) and len(result.to_frame()) == 2


def test_dimensionality_of_x_alone(ip):
    ip.run_line_magic(
        "neuralmi",
        "x None --mode dimensionality --quiet --epochs 2 --hidden-dim 8 --seed 0 "
        "--embedding-dims 1-4 --splits 2 -o d",
    )
    assert ip.user_ns["d"].mode == "internal"


@pytest.mark.parametrize(
    ("line", "body", "message"),
    [
        (
            "x y --mode sweep --quiet",
            'grid = {"embeding_dim": [1]}',
            "did you mean 'embedding_dim'",
        ),
        (
            "x y --mode rigorous --quiet",
            'grid = {"embedding_dim": [1]}',
            "only apply to --mode sweep",
        ),
        ("x y --quiet", "splits = 3", "only apply to --mode dimensionality"),
    ],
)
def test_mistakes_are_one_sentence(ip, line, body, message):
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("neuralmi", line, body)
