"""nmi.sweep (issue 19): grid checks before training, the table of points, save/load,
rigorous points."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nmi_jupyter as nmi
from nmi_jupyter.engine.sweep import check_grid, grid_points
from nmi_jupyter.engine.verdict import sweep_flags

TINY = {"epochs": 3, "hidden_dim": 8, "batch_size": 64, "seed": 0, "threads": 1}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(800, 2, 1.0, seed=0)


@pytest.fixture(scope="module")
def two_by_two(data):
    return nmi.sweep(*data, grid={"embedding_dim": [1, 4], "lr": [1e-3, 3e-3]}, repeats=2, **TINY)


@pytest.mark.parametrize(
    ("grid", "options", "message"),
    [
        ({"embeding_dim": [1, 2]}, {}, "did you mean 'embedding_dim'"),
        ({"embedding_dim": [1, 0]}, {}, "embedding_dim"),
        ({"embedding_dim": []}, {}, "empty"),
        ({"embedding_dim": 4}, {}, "list of values"),
        ({"embedding_dim": [2, 2]}, {}, "twice"),
        ({"seed": [0, 1]}, {}, "repeats"),
        ({"gammas": [[1, 2]]}, {}, "not an option of a training run"),
        ([1, 2], {}, "grid must be a dict"),
        ({"embedding_dim": [1, 2]}, {"embedding_dim": 3}, "both on the grid"),
        ({"embedding_dim": [1, 2]}, {"gammas": [1, 2]}, "rigorous=True"),
        ({"embedding_dim": [1, 2]}, {"epoch": 3}, "did you mean 'epochs'"),
        ({"critic": ["separable", "concat"]}, {"batch_size": 5000}, "GiB"),
    ],
)
def test_grid_mistakes_are_sentences_before_any_training(data, grid, options, message):
    events = []
    with pytest.raises(nmi.OptionError, match=message):
        nmi.sweep(*data, grid=grid, observer=events.append, **{**TINY, **options})
    assert events == []


def test_grid_values_go_through_the_option_table():
    grid = check_grid(
        {"estimator": [np.str_("smile")], "lr": [np.float32(0.25)], "epochs": range(1, 3)}
    )
    assert grid == {"estimator": ["smile"], "lr": [0.25], "epochs": [1, 2]}
    assert type(grid["epochs"][0]) is int
    points = grid_points({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(points) == 6 and points[1] == {"a": 1, "b": "y"}


def test_frame_has_one_row_per_point_with_grid_keys_and_verdict(two_by_two):
    frame = two_by_two.to_frame()
    assert len(frame) == 4
    assert list(frame.columns[:7]) == [
        "embedding_dim",
        "lr",
        "mi",
        "mi_error",
        "n_runs",
        "verdict",
        "is_reliable",
    ]
    assert list(frame["embedding_dim"]) == [1, 1, 4, 4] and list(frame["n_runs"]) == [2] * 4
    assert (frame["mi_error"] > 0).all() and np.isfinite(frame["mi"]).all()
    runs = two_by_two.runs_frame()
    assert len(runs) == 8 and {"embedding_dim", "lr", "repeat", "seed", "mi"} <= set(runs.columns)
    # the k-th repeat has the same seed at every point (the same split)
    assert runs.groupby("repeat")["seed"].nunique().eq(1).all()


def test_points_mean_and_standard_error_of_their_runs(two_by_two):
    point = two_by_two.points[0]
    mis = np.array([r.mi for r in point.runs])
    assert point.mi == pytest.approx(mis.mean())
    assert point.mi_error == pytest.approx(mis.std(ddof=1) / math.sqrt(2))


def test_save_and_load_round_trip(two_by_two, tmp_path):
    path = tmp_path / "sweep.json"
    two_by_two.save(path)
    back = nmi.load(path)
    assert isinstance(back, nmi.SweepResult)
    assert back.grid == two_by_two.grid
    np.testing.assert_allclose(back.mi, two_by_two.mi)
    np.testing.assert_allclose(back.mi_error, two_by_two.mi_error)
    assert back.to_frame().equals(two_by_two.to_frame())
    assert back.summary() == two_by_two.summary()


def test_summary_html_and_plot(two_by_two):
    import matplotlib

    matplotlib.use("Agg")
    assert "embedding_dim=4, lr=0.003" in two_by_two.summary()
    assert "nmi_jupyter sweep" in two_by_two._repr_html_()
    ax = two_by_two.plot()
    assert ax.get_xlabel() == "embedding_dim" and len(ax.get_legend().get_texts()) == 2


def test_rigorous_points_on_a_two_point_grid(data):
    result = nmi.sweep(
        *data,
        grid={"embedding_dim": [2, 4]},
        rigorous=True,
        gammas=[1, 2],
        control=False,
        **TINY,
    )
    frame = result.to_frame()
    assert len(frame) == 2 and list(frame["n_runs"]) == [3, 3]
    for point in result.points:
        assert isinstance(point.rigorous, nmi.RigorousResult)
        assert point.mi == point.rigorous.mi and point.flags == point.rigorous.flags
    assert set(result.runs_frame()["gamma"]) == {1, 2}


@pytest.mark.parametrize("batched", [False, True])
def test_a_cancelled_sweep_keeps_the_finished_points_and_is_flagged(data, batched):
    """One after another, the points finished before the stop are kept; in one stack of
    widths (batched), every point with a finished epoch is kept, each run partial."""
    token = nmi.CancelToken()
    ended = []

    def observe(event):
        if not batched and isinstance(event, nmi.RunEnded):
            ended.append(event.run_id)
            if len(ended) == 2:  # the first point's two runs
                token.cancel()
        if batched and isinstance(event, nmi.EpochEnded) and event.epoch == 1:
            token.cancel()

    result = nmi.sweep(
        *data,
        grid={"embedding_dim": [1, 2, 3]},
        repeats=2,
        batched=batched,
        observer=observe,
        cancel=token,
        **TINY,
    )
    assert result.stop_reason == "cancelled"
    assert "partial" in [f.code for f in result.flags] and not result.is_reliable
    if batched:
        assert len(result.points) == 3
        assert all(r.partial for p in result.points for r in p.runs)
    else:
        assert 1 <= len(result.points) < 3


def test_sweep_flags_say_how_far_a_stopped_sweep_got():
    assert sweep_flags(3, 3, "completed") == ()
    (flag,) = sweep_flags(1, 3, "interrupted")
    assert flag.code == "partial" and "1 of 3" in flag.message
