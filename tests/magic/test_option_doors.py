"""Every option of the one option table reaches the engine the same way through all four
doors: the Python API, the magic line, the cell body and ``%config`` (issue 17)."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import importlib.util
import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell

import nmi_jupyter as nmi
from nmi_jupyter.engine import distribute
from nmi_jupyter.engine.api import RIGOROUS_OPTIONS
from nmi_jupyter.engine.config import (
    EstimateConfig,
    check_option,
    check_rigorous_options,
    make_config,
)
from nmi_jupyter.engine.options import (
    KINDS,
    OPTIONS,
    RUN,
    analysis_options,
    options_of,
    run_options,
)
from nmi_jupyter.magic.cell_magic import NeuralMIMagics
from nmi_jupyter.magic.options import CONFIG_OPTIONS
from nmi_jupyter.magic.parse import BODY_KEYS, LINE_FLAGS, LINE_PARSER, completions

POOL = cf.ThreadPoolExecutor(1)

# name: (a value other than the default, the same value written on the magic line)
SAMPLES = {
    "estimator": ("smile", "smile"),
    "critic": ("bilinear", "bilinear"),
    "epochs": (2, "2"),
    "batch_size": (32, "32"),
    "lr": (0.01, "0.01"),
    "patience": (4, "4"),
    "lr_drop": (0.5, "0.5"),
    "min_improvement": (0.01, "0.01"),
    "hidden_dim": (8, "8"),
    "n_layers": (1, "1"),
    "embedding_dim": (4, "4"),
    "embedding": ("gru", "gru"),
    "activation": ("tanh", "tanh"),
    "spectral_norm": (True, None),
    "weight_decay": (0.01, "0.01"),
    "split": ("blocked", "blocked"),
    "val_fraction": (0.2, "0.2"),
    "gap": (3, "3"),
    "standardize": (False, None),
    "copula": (False, None),
    "units": ("nats", "nats"),
    "seed": (7, "7"),
    "device": ("cpu", "cpu"),
    "threads": (2, "2"),
    "precision": ("bfloat16", "bfloat16"),
    "eval_batch_size": (256, "256"),
    "smile_clip": (2.5, "2.5"),
    "median_window": (3, "3"),
    "gaussian_sigma": (0.5, "0.5"),
    "gammas": ([1, 2, 3], "1-3"),
    "repeats": (2, "2"),
    "delta_threshold": (0.3, "0.3"),
    "min_gamma_points": (3, "3"),
    "confidence_level": (0.9, "0.9"),
    "exclude": ([3], "3"),
    "batched": (False, None),
    "control": (False, None),
    "critic_search": (True, None),
    "executor": (POOL, "pool"),
    "retries": (1, "1"),
    "grid": ({"embedding_dim": [1, 2]}, "{'embedding_dim':[1,2]}"),
    "rigorous": (True, None),
    "embedding_dims": ([1, 2, 3, 4], "1-4"),
    "splits": (3, "3"),
    "lags": ([0, 1, 2, 5], "0..2,5"),
    "permutations": (19, "19"),
    "null": ("circular", "circular"),
    "block_size": (10, "10"),
    "z": ([1.0, 2.0], "[1.0,2.0]"),  # data: an expression the magic evaluates
    "history": (2, "2"),
    "horizon": (3, "3"),
    "both": (False, None),
}

# The same values as numpy scalars and arrays (floats exactly representable in float32).
NUMPY_SAMPLES = {
    "estimator": np.str_("smile"),
    "epochs": np.int64(2),
    "batch_size": np.int32(32),
    "lr": np.float32(0.25),
    "min_improvement": np.float64(0.01),
    "val_fraction": np.float32(0.25),
    "standardize": np.bool_(False),
    "copula": np.bool_(False),
    "seed": np.uint16(7),
    "threads": np.int8(2),
    "smile_clip": np.float32(2.5),
    "median_window": np.int64(3),
    "gammas": np.arange(1, 4),
    "repeats": np.int64(2),
    "delta_threshold": np.float32(0.5),
    "min_gamma_points": np.int16(3),
    "confidence_level": np.float32(0.875),
    "exclude": np.array([3]),
    "batched": np.bool_(False),
    "retries": np.int64(1),
}


def _line_words(name: str, value, text: str | None) -> str:
    spec = OPTIONS[name]
    if spec.kind == "bool":
        return spec.flag if value else "--no-" + spec.flag[2:]
    return f"{spec.flag} {text}"


def _body_source(name: str, value) -> str:
    return "pool" if name == "executor" else repr(value)


def _api_value(name: str, value):
    """What the API makes of ``value``: the checked value the engine trains with."""
    if name in dict.fromkeys(s.name for s in run_options()):
        return getattr(make_config(**{name: value}), name)
    return check_rigorous_options({name: value})[name]


@pytest.fixture
def ip(monkeypatch):
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    shell.run_cell(
        "import numpy as np\nimport nmi_jupyter as nmi\n"
        "x, y = nmi.generators.correlated_gaussians(600, 2, 1.0, seed=0)\n"
    )
    shell.user_ns["pool"] = POOL
    calls: list[dict] = []

    def capture(x, y, *, observer=None, cancel=None, **options):
        calls.append(options)
        return "captured"

    monkeypatch.setattr(nmi, "rigorous", capture)
    monkeypatch.setattr(nmi, "estimate", capture)
    monkeypatch.setattr(nmi, "sweep", capture)
    monkeypatch.setattr(nmi, "dimensionality", capture)
    monkeypatch.setattr(nmi, "lag", capture)
    monkeypatch.setattr(nmi, "pairwise", capture)
    monkeypatch.setattr(nmi, "permutation_test", capture)
    monkeypatch.setattr(nmi, "conditional", capture)
    monkeypatch.setattr(nmi, "transfer", capture)
    shell.calls = calls
    yield shell
    for c in shell.configurables:
        if isinstance(c, NeuralMIMagics):
            for name in c.trait_names(config=True):
                setattr(c, name, None)
    shell.config.pop("NeuralMIMagics", None)
    shell.run_line_magic("unload_ext", "nmi_jupyter")


def _mode_of(name: str) -> str:
    """An analysis that takes option ``name`` (rigorous when it does)."""
    return next(
        m
        for m in (
            "rigorous",
            "sweep",
            "dimensionality",
            "lag",
            "permutation_test",
            "conditional",
            "transfer",
        )
        if name in options_of(m)
    )


def _through_the_magic(ip, line: str = "", body: str = "", mode: str = "rigorous") -> dict:
    ip.calls.clear()
    assert ip.run_cell_magic("neuralmi", f"x y --mode {mode} --quiet {line}", body or "#")
    (options,) = ip.calls
    return options


# ----- the table generates every door -----


def test_every_option_has_a_sample_value():
    assert set(SAMPLES) == set(OPTIONS), "a new option needs a sample value in this test"
    for name, (value, _) in SAMPLES.items():
        assert value != OPTIONS[name].default, name
        assert OPTIONS[name].kind in KINDS, name


def test_estimate_config_fields_are_the_run_options_of_the_table():
    fields = dataclasses.fields(EstimateConfig)
    specs = run_options()
    assert [f.name for f in fields] == [s.name for s in specs]
    assert [f.default for f in fields] == [s.default for s in specs]
    assert all(s.scope == RUN for s in specs)


def test_rigorous_signature_matches_the_table():
    params = inspect.signature(nmi.rigorous).parameters
    keywords = [p for p in params.values() if p.kind is p.KEYWORD_ONLY and p.name in OPTIONS]
    assert tuple(p.name for p in keywords) == RIGOROUS_OPTIONS == analysis_options("rigorous")
    for p in keywords:
        default = OPTIONS[p.name].default
        assert p.default == default or list(p.default) == list(default), p.name
    assert OPTIONS["retries"].default == distribute.DEFAULT_RETRIES
    sweep_only = {"grid", "rigorous", "embedding_dims", "splits", "lags"}  # issues 19, 20
    sweep_only |= {"permutations", "null", "block_size"}  # issue 21
    sweep_only |= {"z", "history", "horizon", "both"}  # issue 21: conditional, transfer
    assert set(options_of("rigorous")) == set(OPTIONS) - sweep_only
    assert set(options_of("estimate")) == {s.name for s in run_options()}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_every_option_has_a_line_flag_a_body_key_and_a_config_trait(name):
    spec = OPTIONS[name]
    assert spec.flag in LINE_FLAGS and name in BODY_KEYS and name in CONFIG_OPTIONS
    if spec.kind == "bool":
        assert "--no-" + spec.flag[2:] in LINE_FLAGS
    help_text = LINE_PARSER.format_help()
    assert spec.flag in help_text and name in NeuralMIMagics.neuralmi.__doc__
    trait = NeuralMIMagics.class_traits()[name]
    assert trait.help and trait.metadata.get("config")


def test_old_spellings_still_work():
    ns = vars(LINE_PARSER.parse_args(["x", "y", "--no-copula", "--gammas", "1-10"]))
    assert ns["copula"] is False and ns["gammas"] == list(range(1, 11))
    ns = vars(LINE_PARSER.parse_args(["x", "y", "--copula", "--batch-size", "64"]))
    assert ns["copula"] is True and ns["batch_size"] == 64


# ----- the four doors give the same value -----


@pytest.mark.parametrize("name", list(OPTIONS))
def test_every_option_is_accepted_identically_at_all_four_doors(ip, name):
    value, text = SAMPLES[name]
    api = _api_value(name, value)
    mode = _mode_of(name)
    line = _through_the_magic(ip, line=_line_words(name, value, text), mode=mode)[name]
    body = _through_the_magic(ip, body=f"{name} = {_body_source(name, value)}", mode=mode)
    body = body[name]
    source = "'pool'" if name == "executor" else repr(value)  # %config takes a name
    ip.run_line_magic("config", f"NeuralMIMagics.{name} = {source}")
    config = _through_the_magic(ip, mode=mode)[name]
    if name == "executor":  # a notebook name at the magic's doors, the object in the API
        assert api is line is body is config is POOL
    else:
        assert api == line == body == config
        assert type(api) is type(line) is type(body) is type(config)


@pytest.mark.parametrize("name", list(NUMPY_SAMPLES))
def test_numpy_scalars_are_accepted_identically_at_all_four_doors(ip, name):
    value = NUMPY_SAMPLES[name]
    api = _api_value(name, value)
    assert type(api) in (int, float, bool, str, list)
    ip.user_ns["value"] = value
    body = _through_the_magic(ip, body=f"{name} = value")[name]
    ip.run_line_magic("config", f"NeuralMIMagics.{name} = value")
    config = _through_the_magic(ip)[name]
    if isinstance(api, list):
        text = ",".join(map(str, api))
    else:
        text = str(api)
    line = _through_the_magic(ip, line=_line_words(name, api, text))[name]
    assert api == line == body == config
    assert type(api) is type(line) is type(body) is type(config)
    json.dumps(api)


def test_options_land_in_the_result_settings():
    """A tiny real analysis with every option at its sample value: the result records
    each one as the engine took it."""
    x, y = nmi.generators.correlated_gaussians(600, 2, 1.0, seed=0)
    given = {name: value for name, (value, _) in SAMPLES.items() if name in options_of("rigorous")}
    given["threads"] = 1  # the machine is shared
    given["embedding"] = "mlp"  # x and y are 2-D here; sequence encoders read windows
    result = nmi.rigorous(x, y, **given)
    settings = result.settings
    for spec in run_options():
        assert settings[spec.name] == given[spec.name], spec.name
    for name in ("delta_threshold", "min_gamma_points", "confidence_level", "exclude"):
        assert settings["fit"][name] == given[name], name
    assert (settings["batched"], settings["control"]) == (False, False)
    assert settings["critic_search"] is True
    assert settings["executor"] == "ThreadPoolExecutor"
    assert list(result.gammas) == given["gammas"] and result.repeats == given["repeats"]
    single = nmi.estimate(x, y, **{s.name: given[s.name] for s in run_options()})
    assert single.settings == {s.name: given[s.name] for s in run_options()}


# ----- completion and help come from the table -----


@pytest.mark.parametrize(
    ("before", "in_body", "expected"),
    [
        (" x y --hidden", False, ["--hidden-dim"]),
        (" x y --activation ", False, list(OPTIONS["activation"].choices)),
        (" x y --estimator sm", False, ["smile"]),
        (" x y --device c", False, ["cpu", "cuda"]),
        (" x y --mode r", False, ["rigorous"]),
        (" x y --no-c", False, ["--no-copula", "--no-control", "--no-critic-search"]),
        ("eval_", True, ["eval_batch_size"]),
        ("split = ", True, ['"random"', '"blocked"']),
        ("units = 'n", True, ["nats"]),
        ("batched = F", True, ["False"]),
        ("epochs = ", True, []),
    ],
)
def test_completion_offers_flags_keys_and_values(before, in_body, expected):
    assert completions(before, in_body)[1] == expected


def test_completion_in_a_shell(ip):
    from IPython.core.completer import provisionalcompleter

    def offered(text):
        with provisionalcompleter():
            return [c.text for c in ip.Completer.completions(text, len(text))]

    assert offered("%neuralmi x y --val") == ["--val-fraction"]
    assert offered("%neuralmi x y --split ") == ["blocked", "random"]
    assert offered("%%neuralmi x y\nmedian") == ["median_window"]
    assert offered('%%neuralmi x y\nactivation = "ge') == ["gelu"]
    assert "median_window" not in offered("x = 1\nmedian")  # other cells are left alone


def test_config_help_lists_every_option(ip, capsys):
    ip.run_line_magic("config", "NeuralMIMagics")
    out = capsys.readouterr().out
    assert all(f"NeuralMIMagics.{name}" in out for name in OPTIONS)


def test_readme_option_tables_are_generated_from_the_table():
    """README.md lists what the option table holds (regenerate with
    ``python docs/options_table.py --write``)."""
    path = Path(__file__).resolve().parents[2] / "docs" / "options_table.py"
    spec = importlib.util.spec_from_file_location("options_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = module.README.read_text()
    assert module.readme_with_tables(readme) == readme, "run docs/options_table.py --write"
    assert all(f"| `{name}` |" in readme for name in OPTIONS)


def test_check_option_names_the_closest_for_an_unknown_one():
    with pytest.raises(nmi.OptionError, match="did you mean 'repeats'"):
        check_option("repeat", 2)
