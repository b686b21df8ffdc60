"""Bad inputs to this session's analyses (lag, conditional, transfer, pairwise,
permutation_test, bin_spikes): each one a NeuralMIError with one sentence, raised
before any training, never numpy's MemoryError or a message about the wrong thing."""

from __future__ import annotations

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter import InvalidDataError, NeuralMIError, OptionError

TINY = {"epochs": 1, "batch_size": 16, "hidden_dim": 4, "embedding_dim": 2, "device": "cpu"}
RNG = np.random.default_rng(0)
X, Y, Z = RNG.normal(size=(200, 3)), RNG.normal(size=(200, 2)), RNG.normal(size=(200, 1))


def _one_sentence(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message and message.endswith("."), message
    return message


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: nmi.lag(X, None, lags=[0, 1], **TINY), "nmi.lag needs y"),
        (lambda: nmi.transfer(X, None, **TINY), "nmi.transfer needs y"),
        (lambda: nmi.conditional(X, None, Z, **TINY), "nmi.conditional needs y"),
    ],
)
def test_a_missing_y_is_named_not_called_values_of_type_object(call, words):
    with pytest.raises(InvalidDataError) as info:
        call()
    assert words in _one_sentence(info)


def test_a_huge_permutation_count_is_refused_before_any_row_order_is_drawn():
    events = []
    with pytest.raises(OptionError) as info:
        nmi.permutation_test(X, Y, permutations=10**9, observer=events.append, **TINY)
    message = _one_sentence(info)
    assert "permutations = 1000000000" in message and "GiB" in message and not events


def test_a_permutation_count_within_the_budget_is_accepted_by_the_check():
    from nmi_jupyter.engine.permutation import NULL_ROWS_BUDGET, check_permutations

    check_permutations(10_000, NULL_ROWS_BUDGET // (10_000 * 8))
    with pytest.raises(OptionError):
        check_permutations(10_000, NULL_ROWS_BUDGET // (10_000 * 8) + 1)


def test_bin_spikes_refuses_bins_that_cannot_fit_in_memory():
    with pytest.raises(NeuralMIError) as info:
        nmi.bin_spikes([np.array([0.1, 1e12])], 1e-3)
    message = _one_sentence(info)
    assert "bin_size" in message and "bins per neuron" in message


def test_bin_spikes_still_bins_a_long_recording_in_coarse_bins():
    counts = nmi.bin_spikes([np.array([0.1, 1e6])], 10.0)
    assert counts.shape == (100_000, 1) and counts.sum() == 2


def test_one_sample_is_named_as_too_few_samples_not_a_constant_feature():
    with pytest.raises(nmi.InsufficientDataError, match="x has 1 sample"):
        nmi.estimate(np.zeros((1, 3)), np.zeros((1, 3)))


def test_conditional_and_transfer_refuse_encoders_and_rigorous_only_options():
    rng = np.random.default_rng(0)
    x, z = rng.normal(size=(300, 1)), rng.normal(size=(300, 1))
    y = x + z
    with pytest.raises(OptionError, match="embedding='gru' is not available"):
        nmi.conditional(x, y, z, embedding="gru")
    with pytest.raises(OptionError, match="gammas only apply with rigorous=True"):
        nmi.conditional(x, y, z, rigorous=False, gammas=[1, 2, 3])
    with pytest.raises(OptionError, match="embedding='cnn' is not available"):
        nmi.transfer(x[:, 0], y[:, 0], embedding="cnn")


def test_pairwise_refuses_windows():
    with pytest.raises(InvalidDataError, match="pairs columns"):
        nmi.pairwise(np.zeros((10, 3, 2)))


def test_a_config_with_a_random_split_warns_in_time_series_analyses():
    x, y = nmi.generators.lagged_gaussians(400, lag=1, seed=0)
    config = nmi.EstimateConfig(epochs=1, split="random")
    with pytest.warns(nmi.NeuralMIWarning, match="split='random'"):
        nmi.lag(x, y, lags=[0, 1], config=config)
    with pytest.warns(nmi.NeuralMIWarning, match="split='random'"):
        nmi.transfer(x, y, config=config, rigorous=False, repeats=1)


def test_repeated_conditional_errors_compare_like_with_like():
    rng = np.random.default_rng(0)
    x, z = rng.normal(size=(400, 1)), rng.normal(size=(400, 1))
    r = nmi.conditional(x, x + z, z, rigorous=False, repeats=3, epochs=2, seed=0)
    t = __import__("scipy").stats.t.ppf(0.84, 2)
    plain = np.hypot(r.joint.mi_error, r.marginal.mi_error)
    assert r.mi_error_independent == pytest.approx(t * plain)
