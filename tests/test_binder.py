"""The Binder files stay consistent with pyproject.toml."""

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names of PyPI packages, where they differ (CPU-only torch on Binder).
CONDA_NAMES = {"torch": "pytorch-cpu", "matplotlib": "matplotlib-base"}


def _pyproject_deps() -> dict[str, Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {Requirement(d).name.lower(): Requirement(d) for d in data["project"]["dependencies"]}


def _conda_deps() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, _, spec = re.match(r"([A-Za-z0-9_.-]+)(\s*([<>=!].*))?", dep).group(1, 2, 2)
            out[name.lower()] = (spec or "").strip()
    return out


def _minimum(spec: str) -> Version | None:
    match = re.search(r">=\s*([0-9][0-9.]*)", spec or "")
    return Version(match.group(1)) if match else None


def test_every_runtime_dependency_is_in_the_binder_environment():
    conda = _conda_deps()
    for name, req in _pyproject_deps().items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"{name} ({conda_name}) missing from binder/environment.yml"
        pyproject_min = _minimum(str(req.specifier))
        binder_min = _minimum(conda[conda_name])
        if pyproject_min is not None:
            assert binder_min is not None and binder_min >= pyproject_min, (
                f"{conda_name}: binder asks {conda[conda_name]!r}, pyproject {req.specifier}"
            )


def test_binder_uses_cpu_torch_and_the_python_pyproject_allows():
    conda = _conda_deps()
    assert "pytorch-cpu" in conda and "pytorch" not in conda
    python = Version(conda["python"].lstrip("="))
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert python in Requirement(f"python{data['project']['requires-python']}").specifier


def test_post_build_installs_the_package_and_the_badge_opens_the_quickstart():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "-e ." in post
    readme = (ROOT / "README.md").read_text()
    target = re.search(r"urlpath=lab/tree/(notebooks/[^)\s]+\.ipynb)", readme).group(1)
    assert (ROOT / target).exists()
