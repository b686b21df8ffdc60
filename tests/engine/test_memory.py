"""The memory budget of score matrices, and options that would need unbounded memory.

Budgets are monkeypatched tiny so that every test is cheap: the logic is the same
at 1 GiB.
"""

import tracemalloc

import numpy as np
import pytest
import torch
from scipy import stats

import nmi_jupyter as nmi
from nmi_jupyter.engine import data, memory
from nmi_jupyter.engine.batched import train_batched
from nmi_jupyter.engine.bounds import get_bound
from nmi_jupyter.engine.config import make_config
from nmi_jupyter.engine.data import Standardizer, check_pair, copula_normal, standardized_parts
from nmi_jupyter.engine.errors import OptionError
from nmi_jupyter.engine.linear_bound import linear_bound
from nmi_jupyter.engine.models import SeparableCritic, mlp
from nmi_jupyter.engine.runs import prepare_run
from nmi_jupyter.engine.train import evaluate_bound

SMALL = {"epochs": 1, "hidden_dim": 8, "embedding_dim": 4, "n_layers": 1, "seed": 3}


@pytest.fixture
def xy():
    return nmi.generators.correlated_gaussians(n=200, dim=2, mi=1.0, seed=0)


def test_the_budget_allows_the_defaults_and_refuses_a_huge_batch():
    memory.check_score_memory(make_config())
    memory.check_score_memory(make_config(critic="concat"))
    largest = memory.max_batch_size(make_config())
    assert largest == 6688  # 1 GiB at 24 bytes per scored pair while training
    memory.check_score_memory(make_config(batch_size=largest))
    # The check is part of the config's validation: a config over budget cannot exist.
    with pytest.raises(OptionError, match=f"largest batch_size that fits is {largest}"):
        make_config(batch_size=largest + 1)
    with pytest.raises(OptionError, match=r"batch_size=16384 would need about 6\.0 GiB"):
        make_config(batch_size=16384)
    with pytest.raises(OptionError, match="concat critic"):
        make_config(critic="concat", batch_size=2048)


def test_an_over_budget_batch_size_is_refused_before_any_training(monkeypatch, xy):
    monkeypatch.setattr(memory, "SCORE_MEMORY_BUDGET", 10_000)
    events = []
    with pytest.raises(OptionError, match="batch_size=32 would need") as info:
        nmi.estimate(*xy, batch_size=32, observer=events.append, **SMALL)
    assert "the largest batch_size that fits is 20" in str(info.value)
    with pytest.raises(OptionError, match="batch_size=32 would need"):
        nmi.rigorous(*xy, batch_size=32, gammas=[1, 2], observer=events.append, **SMALL)
    assert events == []  # refused before a single run started


class _RecordingCritic(SeparableCritic):
    """Remembers the largest score matrix it was asked for."""

    largest = (0, 0)

    def forward(self, x, y):
        scores = super().forward(x, y)
        self.largest = max(self.largest, tuple(scores.shape))
        return scores


def test_an_evaluation_block_over_budget_is_scored_by_rows_with_the_same_value(monkeypatch):
    torch.manual_seed(0)
    critic = _RecordingCritic(mlp(3, 4, 8, 1, "relu"), mlp(3, 4, 8, 1, "relu")).eval()
    x, y = torch.randn(300, 3), torch.randn(300, 3)
    order = torch.randperm(300)
    for name in ("infonce", "smile", "nwj"):
        bound = get_bound(name)
        whole = evaluate_bound(critic, bound, x, y, 300, order)
        assert critic.largest == (300, 300)
        critic.largest = (0, 0)
        monkeypatch.setattr(memory, "SCORE_MEMORY_BUDGET", 300 * 24 * 40)  # 40 rows at a time
        by_rows = evaluate_bound(critic, bound, x, y, 300, order)
        monkeypatch.undo()
        assert critic.largest == (40, 300)  # the 300 x 300 matrix never existed
        critic.largest = (0, 0)
        assert by_rows == pytest.approx(whole, abs=1e-6)


