"""nmi.pairwise: every pair of channels as one plan, its reducer and its result (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.pairwise import (
    PAIRS_PER_UNIT,
    PAIRWISE_NETWORK,
    channel_pairs,
    pair_of,
    pairwise_plan,
    reduce_pairwise,
)
from nmi_jupyter.engine.run_state import TrainOutcome
from nmi_jupyter.engine.trainer import Trained
from nmi_jupyter.engine.units import NATS_PER_BIT
from nmi_jupyter.generators import gaussian_cmi

CONFIG = EstimateConfig(seed=3, epochs=2, batch_size=32)


def _outcome(mi_nats: float, stop_reason: str = "early_stopping") -> TrainOutcome:
    curve = np.full(3, mi_nats)
    return TrainOutcome(
        curve, curve, curve, 2, stop_reason, 0.1, mi_nats, mi_nats, None, n_train=450, n_val=50
    )


def _linked(n: int = 800, seed: int = 0) -> np.ndarray:
    """Four channels: 0 and 1 share a latent (about 1 bit), 2 and 3 independent."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    noise = rng.normal(size=(n, 4))
    return np.column_stack([z + 0.4 * noise[:, 0], z + 0.4 * noise[:, 1], noise[:, 2:]])


# ----- the plan, without training -----


def test_pairs_within_x_are_i_below_j_and_between_x_and_y_every_combination():
    assert channel_pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert channel_pairs(2, 3) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert len(channel_pairs(8)) == 28


def test_plan_holds_every_pair_as_one_column_views_with_the_same_seeds():
    pairs = channel_pairs(5)
    plan = pairwise_plan(pairs, CONFIG, repeats=2)
    assert len(plan.runs) == 2 * len(pairs)
    assert [run.run_id for run in plan.runs] == list(range(len(plan.runs)))
    assert [pair_of(run) for run in plan.runs] == [p for p in pairs for _ in range(2)]
    for run in plan.runs:
        assert run.view.rows is None and run.view.y_rows is None
        assert len(run.view.x_columns) == len(run.view.y_columns) == 1
    # the k-th repeat has the same seed (split, minibatch order) at every pair
    seeds = {(pair_of(r), r.repeat): r.seed for r in plan.runs}
    assert len({seeds[(p, 0)] for p in pairs}) == 1
    assert seeds[(pairs[0], 0)] != seeds[(pairs[0], 1)]
    assert max(r.unit for r in plan.runs) == (len(pairs) - 1) // PAIRS_PER_UNIT


def test_views_pick_the_pairs_columns():
    xs = np.arange(30.0).reshape(10, 3)
    ys = -np.arange(20.0).reshape(10, 2)
    plan = pairwise_plan(channel_pairs(3, 2), CONFIG, repeats=1)
    x, y = plan.runs[3].view.apply(xs, ys)  # pair (1, 1)
    assert pair_of(plan.runs[3]) == (1, 1)
    np.testing.assert_array_equal(x[:, 0], xs[:, 1])
    np.testing.assert_array_equal(y[:, 0], ys[:, 1])


def test_rigorous_plan_gives_each_pair_the_rigorous_runs_in_its_own_units():
    pairs = channel_pairs(3)
    plan = pairwise_plan(pairs, CONFIG, repeats=1, rigorous=True, n=1000, gammas=[1, 2, 3])
    per_pair = 1 + 2 + 3 + 3  # the gamma chunks and three shuffled-pairs controls
    assert len(plan.runs) == per_pair * len(pairs)
    assert len({r.run_id for r in plan.runs}) == len(plan.runs)
    for p, pair in enumerate(pairs):
        runs = plan.runs[p * per_pair : (p + 1) * per_pair]
        assert {pair_of(r) for r in runs} == {pair}
        assert sum(r.control for r in runs) == 3
        assert all(r.view.rows is not None for r in runs)
    units = [{r.unit for r in plan.runs if pair_of(r) == pair} for pair in pairs]
    assert all(a.isdisjoint(b) for a in units for b in units if a is not b)


