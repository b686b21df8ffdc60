import numpy as np
import pandas as pd
import pytest
import torch

from nmi_jupyter import InsufficientDataError, InvalidDataError, OptionError
from nmi_jupyter.engine.data import (
    Standardizer,
    as_samples,
    check_gammas,
    check_pair,
    split_indices,
)


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
    # float32 input (a torch default) stays float32, saving a copy; the rest is float64.
    expected = np.float32 if getattr(data, "dtype", None) == torch.float32 else np.float64
    assert out.dtype == expected and out.shape == (6, 2)
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


# ----- tensors numpy cannot take as they are (issue 15, point 6) -----


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_half_precision_tensors_are_widened_not_refused(dtype):
    values = torch.tensor([[0.5, 1.0], [2.0, -3.0], [4.0, 0.25]])
    out = as_samples(values.to(dtype), "x")
    assert out.dtype == (np.float32 if dtype == torch.float32 else np.float64)
    np.testing.assert_array_equal(out, values.numpy())


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_sparse_inputs_are_densified():
    dense = np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    for sparse in (torch.tensor(dense).to_sparse(), torch.tensor(dense).to_sparse_csr()):
        np.testing.assert_array_equal(as_samples(sparse, "x"), dense)
    scipy_sparse = pytest.importorskip("scipy.sparse")
    np.testing.assert_array_equal(as_samples(scipy_sparse.csr_matrix(dense), "x"), dense)


def test_tensors_that_need_grad_or_live_elsewhere_are_detached():
    values = torch.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
    np.testing.assert_array_equal(as_samples(values * 2, "x"), [[2.0], [4.0], [6.0]])


@pytest.mark.parametrize(
    "gammas", [5, "12", ["a", "b"], [1, float("inf")], [1, float("nan")], [1, 2.5], [1, True]]
)
def test_check_gammas_refuses_with_a_sentence(gammas):
    with pytest.raises(OptionError, match="gammas must"):
        check_gammas(gammas)


def test_check_gammas_takes_numpy_and_whole_floats_as_plain_ints():
    out = check_gammas(np.array([3, 1, 2], dtype=np.int64))
    assert out == [1, 2, 3] and all(type(g) is int for g in out)
    assert check_gammas([1.0, 2.0]) == [1, 2]
