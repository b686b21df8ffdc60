"""``--mode conditional`` (z from the line, the body or %config) and ``--mode transfer``."""

from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nmi_jupyter as nmi
from nmi_jupyter.magic.cell_magic import NeuralMIMagics


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    shell.run_cell(
        "import nmi_jupyter as nmi\n"
        "x, y, w = nmi.generators.conditional_gaussians(900, seed=0)\n"
        "a, b = nmi.generators.var1_pair(900, seed=0)\n"
    )
    yield shell
    for c in shell.configurables:
        if isinstance(c, NeuralMIMagics):
            for name in c.trait_names(config=True):
                setattr(c, name, None)
    shell.run_line_magic("unload_ext", "nmi_jupyter")


TINY = "--quiet --epochs 2 --batch-size 32 --hidden-dim 8 --seed 0 --no-rigorous --repeats 2"


def test_z_on_the_line_and_in_the_body_give_the_same_analysis(ip):
    ip.run_line_magic("neuralmi", f"x y --mode conditional --z w {TINY} -o c1")
    ip.run_cell_magic("neuralmi", f"x y --mode conditional {TINY} -o c2", "z = w\n")
    c1, c2 = ip.user_ns["c1"], ip.user_ns["c2"]
    assert isinstance(c1, nmi.ConditionalResult) and len(c1.joint.runs) == 2
    assert c1.mi == c2.mi and np.isfinite(c1.mi_error)


def test_conditional_without_z_says_how_to_give_it(ip):
    with pytest.raises(UsageError, match="needs z, the variable to condition on"):
        ip.run_line_magic("neuralmi", f"x y --mode conditional {TINY}")
    with pytest.raises(UsageError, match="could not evaluate z"):
        ip.run_line_magic("neuralmi", f"x y --mode conditional --z nowhere {TINY}")


def test_transfer_mode_takes_history_and_both(ip):
    ip.run_line_magic("neuralmi", f"a b --mode transfer --history 2 --no-both {TINY} -o te")
    te = ip.user_ns["te"]
    assert isinstance(te, nmi.TransferResult) and te.history == 2 and te.yx is None
