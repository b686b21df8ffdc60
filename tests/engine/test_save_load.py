"""Saving never destroys data, and the format policy for fields added later.

Policy (nmi_jupyter/engine/results.py, README "Saved results"): a reader loads every
field it knows and ignores the others; a field added later has a default, so older
files load; ``format_version`` changes only for an incompatible change, and 1, 1.0
and "1" all mean version 1.
"""

import dataclasses
import json
import os

import pytest

import nmi_jupyter as nmi
from nmi_jupyter import NeuralMIError
from nmi_jupyter.engine import results

TINY = {"epochs": 2, "batch_size": 32, "hidden_dim": 4, "embedding_dim": 2, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=600, dim=2, mi=1.0, seed=0)


@pytest.fixture(scope="module")
def estimate(data):
    return nmi.estimate(*data, seed=0, threads=2, **TINY)


@pytest.fixture(scope="module")
def rigorous(data):
    return nmi.rigorous(*data, gammas=range(1, 4), seed=0, threads=2, control=False, **TINY)


def _good_file(tmp_path, result):
    path = tmp_path / "result.json"
    result.save(path)
    return path, path.read_bytes()


def test_a_save_that_cannot_serialise_leaves_the_old_file_intact(tmp_path, estimate):
    path, before = _good_file(tmp_path, estimate)
    broken = dataclasses.replace(estimate, settings={**estimate.settings, "x": object()})
    with pytest.raises(NeuralMIError, match="could not be saved"):
        broken.save(path)
    assert path.read_bytes() == before and nmi.load(path) == estimate
    assert os.listdir(tmp_path) == ["result.json"]  # no temporary file left behind


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_write_that_fails_midway_leaves_the_old_file_intact(
    tmp_path, monkeypatch, rigorous, fail_at, error
):
    path, before = _good_file(tmp_path, rigorous)

    def fail(*args, **kwargs):
        raise error

    if fail_at == "write":  # json.dumps is done; the write itself fails part of the way
        real_fdopen = os.fdopen

        def fdopen(*args, **kwargs):
            f = real_fdopen(*args, **kwargs)
            f.write('{"format": "nmi_jupyter.resu')  # a truncated start, as a full disk leaves
            f.flush()
            monkeypatch.setattr(f, "write", fail)
            return f

        monkeypatch.setattr(os, "fdopen", fdopen)
    else:
        monkeypatch.setattr(os, fail_at, fail)
    expected = NeuralMIError if isinstance(error, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        rigorous.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert nmi.load(path).fit == rigorous.fit
    assert os.listdir(tmp_path) == ["result.json"]


def test_a_failing_json_dump_cannot_truncate_the_file(tmp_path, monkeypatch, estimate):
    path, before = _good_file(tmp_path, estimate)

    def fail(*args, **kwargs):
        raise ValueError("Out of range float values are not JSON compliant")

    monkeypatch.setattr(json, "dump", fail)
    monkeypatch.setattr(json, "dumps", fail)
    with pytest.raises(NeuralMIError):
        estimate.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["result.json"]


def test_saved_files_get_ordinary_permissions(tmp_path, estimate):
    """The temporary file must not leave the result readable by its owner only."""
    estimate.save(tmp_path / "a.json")
    with open(tmp_path / "b.json", "w") as f:
        f.write("{}")
    assert os.stat(tmp_path / "a.json").st_mode == os.stat(tmp_path / "b.json").st_mode


def test_threads_survive_save_and_load(tmp_path, estimate, rigorous):
    for result in (estimate, rigorous):
        result.save(tmp_path / "r.json")
        assert result.threads == 2 and nmi.load(tmp_path / "r.json").threads == 2


@pytest.mark.parametrize("version", [1, 1.0, "1", " 1 ", "1.0"], ids=repr)
def test_integer_valued_format_versions_are_version_1(tmp_path, estimate, version):
    path, _ = _good_file(tmp_path, estimate)
    envelope = json.loads(path.read_text())
    envelope["format_version"] = version
    path.write_text(json.dumps(envelope))
    assert nmi.load(path) == estimate


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (2, "newer than this nmi_jupyter reads"),
        ("2", "upgrade"),
        ("one", "not a version number"),
        (None, "not a version number"),
        (0, "not a version number"),
        (True, "not a version number"),
    ],
    ids=repr,
)
def test_other_format_versions_are_refused_with_a_sentence(tmp_path, estimate, version, words):
    path, _ = _good_file(tmp_path, estimate)
    envelope = json.loads(path.read_text())
    envelope["format_version"] = version
    path.write_text(json.dumps(envelope))
    with pytest.raises(NeuralMIError, match=words):
        nmi.load(path)


