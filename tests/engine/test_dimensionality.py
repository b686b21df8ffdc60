"""nmi.dimensionality (issue 19): the saturation rule on scripted curves, and the
known latent dimension of generators.latent_channels found within one."""

from __future__ import annotations

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.engine.dimensionality import saturation
from nmi_jupyter.engine.verdict import dimensionality_flags

DIMS = list(range(1, 8))
FAST = {"epochs": 30, "hidden_dim": 32, "seed": 0, "threads": 1}
# The separable critic (not the analysis' default hybrid): fast, and within one of k.
SEPARABLE = {**FAST, "critic": "separable"}


def _curves(values, spread=0.01, splits=4, seed=0):
    rng = np.random.default_rng(seed)
    return np.asarray(values) + spread * rng.standard_normal((splits, len(values)))


def test_a_clear_knee_is_read_at_the_knee():
    reading = saturation(DIMS, _curves([0.8, 1.6, 2.36, 2.4, 2.42, 2.41, 2.43]))
    assert reading.dimension == 3 and reading.reached
    assert reading.dimension_range == (3, 3)


def test_a_few_per_cent_of_creep_past_the_knee_is_not_a_dimension():
    reading = saturation(DIMS, _curves([0.8, 1.6, 1.66, 1.63, 1.64, 1.64, 1.65]))
    assert reading.dimension == 2 and reading.dimension_range == (2, 2)


def test_the_weakest_of_six_directions_is_a_dimension():
    # issue 19, k = 6 interaction, seed 2 (mean curve, hybrid critic): dim 5 holds 90 %
    # of the plateau, the sixth direction the rest; a 10 % band read 5 here
    curve = [1.09, 2.08, 3.34, 4.04, 5.07, 5.90, 5.67, 5.62, 5.61, 5.61]
    reading = saturation(list(range(1, 11)), _curves(curve, spread=0.05))
    assert reading.dimension == 6 and reading.reached


def test_a_curve_still_rising_cannot_tell():
    reading = saturation(DIMS, _curves([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]))
    assert reading.dimension is None and not reading.reached
    flags = dimensionality_flags(
        dimension=None,
        reached=False,
        plateau=reading.plateau,
        per_split=reading.per_split,
        largest_dims=DIMS[-3:],
        settings={"estimator": "smile", "batch_size": 128},
        n_train=900,
        units="bits",
    )
    assert [f.code for f in flags] == ["no_plateau"] and flags[0].unreliable


def test_noisy_splits_widen_the_band_and_the_range():
    reading = saturation(DIMS, _curves([0.8, 1.6, 2.36, 2.4, 2.42, 2.41, 2.43], spread=0.3))
    low, high = reading.dimension_range
    assert low <= reading.dimension <= high or reading.dimension is None


def test_a_plateau_at_infonce_s_ceiling_is_flagged_with_the_remedy():
    settings = {"estimator": "infonce", "batch_size": 16, "eval_batch_size": 512}
    flags = dimensionality_flags(
        dimension=2,
        reached=True,
        plateau=3.9,
        per_split=(2, 2),
        largest_dims=(5, 6, 7),
        settings=settings,
        n_train=900,
        units="bits",
    )
    (flag,) = flags
    assert flag.code == "ceiling" and "smile" in flag.message and "batch_size" in flag.message


def test_no_information_is_not_a_dimension():
    flags = dimensionality_flags(
        dimension=1,
        reached=True,
        plateau=0.01,
        per_split=(1, 1),
        largest_dims=(5, 6, 7),
        settings={"estimator": "smile", "batch_size": 128},
        n_train=900,
        units="bits",
    )
    assert [f.code for f in flags] == ["no_information"]


def test_options_are_checked_before_training():
    x, y = nmi.generators.latent_channels(300, 2, 8, seed=0)
    events = []
    for options, message in [
        ({"embedding_dims": [1, 2, 3]}, "at least 4"),
        ({"embedding_dim": 4}, "embedding_dims"),
        ({"splits": 1}, "splits"),
        ({"gammas": [1, 2]}, "Unknown option 'gammas'"),
    ]:
        with pytest.raises(nmi.OptionError, match=message):
            nmi.dimensionality(x, y, observer=events.append, **options)
    with pytest.raises(nmi.InvalidDataError, match="at least 2 columns"):
        nmi.dimensionality(x[:, :1])
    assert events == []


@pytest.mark.parametrize("k", [2, 4])
def test_the_interaction_dimension_of_a_known_latent_is_found(k):
    x, y = nmi.generators.latent_channels(3000, k, 20, seed=1)
    result = nmi.dimensionality(x, y, embedding_dims=DIMS, splits=3, **SEPARABLE)
    # a separable InfoNCE critic may take one more dimension (issue 19): within one
    assert result.dimension is not None and abs(result.dimension - k) <= 1
    assert result.mode == "interaction" and result.is_reliable


def test_the_internal_dimension_of_a_known_latent_is_found(tmp_path):
    x = nmi.generators.latent_channels(3000, 2, 20, seed=1, pair=False)
    result = nmi.dimensionality(x, embedding_dims=DIMS, splits=3, **SEPARABLE)
    assert result.dimension is not None and abs(result.dimension - 2) <= 1
    assert (result.x_dim, result.y_dim) == (10, 10) and result.mode == "internal"
    frame = result.to_frame()
    assert list(frame["embedding_dim"]) == DIMS and {"split_0", "split_2"} <= set(frame)
    assert list(frame["saturated"]) == [d >= result.dimension for d in DIMS]
    path = tmp_path / "dim.json"
    result.save(path)
    back = nmi.load(path)
    assert isinstance(back, nmi.DimensionalityResult)
    assert back.dimension == result.dimension and back.summary() == result.summary()
    np.testing.assert_allclose(back.curves, result.curves)


def test_the_analysis_trains_a_hybrid_critic_unless_told_otherwise():
    from nmi_jupyter.engine.sweep import _dimensionality_run_options

    assert _dimensionality_run_options(None, {}) == {"critic": "hybrid", "lr": 2e-3, "patience": 20}
    assert _dimensionality_run_options(None, {"lr": 1e-3}) == {
        "critic": "hybrid",
        "lr": 1e-3,
        "patience": 20,
    }
    assert _dimensionality_run_options(None, {"critic": "separable"}) == {"critic": "separable"}
    config = nmi.EstimateConfig(epochs=3)
    assert _dimensionality_run_options(config, {}) == {}
    x, y = nmi.generators.latent_channels(400, 2, 6, seed=0)
    result = nmi.dimensionality(
        x, y, embedding_dims=[1, 2, 3, 4], splits=2, epochs=2, hidden_dim=8, seed=0
    )
    assert (result.settings["critic"], result.settings["lr"]) == ("hybrid", 2e-3)
