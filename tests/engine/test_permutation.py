"""nmi.permutation_test: the null runs' plan, the p-value and the result (issue 21)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.permutation import (
    default_block_size,
    null_rows,
    permutation_plan,
    reduce_permutation,
)
from nmi_jupyter.engine.permutation_result import p_value
from nmi_jupyter.engine.run_state import TrainOutcome
from nmi_jupyter.engine.trainer import Trained

CONFIG = EstimateConfig(seed=5, epochs=2, batch_size=32)


def _outcome(mi_nats: float, stop_reason: str = "early_stopping") -> TrainOutcome:
    curve = np.full(3, mi_nats)
    return TrainOutcome(
        curve, curve, curve, 2, stop_reason, 0.1, mi_nats, mi_nats, None, n_train=450, n_val=50
    )


def _reduced(observed: TrainOutcome, nulls: list[TrainOutcome], settings=None, null="permute"):
    plan = permutation_plan(500, CONFIG, len(nulls), null, 25)
    return reduce_permutation(
        plan,
        Trained([observed, *nulls], "completed", "cpu", 1),
        permutations=len(nulls),
        null=null,
        block=25,
        n_samples=500,
        settings=settings or CONFIG.to_dict(),
        elapsed=0.0,
    )


# ----- the p-value -----


def test_p_value_counts_the_observed_run_as_one_draw_of_the_null():
    assert p_value(1.0, np.zeros(199)) == pytest.approx(1 / 200)  # the smallest possible
    assert p_value(0.0, np.zeros(199)) == 1.0  # ties count as at least as large
    assert p_value(0.5, np.array([0.1, 0.6, 0.5, 0.2])) == pytest.approx(3 / 5)
    assert p_value(0.5, np.array([0.1, np.nan, 0.9])) == pytest.approx(2 / 3)  # NaN left out
    assert math.isnan(p_value(math.nan, np.zeros(3)))
    assert math.isnan(p_value(0.3, np.array([])))


# ----- the null pairs and the plan, without training -----


def test_null_rows_permute_shift_or_move_blocks_and_are_seeded():
    n = 100
    for rows in null_rows(n, 5, "permute", 10, seed=1):
        assert sorted(rows) == list(range(n))
    for rows in null_rows(n, 50, "circular", 10, seed=1):
        shift = int(rows[0])
        assert 10 <= shift <= 90
        np.testing.assert_array_equal(rows, (np.arange(n) + shift) % n)
    for rows in null_rows(n, 5, "block", 10, seed=1):
        assert sorted(rows) == list(range(n))
        blocks = rows.reshape(10, 10)
        assert (np.diff(blocks, axis=1) == 1).all() and (blocks[:, 0] % 10 == 0).all()
    a, b = null_rows(n, 3, "permute", 10, seed=1), null_rows(n, 3, "permute", 10, seed=1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert default_block_size(1000) == 50


def test_plan_is_the_observed_run_then_the_null_runs_all_alike():
    plan = permutation_plan(200, CONFIG, 9, "permute", 10)
    observed, *nulls = plan.runs
    assert observed.seed == CONFIG.seed and observed.view.y_rows is None
    assert not observed.control and all(r.control for r in nulls)
    assert [r.run_id for r in plan.runs] == list(range(10))
    assert len({r.seed for r in plan.runs}) == 10
    assert all(r.view.rows is None and len(r.view.y_rows) == 200 for r in nulls)
    # one config for every run: the null runs train exactly as the observed one
    assert {id(part.config) for part in plan.units()} == {id(plan.config)}


# ----- the reducer and the flags, on made-up outcomes -----


def test_reducer_gives_mi_null_and_the_corrected_p_value():
    result = _reduced(_outcome(0.7), [_outcome(v) for v in (0.1, 0.8, 0.2, 0.05)])
    assert result.mi == pytest.approx(0.7 / math.log(2))
    assert len(result.null) == 4
    assert result.p_value == pytest.approx(2 / 5)
    assert result.min_p_value == pytest.approx(1 / 5)
    assert result.is_reliable and "p-value: 0.4" in result.summary()


def test_an_observed_run_that_diverged_gives_no_p_value_and_is_flagged():
    result = _reduced(_outcome(math.nan, "diverged"), [_outcome(0.1)] * 4)
    assert math.isnan(result.p_value)
    assert not result.is_reliable and result.flags[0].code == "observed_failed"
    assert "p-value: none" in result.summary()


def test_an_observed_run_that_diverged_after_a_checkpoint_gives_no_p_value():
    # Its best checkpoint has a finite MI, but the run diverged: no p-value, as the flag says.
    result = _reduced(_outcome(0.7, "diverged"), [_outcome(0.1)] * 4)
    assert math.isnan(result.p_value)
    assert result.flags[0].code == "observed_failed"


def test_the_smallest_p_value_counts_only_the_null_runs_that_gave_a_value():
    result = _reduced(_outcome(0.5), [_outcome(math.nan, "diverged")] + [_outcome(0.1)] * 3)
    assert result.min_p_value == pytest.approx(1 / 4) == result.p_value


def test_null_runs_that_diverged_are_left_out_and_flagged():
    result = _reduced(_outcome(0.5), [_outcome(math.nan, "diverged")] + [_outcome(0.1)] * 3)
    assert len(result.null) == 3 and result.p_value == pytest.approx(1 / 4)
    assert [f.code for f in result.flags] == ["unstable_runs"]


def test_a_time_series_tested_with_permutations_is_warned_about():
    settings = {**CONFIG.to_dict(), "split": "blocked"}
    assert "permuted_time_series" in [
        f.code for f in _reduced(_outcome(0.5), [_outcome(0.1)], settings).flags
    ]
    circular = _reduced(_outcome(0.5), [_outcome(0.1)], settings, null="circular")
    assert circular.flags == ()


# ----- real training, tiny -----


def test_a_clear_dependence_gets_the_smallest_p_value_and_round_trips(tmp_path):
    x, y = nmi.generators.correlated_gaussians(600, 1, 1.5, seed=0)
    options = {"epochs": 3, "batch_size": 64, "lr": 5e-3, "seed": 0, "threads": 1}
    result = nmi.permutation_test(x, y, permutations=19, **options)
    assert result.p_value == pytest.approx(1 / 20) == result.min_p_value
    assert len(result.null) == 19 and result.null.max() < result.mi
    # the observed run is nmi.estimate's run (the same seed), trained in the stack
    assert result.mi == pytest.approx(nmi.estimate(x, y, **options).mi, abs=1e-3)
    path = tmp_path / "test.json"
    result.save(path)
    again = nmi.load(path)
    assert isinstance(again, nmi.PermutationResult)
    assert again.p_value == result.p_value and again.summary() == result.summary()
    np.testing.assert_array_equal(again.null, result.null)
    assert len(result.to_frame()) == 20


def test_circular_shifts_run_on_a_time_series():
    x, y = nmi.generators.correlated_gaussians(400, 1, 0.5, seed=1)
    result = nmi.permutation_test(
        x, y, 5, null="circular", block_size=40, epochs=2, batch_size=64, seed=0, split="blocked"
    )
    assert result.null_kind == "circular" and result.block_size == 40 and len(result.null) == 5
    assert "circular shifts of y by at least 40 samples" in result.summary()


# ----- mistakes, one sentence each -----


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"permutations": 0}, nmi.OptionError, "permutations"),
        ({"null": "shuffle"}, nmi.OptionError, "null"),
        ({"block_size": 0}, nmi.OptionError, "block_size"),
        ({"null": "block", "block_size": 300}, nmi.InsufficientDataError, "two blocks"),
        ({"gammas": [1, 2]}, nmi.OptionError, "Unknown option 'gammas'"),
    ],
)
def test_bad_options_are_refused_before_training(options, error, match):
    x, y = nmi.generators.correlated_gaussians(400, 1, 0.5, seed=1)
    with pytest.raises(error, match=match) as info:
        nmi.permutation_test(x, y, **options)
    assert str(info.value).count(". ") == 0