def test_a_file_with_fields_from_a_later_version_loads(tmp_path, estimate, rigorous):
    for result in (estimate, rigorous):
        path, _ = _good_file(tmp_path, result)
        envelope = json.loads(path.read_text())
        envelope["written_by"] = "a later nmi_jupyter"
        envelope["result"]["a_later_field"] = {"anything": [1, 2]}
        for run in envelope["result"].get("runs", []):
            run["a_later_run_field"] = 3
        envelope["result"]["settings"]["a_later_option"] = "x"
        path.write_text(json.dumps(envelope))
        loaded = nmi.load(path)
        assert loaded.mi == result.mi or (loaded.mi != loaded.mi and result.mi != result.mi)
        assert loaded.summary().splitlines()[0] == result.summary().splitlines()[0]


def test_a_file_written_before_optional_fields_existed_loads(tmp_path, estimate, rigorous):
    later_fields = {
        "estimate": ("version", "linear"),
        "rigorous": ("version", "linear", "controls", "threads"),
    }
    for result in (estimate, rigorous):
        path, _ = _good_file(tmp_path, result)
        envelope = json.loads(path.read_text())
        record = envelope["result"]
        for name in later_fields[record["kind"]]:
            del record[name]
        for run in record.get("runs", []):
            run.pop("partial", None)
        path.write_text(json.dumps(envelope))
        loaded = nmi.load(path)
        assert loaded.linear is None and loaded.version == ""
        assert loaded.mi == result.mi or result.mi != result.mi
        loaded.summary()


def test_a_file_from_before_the_learning_rate_drop_says_its_runs_did_not_drop(
    tmp_path, estimate, rigorous
):
    for result in (estimate, rigorous):
        assert result.settings["lr_drop"] == 1.0  # recorded
        path, _ = _good_file(tmp_path, result)
        envelope = json.loads(path.read_text())
        envelope["result"]["settings"]["lr_drop"] = 0.5  # a value given is kept
        path.write_text(json.dumps(envelope))
        assert nmi.load(path).settings["lr_drop"] == 0.5
        del envelope["result"]["settings"]["lr_drop"]
        path.write_text(json.dumps(envelope))
        assert nmi.load(path).settings["lr_drop"] == 1.0


@pytest.mark.parametrize("name", ["mi", "history", "settings", "units"])
def test_a_file_missing_a_required_field_is_damaged_and_named(tmp_path, estimate, name):
    path, _ = _good_file(tmp_path, estimate)
    envelope = json.loads(path.read_text())
    del envelope["result"][name]
    path.write_text(json.dumps(envelope))
    with pytest.raises(NeuralMIError, match=f"has no '{name}'"):
        nmi.load(path)


def test_the_trained_critic_is_never_read_from_a_file(tmp_path, estimate):
    path, _ = _good_file(tmp_path, estimate)
    envelope = json.loads(path.read_text())
    envelope["result"]["critic"] = "not a network"
    path.write_text(json.dumps(envelope))
    assert nmi.load(path).critic is None


def test_the_policy_is_written_down():
    assert "format_version" in results.__doc__ and "ignores the others" in results.__doc__
