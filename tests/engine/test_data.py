import numpy as np
import pandas as pd
import pytest
import torch

from nmi_jupyter import InsufficientDataError, InvalidDataError
from nmi_jupyter.engine.data import Standardizer, as_samples, check_pair, split_indices


@pytest.mark.parametrize(
    "data",
    [
        np.arange(12.0).reshape(6, 2),
        torch.arange(12.0).reshape(6, 2),
        pd.DataFrame(np.arange(12.0).reshape(6, 2)),
        np.arange(12).reshape(6, 2).tolist(),
    ],
    ids=["numpy", "torch", "pandas", "list"],
)
def test_inputs_of_every_kind_become_float_sample_arrays(data):
    out = as_samples(data, "x")
    assert out.dtype == np.float64 and out.shape == (6, 2)
    np.testing.assert_array_equal(out, np.arange(12.0).reshape(6, 2))


def test_one_dimensional_input_is_one_feature_and_higher_dims_are_flattened():
    assert as_samples(pd.Series([1.0, 2.0, 3.0]), "x").shape == (3, 1)
    assert as_samples(np.random.default_rng(0).normal(size=(5, 3, 4)), "x").shape == (5, 12)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), r"1 NaN or infinite values \(first in sample 0\)"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), "NaN or infinite"),
        (np.array([[1.0, 5.0], [2.0, 5.0]]), r"constant feature\(s\) \(column 1\)"),
        (np.array(["a", "b"]), "must hold numbers"),
        ([[1.0, 2.0], [3.0]], "could not be read|must hold numbers"),
        (np.empty((0, 3)), "empty"),
        (3.0, "single number"),
        (np.array([1 + 2j, 3j]), "complex"),
    ],
)
def test_bad_inputs_get_one_sentence(data, message):
    with pytest.raises(InvalidDataError, match=message):
        as_samples(data, "x")


def test_pair_must_have_equal_lengths():
    with pytest.raises(InvalidDataError, match="x has 5 and y has 4"):
        check_pair(np.arange(5.0), np.arange(4.0))


def test_random_split_is_seeded_disjoint_and_complete():
    tr, va = split_indices(100, "random", 0.1, rng=np.random.default_rng(1))
    tr2, va2 = split_indices(100, "random", 0.1, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(va, va2)
    assert len(va) == 10 and len(tr) == 90
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(100))
    assert not np.array_equal(va, np.arange(90, 100))


def test_blocked_split_holds_out_the_last_block_after_a_gap():
    tr, va = split_indices(100, "blocked", 0.2, gap=5)
    np.testing.assert_array_equal(va, np.arange(80, 100))
    np.testing.assert_array_equal(tr, np.arange(75))


def test_too_small_validation_is_an_error():
    with pytest.raises(InsufficientDataError, match="at least 10"):
        split_indices(50, "random", 0.1, rng=np.random.default_rng(0))


def test_standardizer_uses_training_statistics_and_survives_constant_columns():
    train = np.array([[1.0, 4.0], [3.0, 4.0]])
    s = Standardizer.fit(train)
    np.testing.assert_allclose(s(train), [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(s(np.array([[5.0, 6.0]])), [[3.0, 2.0]])
