"""Bad and edge-case inputs: every one a NeuralMIError with one sentence, raised before
any training, and never a raw TypeError / ValueError / OverflowError / RecursionError.

Numpy scalars are welcome wherever a Python number is, and come back as plain Python
values so that settings stay JSON data (issue 15, points 5 and 6).
"""

import json
import math

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter import NeuralMIError, OptionError

TINY = {"epochs": 2, "batch_size": 32, "hidden_dim": 4, "embedding_dim": 2, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=600, dim=2, mi=1.0, seed=0)


@pytest.fixture(scope="module")
def result(data):
    return nmi.rigorous(*data, gammas=range(1, 5), seed=0, control=False, **TINY)


class Recorder:
    """An observer that counts events: any event means training had begun."""

    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)


# (options for rigorous(), words the sentence must contain)
RIGOROUS_CASES = [
    ({"exclude": range(1, 11)}, "leaves 0 gammas for the fit"),
    ({"gammas": [1, 2, 3], "exclude": [2, 3]}, "leaves 1 gamma for the fit"),
    ({"exclude": [1.5]}, "1.5 is not one"),
    ({"exclude": "abc"}, "exclude must be a collection of gammas"),
    ({"exclude": 5}, "exclude must be a collection of gammas"),
    ({"exclude": {11}}, "does not have"),
    ({"gammas": 5}, "gammas must be a collection"),
    ({"gammas": ["a", "b"]}, "'a' is not one"),
    ({"gammas": [1, float("inf")]}, "inf is not one"),
    ({"gammas": [1, float("nan")]}, "nan is not one"),
    ({"gammas": [1, 2.5]}, "2.5 is not one"),
    ({"gammas": [0, 1]}, "0 is not one"),
    ({"gammas": [1, 1]}, "at least two distinct"),
    ({"repeats": "x"}, "repeats must be an integer >= 1"),
    ({"repeats": 2.7}, "repeats must be an integer"),
    ({"retries": -1}, "retries must be an integer >= 0"),
    ({"batched": "yes"}, "batched must be True or False"),
    ({"control": 1}, "control must be True or False"),
    ({"delta_threshold": "x"}, "delta_threshold must be a number > 0"),
    ({"delta_threshold": float("nan")}, "delta_threshold"),
    ({"min_gamma_points": 2.5}, "min_gamma_points must be an integer >= 2"),
    ({"confidence_level": 1.0}, "confidence_level must be a finite number strictly between"),
    ({"epochs": 2.7}, "epochs must be an integer >= 1, not 2.7"),
    ({"estimator": np.array(["infonce"])}, "estimator must be one of"),
    ({"config": {}}, "config must be an nmi_jupyter.EstimateConfig"),
    ({"cancel": "yes"}, "cancel must be a nmi_jupyter.CancelToken"),
    ({"seed": 2**80}, "seed must be an integer >= 0"),
]


@pytest.mark.parametrize(("options", "words"), RIGOROUS_CASES, ids=repr)
def test_rigorous_options_fail_before_any_training(data, options, words):
    observer = Recorder()
    with pytest.raises(NeuralMIError, match=words) as info:
        nmi.rigorous(*data, observer=observer, **{"seed": 0, **TINY, **options})
    assert not observer.events  # nothing trained, not even started
    assert "\n" not in str(info.value) and str(info.value).endswith(".")


ESTIMATE_CASES = [
    ({"epochs": 2.7}, "epochs must be an integer >= 1, not 2.7"),
    ({"epochs": True}, "epochs must be an integer"),
    ({"estimator": np.array(["infonce"])}, "estimator must be one of"),
    ({"config": {}}, "config must be an nmi_jupyter.EstimateConfig"),
    ({"observer": 42}, "observer must be a function"),
    ({"cancel": "yes"}, "cancel must be a nmi_jupyter.CancelToken"),
    ({"lr": np.array([0.1, 0.2])}, "lr must be a finite number > 0"),
]


