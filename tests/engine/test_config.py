import numpy as np
import pytest

from nmi_jupyter import EstimateConfig, OptionError
from nmi_jupyter.engine.config import make_config, option_names


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