# ----- the reducer, on made-up outcomes -----


def test_reducer_groups_runs_by_pair_and_the_matrix_is_symmetric_with_a_nan_diagonal():
    pairs = channel_pairs(3)
    plan = pairwise_plan(pairs, CONFIG, repeats=2)
    truth = {(0, 1): 1.0, (0, 2): 0.2, (1, 2): 0.5}  # bits
    outcomes = [_outcome(truth[pair_of(r)] * NATS_PER_BIT + 0.01 * r.repeat) for r in plan.runs]
    points = reduce_pairwise(plan, Trained(outcomes, "completed", "cpu", 1), pairs)
    assert [(p.values["x"], p.values["y"]) for p in points] == pairs
    assert all(p.n_runs == 2 for p in points)
    result = nmi.PairwiseResult(
        within=True,
        x_names=("a", "b", "c"),
        y_names=("a", "b", "c"),
        points=points,
        units="bits",
        rigorous=False,
        repeats=2,
        settings=CONFIG.to_dict(),
        n_samples=500,
        stop_reason="completed",
        elapsed=0.0,
        device="cpu",
    )
    m = result.matrix
    assert np.isnan(np.diag(m)).all()
    np.testing.assert_allclose(m, m.T)
    assert m[0, 1] == pytest.approx(1.0 + 0.005 / NATS_PER_BIT, abs=1e-9)
    assert m[2, 1] == pytest.approx(0.5 + 0.005 / NATS_PER_BIT, abs=1e-9)
    assert np.isfinite(result.errors[0, 1]) and result.errors[0, 1] > 0
    assert result.point(1, 0) is result.point(0, 1)
    frame = result.to_frame()
    assert list(frame["x_name"]) == ["a", "a", "b"] and list(frame["y_name"]) == ["b", "c", "c"]
    assert result.is_reliable and "a-b: 1.00" in result.summary()


def test_flags_are_summarised_once_per_code_with_the_pairs_named():
    pairs = channel_pairs(4)
    plan = pairwise_plan(pairs, CONFIG, repeats=2)
    outcomes = [
        _outcome(np.nan, "diverged") if pair_of(r) in ((0, 3), (1, 3)) else _outcome(0.3)
        for r in plan.runs
    ]
    points = reduce_pairwise(plan, Trained(outcomes, "completed", "cpu", 1), pairs)
    result = nmi.PairwiseResult(
        True, ("x0", "x1", "x2", "x3"), ("x0", "x1", "x2", "x3"), points, "bits", False, 2,
        CONFIG.to_dict(), 500, "completed", 0.0, "cpu",
    )  # fmt: skip
    codes = [f.code for f in result.flags]
    assert codes.count("unstable_runs") == 1 and codes.count("one_run") == 1
    unstable = next(f for f in result.flags if f.code == "unstable_runs")
    assert unstable.message.startswith("2 of 6 pairs (x0-x3, x1-x3)")
    assert not result.is_reliable
    assert np.isnan(result.matrix[0, 3]) and np.isfinite(result.matrix[0, 1])


# ----- real training, tiny -----


def test_a_tiny_map_finds_the_linked_pair_and_round_trips(tmp_path):
    x = _linked()
    result = nmi.pairwise(x, epochs=3, batch_size=64, lr=5e-3, seed=0, threads=1)
    m = result.matrix
    assert m.shape == (4, 4) and np.isnan(np.diag(m)).all()
    assert np.nanargmax(m[0]) == 1 and m[0, 1] > 0.4 and np.nanmax(m[2:, 2:]) < 0.2
    assert [w.startswith("no pair has an error bar") for w in result.warnings] == [True]
    path = tmp_path / "map.json"
    result.save(path)
    again = nmi.load(path)
    assert isinstance(again, nmi.PairwiseResult)
    np.testing.assert_array_equal(again.matrix, m)
    assert again.flags == result.flags and again.summary() == result.summary()


