"""Poisson spike trains driven by a stimulus label: data, the exact truth, and one estimate."""

import math

import numpy as np
import pytest
from scipy import stats

import nmi_jupyter as nmi
from nmi_jupyter.engine.errors import OptionError
from nmi_jupyter.generators import SpikeTrials, poisson_spikes, poisson_spikes_mi


def plain_loop_mi_nats(rates: np.ndarray, duration: float, top: int) -> float:
    """sum_s p(s) sum_c P(c|s) ln(P(c|s)/P(c)) over every count vector with c_j <= top."""
    means = np.asarray(rates) * duration
    k, n = means.shape
    total = 0.0
    for c in np.ndindex(*(top + 1,) * n):
        like = np.array([np.prod(stats.poisson.pmf(c, means[s])) for s in range(k)])
        marginal = like.mean()
        for s in range(k):
            if like[s] > 0:
                total += like[s] / k * math.log(like[s] / marginal)
    return total


# --- the exact truth --------------------------------------------------------------------


def test_truth_matches_a_plain_loop():
    # Means up to 3 counts: a cut at 30 leaves out < 1e-20 of the mass.
    rates = np.array([[5.0, 20.0], [30.0, 10.0], [12.0, 12.0]])
    # The tail cut makes the truth low by at most 1e-9 nats, never high.
    expected = plain_loop_mi_nats(rates, 0.1, top=30)
    assert 0 <= expected - poisson_spikes_mi(rates, 0.1, units="nats") < 1e-9
    one = np.array([[2.0], [40.0]])
    expected = plain_loop_mi_nats(one, 0.25, top=60)
    assert 0 <= expected - poisson_spikes_mi(one, 0.25, units="nats") < 1e-9


def test_truth_limits_and_units():
    assert poisson_spikes_mi([[10.0, 3.0], [10.0, 3.0]], 0.1) == pytest.approx(0.0, abs=1e-12)
    # Silent in class 0, 1000 Hz in class 1: the count tells the class (e^-100 aside).
    assert poisson_spikes_mi([[0.0], [1000.0]], 0.1) == pytest.approx(1.0, abs=2e-9)
    bits = poisson_spikes_mi([[1.0, 9.0], [9.0, 1.0]], 0.5)
    nats = poisson_spikes_mi([[1.0, 9.0], [9.0, 1.0]], 0.5, units="nats")
    assert nats == pytest.approx(bits * math.log(2), rel=1e-12)
    assert 0 < bits < 1


def test_truth_agrees_with_monte_carlo():
    # I = E[ln p(s|c) - ln p(s)] over (s, c) drawn from the model: an unbiased Monte-Carlo
    # estimate whose standard error is the sample sd / sqrt(n).  4 standard errors: a
    # false failure about once in 16,000 runs, and the seeds are fixed anyway.
    d = poisson_spikes(200_000, seed=3, units="nats")
    means = d.rates * d.trial_duration
    log_like = stats.poisson.logpmf(d.counts[:, None, :], means[None, :, :]).sum(axis=2)
    log_post = log_like - np.logaddexp.reduce(log_like, axis=1, keepdims=True)
    pointwise = log_post[np.arange(len(d.labels)), d.labels] + math.log(len(means))
    se = pointwise.std() / math.sqrt(len(pointwise))
    assert abs(pointwise.mean() - d.mi) < 4 * se, (pointwise.mean(), d.mi, se)
    assert se < 0.005  # the check is tight: 4 se < 0.02 nats


def test_truth_refuses_sums_too_large():
    with pytest.raises(OptionError, match="too many"):
        poisson_spikes_mi(np.full((8, 6), 60.0) + np.arange(6), 0.5)


@pytest.mark.parametrize(
    ("rates", "duration", "words"),
    [
        ([1.0, 2.0], 0.1, "rates must have shape"),
        ([[1.0, 2.0]], 0.1, "rates must have shape"),
        ([[1.0], [-1.0]], 0.1, "finite firing rates"),
        ([[1.0], [np.nan]], 0.1, "finite firing rates"),
        ([[1.0], [2.0]], 0.0, "trial_duration must be"),
        ([[1.0], [2.0]], True, "trial_duration must be"),
    ],
)
def test_truth_errors(rates, duration, words):
    with pytest.raises(OptionError, match=words):
        poisson_spikes_mi(rates, duration)


# --- the data ---------------------------------------------------------------------------


def test_spike_trials_shapes_and_consistency():
    d = poisson_spikes(500, seed=0)
    assert isinstance(d, SpikeTrials)
    assert d.labels.shape == (500,) and d.counts.shape == (500, 3) and len(d.spike_times) == 3
    assert d.rates.shape == (4, 3) and d.units == "bits" and d.trial_duration == 0.1
    assert d.mi == pytest.approx(1.034, abs=1e-3)  # the documented default
    assert set(np.unique(d.labels)) == {0, 1, 2, 3}
    # Binning the spike times per trial gives back the counts.
    binned = nmi.bin_spikes(d.spike_times, d.trial_duration, t_stop=500 * d.trial_duration)
    np.testing.assert_array_equal(binned, d.counts)
    for times in d.spike_times:
        assert np.all(np.diff(times) >= 0) and times.min() >= 0 and times.max() < 50.0


def test_counts_follow_the_rates():
    d = poisson_spikes(20_000, seed=1, trial_duration=0.2)
    for k in range(4):
        mean = d.counts[d.labels == k].mean(axis=0)
        expected = d.rates[k] * 0.2
        # Poisson: var = mean; 5000 trials per class -> se = sqrt(mean / 5000) < 0.04.
        np.testing.assert_allclose(mean, expected, atol=5 * np.sqrt(expected.max() / 4000))


def test_seeds_and_custom_rates():
    a, b = poisson_spikes(50, seed=7), poisson_spikes(50, seed=7)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert not np.array_equal(a.counts, poisson_spikes(50, seed=8).counts)
    rates = np.array([[1.0, 5.0], [5.0, 1.0]])
    c = poisson_spikes(10, rates=rates, trial_duration=0.5, units="nats", seed=0)
    assert c.counts.shape == (10, 2)
    assert c.mi == pytest.approx(poisson_spikes_mi(rates, 0.5, "nats"))
    d = poisson_spikes(10, n_neurons=2, n_classes=3, seed=0)
    assert d.rates.shape == (3, 2) and d.rates.min() >= 2.0 and d.rates.max() <= 30.0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n_trials": 0}, "n_trials must be"),
        ({"n_trials": 5, "n_classes": 1}, "n_classes must be"),
        ({"n_trials": 5, "n_neurons": 0}, "n_neurons must be"),
        ({"n_trials": 5, "units": "bit"}, "did you mean 'bits'"),
    ],
)
def test_generator_errors(kwargs, words):
    with pytest.raises(OptionError, match=words):
        poisson_spikes(**kwargs)


# --- an estimate lands on the truth -----------------------------------------------------


@pytest.mark.slow
def test_estimate_of_label_information_from_counts():
    # 3000 trials of the default population (truth 1.034 bits), one-hot label vs counts,
    # default estimate.  Measured on seeds 0-2: 1.012, 1.048, 1.028 bits (3000 trials);
    # 1.044, 1.047, 0.994 (2000); 1.021, 1.017, 1.017 (4000).  0.1 bits is about 4x the
    # largest miss seen and still catches a wrong truth (0.5 s trials would be 1.91 bits)
    # or a broken encoding.
    d = poisson_spikes(3000, seed=0)
    r = nmi.estimate(nmi.one_hot(d.labels), d.counts, seed=0, device="cpu")
    assert abs(r.mi - d.mi) < 0.1, r.summary()