@pytest.mark.parametrize(("options", "words"), ESTIMATE_CASES, ids=repr)
def test_estimate_arguments_are_sentences(data, options, words):
    with pytest.raises(NeuralMIError, match=words) as info:
        nmi.estimate(*data, **{"seed": 0, **TINY, **options})
    assert "\n" not in str(info.value)


def test_rigorous_observer_must_be_callable(data):
    with pytest.raises(OptionError, match="observer must be a function"):
        nmi.rigorous(*data, observer=42, **TINY)


def test_numpy_scalars_are_welcome_and_settings_stay_json(data):
    rr = nmi.rigorous(
        *data,
        gammas=np.arange(1, 4),
        repeats=np.int64(2),
        delta_threshold=np.float32(0.1),
        min_gamma_points=np.int64(2),
        confidence_level=np.float64(0.9),
        exclude=[np.int64(3)],
        batched=np.bool_(True),
        control=False,
        seed=np.int32(0),
        epochs=np.int64(2),
        **{k: v for k, v in TINY.items() if k != "epochs"},
    )
    assert rr.gammas == (1, 2, 3) and type(rr.repeats) is int and rr.repeats == 2
    assert len(rr.runs) == 2 * (1 + 2 + 3) and rr.gammas_used == (1, 2)
    fit = rr.settings["fit"]
    assert type(fit["delta_threshold"]) is float and fit["delta_threshold"] == pytest.approx(0.1)
    assert type(fit["min_gamma_points"]) is int and fit["exclude"] == [3]
    assert type(rr.settings["epochs"]) is int and type(rr.settings["seed"]) is int
    json.dumps(rr.to_dict(), allow_nan=False)  # plain data all the way down
    assert (
        type(nmi.estimate(*data, seed=0, **{**TINY, "epochs": np.int64(2)}).settings["epochs"])
        is int
    )


def test_integer_valued_floats_count_as_integers_but_fractions_do_not():
    assert nmi.EstimateConfig(epochs=3.0).epochs == 3
    with pytest.raises(OptionError, match="not 2.7"):
        nmi.EstimateConfig(epochs=2.7)


REFIT_CASES = [
    ({"use": "abc"}, "use must be a collection of gammas"),
    ({"exclude": {99}}, "exclude names gamma 99, which this analysis does not have"),
    ({"exclude": [1.5]}, "1.5 is not one"),
    ({"exclude": range(1, 5)}, "leaves 0 gammas"),
    ({"use": [1]}, "leaves 1 gamma"),
    ({"exclude": {4}, "use": {1, 2}}, "either exclude= or use="),
    ({"delta_threshold": "x"}, "delta_threshold must be a number > 0"),
    ({"min_gamma_points": 1}, "min_gamma_points must be an integer >= 2"),
    ({"confidence_level": 95}, "confidence_level must be a finite number strictly between"),
]


@pytest.mark.parametrize(("options", "words"), REFIT_CASES, ids=repr)
def test_refit_arguments_are_checked(result, options, words):
    with pytest.raises(NeuralMIError, match=words):
        result.refit(**options)


def test_refit_keeps_the_automatic_choice_when_a_gamma_is_wrong(result):
    """refit(exclude={99}) used to be accepted and silently turn off the automatic drops."""
    with pytest.raises(OptionError):
        result.refit(exclude={99})
    assert result.fit.mode == "automatic"
    manual = result.refit(exclude=np.array([4]), confidence_level=np.float32(0.9))
    assert manual.gammas_used == (1, 2, 3) and manual.settings["fit"]["exclude"] == [4]
    assert type(manual.settings["fit"]["confidence_level"]) is float


def _envelope(result, version=1):
    return {"format": "nmi_jupyter.result", "format_version": version, "result": result}