# Four Gaussian channels: pairwise MI 0.737, 0.208, 0.068, 0.029 bits and two zeros.
GAUSSIAN_COV = np.array([[1, 0.8, 0.3, 0], [0.8, 1, 0.2, 0], [0.3, 0.2, 1, 0.5], [0, 0, 0.5, 1]])


def test_the_default_map_recovers_closed_form_gaussian_pair_mi():
    # At the defaults (the smaller network of PAIRWISE_NETWORK, early stopping), every pair
    # within 0.04 bits of its closed form (measured on seeds 0-2: at most 0.026 off; 0.028
    # with the estimate's default network); a critic too small misses by more (embedding 1:
    # the 0.737-bit pair 0.18 low).
    x = np.random.default_rng(0).multivariate_normal(np.zeros(4), GAUSSIAN_COV, size=3000)
    result = nmi.pairwise(x, seed=0, threads=1)
    assert {k: result.settings[k] for k in PAIRWISE_NETWORK} == PAIRWISE_NETWORK
    for i, j in channel_pairs(4):
        truth = gaussian_cmi(GAUSSIAN_COV, [i], [j])
        assert result.matrix[i, j] == pytest.approx(truth, abs=0.04), (i, j)


def test_the_pair_network_gives_way_to_named_sizes_and_to_a_config():
    x = _linked(300)
    named = nmi.pairwise(x[:, :2], epochs=1, seed=0, hidden_dim=8)
    assert {k: named.settings[k] for k in PAIRWISE_NETWORK} == {**PAIRWISE_NETWORK, "hidden_dim": 8}
    own = nmi.pairwise(x[:, :2], config=EstimateConfig(epochs=1, seed=0))
    for name in PAIRWISE_NETWORK:
        assert own.settings[name] == getattr(EstimateConfig(), name) != PAIRWISE_NETWORK[name]


def test_x_against_y_gives_a_rectangular_matrix_with_dataframe_names():
    pd = pytest.importorskip("pandas")
    x = _linked(600)
    frame = pd.DataFrame(x[:, :2], columns=["left", "right"])
    result = nmi.pairwise(frame, x[:, 2:], epochs=2, batch_size=64, seed=0, repeats=2)
    assert result.matrix.shape == (2, 2) and not result.within
    assert result.x_names == ("left", "right") and result.y_names == ("y0", "y1")
    assert np.isfinite(result.errors).all()
    assert len(result.to_frame()) == 4


# ----- mistakes, one sentence each -----


def test_one_channel_without_y_is_refused_in_one_sentence():
    with pytest.raises(nmi.InvalidDataError, match="at least 2 channels") as info:
        nmi.pairwise(np.random.default_rng(0).normal(size=(300, 1)))
    assert str(info.value).count(". ") == 0


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"gammas": [1, 2]}, "only apply to nmi.pairwise with rigorous=True"),
        ({"epoch": 3}, "did you mean 'epochs'"),
        ({"repeats": 0}, "repeats"),
        ({"permutations": 9}, "Unknown option 'permutations'"),
        ({"embedding": "gru"}, "pairs single channels"),
    ],
)
def test_bad_options_are_refused_before_training(options, match):
    with pytest.raises(nmi.OptionError, match=match):
        nmi.pairwise(_linked(300), **options)


def test_a_stopped_map_keeps_the_pairs_that_trained_and_is_flagged_partial():
    pairs = channel_pairs(4)
    plan = pairwise_plan(pairs, CONFIG, repeats=1)
    outcomes = [_outcome(0.3), _outcome(0.4), _outcome(0.2, "cancelled")]
    points = reduce_pairwise(plan, Trained(outcomes, "cancelled", "cpu", 1), pairs)
    assert [(p.values["x"], p.values["y"]) for p in points] == pairs[:3]
    names = ("x0", "x1", "x2", "x3")
    result = nmi.PairwiseResult(
        True, names, names, points, "bits", False, 1, CONFIG.to_dict(), 500, "cancelled", 0.0,
        "cpu",
    )  # fmt: skip
    assert result.flags[0].code == "partial" and "3 of 6 pairs" in result.flags[0].message
    assert not result.is_reliable and np.isnan(result.matrix[2, 3])
