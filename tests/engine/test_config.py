import json
import math

import numpy as np
import pytest

from nmi_jupyter import EstimateConfig, OptionError
from nmi_jupyter.engine.config import (
    check_option,
    check_rigorous_options,
    make_config,
    option_names,
)


def test_defaults_follow_the_design():
    c = EstimateConfig()
    assert (c.estimator, c.critic, c.epochs, c.batch_size, c.lr) == (
        "infonce",
        "separable",
        50,
        128,
        5e-4,
    )
    assert (c.hidden_dim, c.n_layers, c.embedding_dim) == (64, 2, 64)
    assert (c.val_fraction, c.median_window, c.gaussian_sigma, c.units) == (0.1, 5, 1.0, "bits")
    assert c.smile_clip == 5.0 and c.min_improvement == 1e-3


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("batchsize", "batch_size"), ("epoch", "epochs"), ("estimater", "estimator"), ("lr_", "lr")],
)
def test_unknown_option_names_the_closest(name, suggestion):
    with pytest.raises(OptionError, match=f"Unknown option '{name}'.*did you mean '{suggestion}'"):
        make_config(**{name: 1})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"estimator": "infonse"}, "did you mean 'infonce'"),
        ({"critic": "dot"}, "critic must be one of"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"batch_size": 1}, "batch_size must be an integer >= 2"),
        ({"lr": -1.0}, "lr must be a finite number > 0"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"val_fraction": 0.7}, "val_fraction must be"),
        ({"units": "bit"}, "did you mean 'bits'"),
        ({"device": "gpu"}, "device must be"),
        ({"device": "cuda:x"}, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
        ({"median_window": 4}, "odd"),
        ({"standardize": "yes"}, "standardize must be True or False"),
        ({"seed": -3}, "seed must be an integer >= 0"),
    ],
)
def test_invalid_values_are_one_clear_sentence(options, message):
    with pytest.raises(OptionError, match=message):
        make_config(**options)


def test_numpy_scalars_become_plain_python_values():
    c = make_config(epochs=np.int64(7), lr=np.float32(0.01), seed=np.int32(3))
    assert type(c.epochs) is int and type(c.lr) is float and type(c.seed) is int
    assert c.to_dict()["epochs"] == 7


def test_replace_validates_and_keeps_other_values():
    c = make_config(epochs=7).replace(batch_size=64)
    assert (c.epochs, c.batch_size) == (7, 64)
    with pytest.raises(OptionError):
        c.replace(batch_sise=3)


def test_option_names_contain_the_public_contract():
    public = {
        "estimator",
        "critic",
        "epochs",
        "batch_size",
        "lr",
        "patience",
        "hidden_dim",
        "n_layers",
        "embedding_dim",
        "split",
        "units",
        "seed",
        "device",
    }
    assert public <= set(option_names())


# ----- one set of checks for every option (issue 15, point 5) -----


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epochs": 2.7}, "epochs must be an integer >= 1, not 2.7"),
        ({"epochs": True}, "epochs must be an integer"),
        ({"epochs": "3"}, "epochs must be an integer"),
        ({"batch_size": np.float64(64.5)}, "batch_size must be an integer"),
        ({"seed": 2**80}, "seed must be an integer >= 0"),
        ({"estimator": np.array(["infonce"])}, "estimator must be one of"),
        ({"estimator": ["infonce"]}, "estimator must be one of"),
        ({"device": np.array(["cpu"])}, "device must be"),
        ({"lr": float("inf")}, "lr must be a finite number > 0"),
        ({"lr": np.array([0.1])}, "lr must be a finite number > 0"),
        ({"copula": 1}, "copula must be True or False"),
        ({"val_fraction": 0.5}, "val_fraction must be a finite number strictly between 0 and 0.5"),
    ],
    ids=repr,
)
def test_values_that_used_to_slip_through_or_crash(options, message):
    with pytest.raises(OptionError, match=message):
        make_config(**options)


def test_numpy_scalars_and_whole_floats_are_welcome_everywhere():
    c = make_config(
        epochs=np.int64(3),
        batch_size=64.0,
        val_fraction=np.float32(0.25),
        standardize=np.bool_(False),
        estimator=np.str_("smile"),
        threads=np.uint8(2),
    )
    assert (c.epochs, c.batch_size, c.threads) == (3, 64, 2)
    assert c.standardize is False and c.estimator == "smile"
    assert all(type(v) in (int, float, str, bool, type(None)) for v in c.to_dict().values())
    json.dumps(c.to_dict())


def test_rigorous_options_are_checked_and_converted_in_one_function():
    out = check_rigorous_options(
        {
            "gammas": np.arange(1, 6),
            "repeats": np.int64(2),
            "delta_threshold": np.float32(0.1),
            "min_gamma_points": 3.0,
            "confidence_level": np.float64(0.9),
            "exclude": {np.int64(5), 4.0},
            "batched": np.bool_(False),
            "retries": 0,
            "other": "passes through",
        }
    )
    assert out["gammas"] == [1, 2, 3, 4, 5] and out["exclude"] == [4, 5]
    assert type(out["repeats"]) is int and type(out["delta_threshold"]) is float
    assert out["min_gamma_points"] == 3 and out["batched"] is False
    assert out["other"] == "passes through"
    json.dumps(out)
    # exclude is judged against the default gammas when none are given
    assert check_rigorous_options({"exclude": [10]})["exclude"] == [10]
    with pytest.raises(OptionError, match="exclude names gamma 11"):
        check_rigorous_options({"exclude": [11]})
    with pytest.raises(OptionError, match="1.5 is not one"):
        check_rigorous_options({"exclude": [1.5]})


def test_check_option_judges_one_option_as_the_api_would():
    assert check_option("epochs", np.int64(4)) == 4
    assert check_option("gammas", range(1, 4)) == [1, 2, 3]
    assert check_option("delta_threshold", math.inf) == math.inf  # never drop a gamma
    for name, value in (("epochs", 2.7), ("gammas", 5), ("repeats", "x"), ("device", "gpu")):
        with pytest.raises(OptionError, match=name):
            check_option(name, value)
