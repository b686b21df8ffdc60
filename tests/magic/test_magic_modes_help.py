"""The magic's help and errors name every analysis (--mode) and each mode's options,
generated from the option table."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from nmi_jupyter.engine.options import ANALYSES, options_of
from nmi_jupyter.magic.cell_magic import NeuralMIMagics
from nmi_jupyter.magic.parse import LINE_PARSER, MODES, MagicSyntaxError, parse_line

EVERY_MODE = (
    "estimate",
    "rigorous",
    "sweep",
    "dimensionality",
    "lag",
    "conditional",
    "transfer",
    "pairwise",
    "permutation_test",
)


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    shell.run_cell("import numpy as np\nx = np.zeros((50, 2))\ny = np.zeros((50, 1))")
    yield shell
    shell.run_line_magic("unload_ext", "nmi_jupyter")


def _usage_modes(line: str) -> set[str]:
    inside = line.split("[--mode ", 1)[1].split("]", 1)[0]
    return set(inside.split("|"))


def test_the_modes_are_every_analysis():
    assert set(MODES) == set(ANALYSES) == set(EVERY_MODE)


def test_the_usage_lines_name_every_mode():
    doc = NeuralMIMagics.neuralmi.__doc__
    usage_lines = [line for line in doc.splitlines() if "X Y [--mode " in line]
    assert len(usage_lines) >= 2  # the help's own usage and the parser's
    for line in usage_lines:
        assert _usage_modes(line) == set(EVERY_MODE), line
    assert _usage_modes(LINE_PARSER.format_usage()) == set(EVERY_MODE)


def test_the_help_lists_each_modes_options_from_the_option_table():
    doc = NeuralMIMagics.neuralmi.__doc__
    base = set(options_of("estimate"))
    for mode in EVERY_MODE[1:]:
        lead = f"--mode {mode} also: "
        assert lead in doc, mode
        # the mode's paragraph (wrapped lines) up to its full stop
        text = doc.split(lead, 1)[1].split(".", 1)[0].replace("\n", " ")
        names = {n.strip() for n in text.split(",")}
        assert names == set(options_of(mode)) - base, mode


@pytest.mark.parametrize(
    "line",
    ["x y --mode nonsense", "x y --mode lags"],
)
def test_a_bad_mode_on_the_line_is_one_sentence_naming_every_mode(line):
    with pytest.raises(MagicSyntaxError) as info:
        parse_line(line)
    message = str(info.value)
    assert "\n" not in message and message.rstrip(")").endswith((".", "?'"))
    assert all(mode in message for mode in EVERY_MODE)


def test_a_bad_mode_in_the_magic_is_a_usage_error_naming_every_mode(ip):
    for source in ("%neuralmi x y --mode nonsense", '%%neuralmi x y\nmode = "nonsense"\n'):
        with pytest.raises(UsageError) as info:
            if source.startswith("%%"):
                line, body = source[2:].split("\n", 1)
                ip.run_cell_magic("neuralmi", line.split(" ", 1)[1], body)
            else:
                ip.run_line_magic("neuralmi", source.split(" ", 1)[1])
        message = str(info.value)
        assert "\n" not in message and all(mode in message for mode in EVERY_MODE), message