def _write(tmp_path, content):
    path = tmp_path / "f.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (_envelope([]), "its result is \\[\\], not a record"),
        (_envelope("a string"), "its result is 'a string'"),
        (_envelope(None), "its result is None"),
        (_envelope({"kind": ["estimate"]}), "unknown result kind"),
        (
            _envelope({"kind": "estimate"}, version="x"),
            "format_version 'x', which is not a version",
        ),
        (_envelope({"kind": "estimate"}, version=[1]), "not a version number"),
        (_envelope({"kind": "estimate"}, version=1.5), "not a version number"),
        (
            '{"format": "nmi_jupyter.result", "result": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "nested too deeply",
        ),
        ("[" * 100_000, "not a"),
    ],
    ids=[
        "list",
        "string",
        "null",
        "kind-list",
        "version-x",
        "version-list",
        "version-1.5",
        "deep",
        "deep-broken",
    ],
)
def test_load_of_broken_envelopes_is_a_sentence(tmp_path, content, words):
    with pytest.raises(NeuralMIError, match=words):
        nmi.load(_write(tmp_path, content))


@pytest.mark.parametrize("path", [None, 3, 0, 1.5, True, ["a.json"]], ids=repr)
def test_load_needs_a_path_not_a_file_descriptor(path):
    with pytest.raises(NeuralMIError, match="named by a path"):
        nmi.load(path)


def test_load_of_a_folder(tmp_path):
    with pytest.raises(NeuralMIError, match="is a folder, not a result file"):
        nmi.load(tmp_path)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"settings": 5}, "'settings' should be a record"),
        ({"settings": {"estimator": "infonce"}}, "its settings have no 'critic'"),
        ({"settings_epochs": "x"}, "settings are damaged: epochs must be an integer"),
        ({"settings_eval_batch_size": "big"}, "eval_batch_size must be an integer"),
        ({"mi": "high"}, "'mi' should be a number"),
        ({"n_train": 1.5}, "'n_train' should be a whole number"),
        ({"history": [1, 2]}, "damaged"),
        ({"history": {"train": 5, "val": [], "val_smoothed": []}}, "damaged"),
        ({"linear": 5}, "damaged"),
    ],
    ids=repr,
)
def test_a_damaged_estimate_is_refused_on_load_not_in_summary(tmp_path, data, change, words):
    r = nmi.estimate(*data, seed=0, **TINY)
    r.save(tmp_path / "good.json")
    envelope = json.loads((tmp_path / "good.json").read_text())
    for key, value in change.items():
        if key.startswith("settings_"):
            envelope["result"]["settings"][key.removeprefix("settings_")] = value
        else:
            envelope["result"][key] = value
    with pytest.raises(NeuralMIError, match=words):
        nmi.load(_write(tmp_path, envelope))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"runs": 5}, "runs should be a list"),
        ({"runs": [5]}, "RunRecord record is 5"),
        ({"gammas": "ab"}, "gammas must be"),
        ({"settings": 5}, "'settings' should be a record"),
        ({"settings_fit": 5}, "fit settings"),
        ({"settings_fit": {"exclude": [99]}}, "exclude names gamma 99"),
    ],
    ids=repr,
)
def test_a_damaged_rigorous_result_is_refused_on_load(tmp_path, result, change, words):
    result.save(tmp_path / "good.json")
    envelope = json.loads((tmp_path / "good.json").read_text())
    if "settings_fit" in change:
        fit = change["settings_fit"]
        settings = envelope["result"]["settings"]
        settings["fit"] = {**settings["fit"], **fit} if isinstance(fit, dict) else fit
    else:
        envelope["result"].update(change)
    with pytest.raises(NeuralMIError, match=words):
        nmi.load(_write(tmp_path, envelope))


def test_half_precision_and_sparse_tensors_are_valid_inputs(data):
    torch = pytest.importorskip("torch")
    x, y = data
    plain = nmi.estimate(x.astype(np.float32), y, seed=0, **TINY)
    for tensor in (torch.tensor(x).bfloat16(), torch.tensor(x).half(), torch.tensor(x).to_sparse()):
        r = nmi.estimate(tensor, y, seed=0, **TINY)
        assert math.isfinite(r.mi) and r.x_dim == 2
    sparse = nmi.estimate(torch.tensor(x, dtype=torch.float32).to_sparse(), y, seed=0, **TINY)
    assert sparse.mi == plain.mi  # densified: the same numbers as the dense input