@pytest.mark.parametrize("critic", ["separable", "concat"])
def test_estimate_reports_the_same_numbers_when_evaluation_is_scored_by_rows(
    monkeypatch, xy, critic
):
    options = {**SMALL, "critic": critic, "batch_size": 16, "eval_batch_size": 512}
    whole = nmi.estimate(*xy, **options)
    monkeypatch.setattr(memory, "SCORE_MEMORY_BUDGET", 100_000)  # training fits, evaluation not
    by_rows = nmi.estimate(*xy, **options)
    assert by_rows.mi == pytest.approx(whole.mi, abs=1e-6)
    assert by_rows.mi_val == pytest.approx(whole.mi_val, abs=1e-6)


@pytest.mark.parametrize("critic", ["separable", "concat"])
def test_batched_runs_report_the_same_numbers_when_evaluation_is_scored_by_rows(
    monkeypatch, xy, critic
):
    config = make_config(**SMALL, critic=critic, batch_size=16)
    x, y = xy
    specs = [
        prepare_run(x[rows], y[rows], config, seed=k, device=torch.device("cpu"))
        for k, rows in enumerate((slice(0, 100), slice(100, 200)))
    ]
    whole = train_batched(specs, config)
    monkeypatch.setattr(memory, "SCORE_MEMORY_BUDGET", 30_000)
    by_rows = train_batched(specs, config)
    for a, b in zip(whole, by_rows, strict=True):
        assert b.mi_train == pytest.approx(a.mi_train, abs=1e-6)
        assert b.mi_val == pytest.approx(a.mi_val, abs=1e-6)
        np.testing.assert_allclose(b.val, a.val, atol=1e-6)


@pytest.mark.parametrize(
    "gammas",
    [range(1, 3 * 10**7), (g for g in range(1, 3 * 10**7)), range(1, 10**30)],
    ids=["range", "generator", "huge-range"],
)
def test_too_many_gammas_are_refused_without_listing_them(xy, gammas):
    x, y = xy
    tracemalloc.start()
    try:
        with pytest.raises(OptionError, match="at most 1000 gammas"):
            nmi.rigorous(x, y, gammas=gammas, **SMALL)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20  # listing 3e7 gammas took 3 GB


def test_too_many_excluded_gammas_are_refused_without_listing_them(xy):
    with pytest.raises(OptionError, match="exclude holds 29,999,999 values"):
        nmi.rigorous(*xy, exclude=range(1, 3 * 10**7), **SMALL)


def test_float32_data_are_prepared_without_float64_copies(monkeypatch):
    # estimate at N = 10^6, d = 20 peaked at 5x its input: float64 copies of everything.
    monkeypatch.setattr(data, "_BLOCK_ELEMENTS", 100_000)  # a few columns at a time
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50_000, 20), dtype=np.float32)
    y = x + rng.standard_normal((50_000, 20), dtype=np.float32)
    size = x.nbytes + y.nbytes
    tracemalloc.start()
    try:
        xs, ys = (copula_normal(v) for v in check_pair(x, y))
        marginals = tracemalloc.get_traced_memory()[1] / size
        tracemalloc.reset_peak()
        run = prepare_run(xs, ys, make_config(seed=0), 0, torch.device("cpu"))
        prepared = tracemalloc.get_traced_memory()[1] / size
        tracemalloc.reset_peak()
        linear_bound(xs, ys, normal_scores=True)
        linear = tracemalloc.get_traced_memory()[1] / size
    finally:
        tracemalloc.stop()
    assert xs.dtype == ys.dtype == np.float32 and run.data.x_train.dtype == torch.float32
    # The normal scores (1x), then the training tensors (1x more), plus a few columns.
    assert marginals < 1.6  # was 13x
    assert prepared < 2.6 and linear < 2.6


def test_float64_data_are_prepared_exactly_as_before():
    rng = np.random.default_rng(1)
    x = rng.standard_t(3, size=(3000, 7))
    x[::5, 2] = 0.5  # ties
    ranks = stats.rankdata(x, axis=0)
    np.testing.assert_array_equal(copula_normal(x), stats.norm.ppf(ranks / (len(x) + 1)))
    train, val = np.arange(0, 3000, 2), np.arange(1, 3000, 2)
    scaler = Standardizer.fit(x[train])
    got = standardized_parts(x, [train, val])
    for part, rows in zip(got, (train, val), strict=True):
        expected = torch.as_tensor(scaler(x[rows]), dtype=torch.float32).numpy()
        np.testing.assert_array_equal(part, expected)
