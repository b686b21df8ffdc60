"""README.md's two fresh-machine commands are the contract; .ci/run must run exactly them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## On a fresh machine", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    return [line.strip() for line in lines if line.startswith("    ") and line.strip()]


def test_readme_has_an_install_and_a_test_command():
    install, test = _readme_commands()
    assert install.startswith("pip install") and "nmi_jupyter.demo" in install
    assert "pytest" in test and "notebooks" in test


def test_ci_runs_the_readme_commands_verbatim():
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    for command in _readme_commands():
        assert command in ci_lines, f"{command!r} is in README.md but not in .ci/run"
    installs = [line for line in ci_lines if re.search(r"pip install\b.*-e", line)]
    assert installs == [_readme_commands()[0]], "CI must not install more than the README says"


def test_test_extra_covers_every_optional_import_of_the_tests():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    test_extra = " ".join(meta["optional-dependencies"]["test"])
    for extra in ("browser", "distributed"):
        assert extra in test_extra, f"the test extra must pull in the {extra} extra"
    assert any(d.startswith("traitlets") for d in meta["dependencies"])


# Import name -> distribution name, where they differ.
_DISTRIBUTIONS = {"IPython": "ipython", "yaml": "pyyaml"}


def _imported_top_level(paths: list[Path]) -> set[str]:
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_of_the_package_is_declared():
    import sys

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=\[ ]", d, maxsplit=1)[0].lower() for d in meta["dependencies"]}
    extras = {
        re.split(r"[<>=\[ ]", d, maxsplit=1)[0].lower()
        for deps in meta["optional-dependencies"].values()
        for d in deps
    }
    imported = _imported_top_level(sorted((ROOT / "nmi_jupyter").rglob("*.py")))
    third_party = {
        name
        for name in imported
        if name not in sys.stdlib_module_names and name not in ("nmi_jupyter", "__future__")
    }
    # dask/distributed are imported lazily, only when a Dask client is passed in.
    allowed = declared | (extras & {"distributed", "dask"})
    missing = {n for n in third_party if _DISTRIBUTIONS.get(n, n).lower() not in allowed}
    assert not missing, f"imported by nmi_jupyter but not declared in pyproject.toml: {missing}"
