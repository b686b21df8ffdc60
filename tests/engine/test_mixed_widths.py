"""Runs of different embedding widths in one stack (issue 19, speed).

The stacked trainer builds each run's critic at its own ``embedding_dim`` and zero-pads
it to the widest of the stack; the padded entries get gradient exactly 0, so each run
trains as it would alone.  Alone and stacked differ only by float rounding
(a product with a zero-padded inner dimension may round once less, as a fused
multiply-add): measured 1e-5 nats or less for the separable and bilinear critics after
four epochs, so 1e-4 nats leaves room; the hybrid critic amplifies rounding as its own
two trainers do (see HYBRID_TOL).  That nothing leaks is tested exactly: the padded
entries stay 0.
"""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

import nmi_jupyter as nmi
from nmi_jupyter.engine import trainer
from nmi_jupyter.engine.batched import _Stack, cpu_stack, max_stack
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.plan import Plan, RunSpec, View, combined, repeats_plan, stack_key
from nmi_jupyter.engine.runs import prepare_view
from nmi_jupyter.engine.sweep import HYBRID_DIMENSIONALITY_DEFAULTS, grid_points

CPU = torch.device("cpu")
WIDTHS = (1, 2, 4)
TOL = 1e-4  # nats (float rounding; see the module docstring)
# The hybrid critic amplifies float rounding as it leaves 0 (Adam turns rounding-sized
# differences of near-zero gradients into whole steps): a width-1 run stacked with
# widths 2 and 4 differed from the run alone by up to 2.6e-3 nats after one epoch and
# 5.5e-3 after three (measured, data seeds 0-2; the pair MLP without its dot product
# barely left 0 in one epoch, and its batched and one-at-a-time trainers differed by
# 3e-2 after three).  That nothing leaks is tested exactly below (padding stays 0).
HYBRID_TOL = 1e-2
TINY = {"epochs": 3, "hidden_dim": 8, "batch_size": 64, "seed": 0, "threads": 1}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=600, dim=3, mi=2.0, seed=0)


def _config(critic: str, **changes) -> EstimateConfig:
    options = {"epochs": 4, "batch_size": 32, "hidden_dim": 16, "lr": 5e-3, "patience": 50}
    return EstimateConfig(critic=critic, seed=0, **{**options, **changes})


def _mixed_plan(config: EstimateConfig) -> Plan:
    runs = tuple(
        RunSpec(k, seed=10 + k, config=config.replace(embedding_dim=w))
        for k, w in enumerate(WIDTHS)
    )
    return Plan(runs, config)


@pytest.fixture
def stack_sizes(monkeypatch):
    """The sizes of the stacks the trainer trains (a spy on train_batched)."""
    sizes: list[int] = []
    real = trainer.train_batched

    def spy(runs, config, **kwargs):
        sizes.append(len(runs))
        return real(runs, config, **kwargs)

    monkeypatch.setattr(trainer, "train_batched", spy)
    return sizes


@pytest.mark.parametrize(
    ("critic", "changes", "tol"),
    [
        ("separable", {}, TOL),
        ("bilinear", {}, TOL),
        ("separable", {"estimator": "smile", "weight_decay": 1e-2}, TOL),
        ("hybrid", {"epochs": 1}, HYBRID_TOL),
        ("hybrid", {"epochs": 1, "spectral_norm": True, "weight_decay": 1e-2}, HYBRID_TOL),
    ],
)
def test_a_stack_of_widths_trains_each_run_as_alone(data, stack_sizes, critic, changes, tol):
    plan = _mixed_plan(_config(critic, **changes))
    mixed = trainer.train_plan(plan, *data, CPU)
    assert stack_sizes == [3]
    alone = [trainer.train_plan(Plan((run,), plan.config), *data, CPU)[0] for run in plan.runs]
    assert len({round(o.mi_train, 3) for o in mixed}) == 3  # each width its own MI
    for a, b in zip(mixed, alone, strict=True):
        assert a.epochs_run == b.epochs_run == plan.config.epochs
        assert a.mi_train == pytest.approx(b.mi_train, abs=tol)
        assert a.mi_val == pytest.approx(b.mi_val, abs=tol)
        np.testing.assert_allclose(a.val, b.val, atol=tol)
    # the widest run is not padded: stacked with narrower ones it is the run alone
    assert mixed[-1].mi_train == pytest.approx(alone[-1].mi_train, abs=1e-6)


@pytest.mark.parametrize("critic", ["separable", "bilinear", "hybrid"])
def test_padded_critics_score_as_their_own_width(data, critic):
    """Before any step: each run's scores in the padded stack are those of its critic
    alone (same seed, own width), to float rounding."""
    plan = _mixed_plan(_config(critic))
    runs = [prepare_view(r, *data, plan.config_of(r), CPU) for r in plan.runs]
    x, y = data[0][:32], data[1][:32]
    xs = torch.as_tensor(x, dtype=torch.float32).expand(3, -1, -1)
    ys = torch.as_tensor(y, dtype=torch.float32).expand(3, -1, -1)
    stack = _Stack(runs, plan.config, None)
    with torch.no_grad():
        mixed = stack.scores_of(stack.params, stack.buffers, xs, ys)
        for k, run in enumerate(runs):
            alone = _Stack([run], plan.config, None)
            own = alone.scores_of(alone.params, alone.buffers, xs[:1], ys[:1])[0]
            torch.testing.assert_close(mixed[k], own, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("critic", "changes"),
    [
        ("separable", {"precision": "bfloat16"}),
        ("bilinear", {"weight_decay": 1e-2}),
        ("hybrid", {"spectral_norm": True}),
    ],
)
def test_the_padding_stays_exactly_zero(data, critic, changes):
    """A leak (padding not zero, or a gradient reaching it) would show here: the padded
    rows, columns and biases of every checkpoint are exactly 0 after training."""
    plan = _mixed_plan(_config(critic, **changes))
    runs = [prepare_view(r, *data, plan.config_of(r), CPU) for r in plan.runs]
    stack = _Stack(runs, plan.config, None)
    stack.start()
    while stack.active:
        stack.step()
    widest = max(WIDTHS)
    checked = 0
    for width, state in zip(WIDTHS, stack.states, strict=True):
        assert state.stop_reason == "max_epochs" and state.checkpoints
        for checkpoint in state.checkpoints.values():
            padded = {
                "g.4.weight": checkpoint["g.4.weight"][width:],
                "g.4.bias": checkpoint["g.4.bias"][width:],
                "h.4.weight": checkpoint["h.4.weight"][width:],
                "h.4.bias": checkpoint["h.4.bias"][width:],
            }
            if critic == "bilinear":
                padded["weight rows"] = checkpoint["weight"][width:]
                padded["weight columns"] = checkpoint["weight"][:, width:]
            if critic == "hybrid":
                padded["x_in"] = checkpoint["pair.x_in.weight"][:, width:]
                padded["y_in"] = checkpoint["pair.y_in.weight"][:, width:]
            assert checkpoint["g.4.weight"].shape[0] == widest
            for name, values in padded.items():
                assert torch.count_nonzero(values) == 0, (width, name)
                checked += values.numel()
            assert torch.count_nonzero(checkpoint["g.4.weight"][:width]) > 0
    assert checked > 0


def test_a_sweep_over_embedding_dim_gives_the_numbers_of_one_point_at_a_time(data, stack_sizes):
    grid = {"embedding_dim": [1, 2, 4]}
    started = []

    def observe(event):
        if isinstance(event, nmi.RunStarted):
            started.append(event.run_id)

    whole = nmi.sweep(*data, grid=grid, repeats=2, observer=observe, **TINY)
    assert stack_sizes == [6] and sorted(started) == list(range(6))
    stack_sizes.clear()
    points = [nmi.sweep(*data, grid={"embedding_dim": [k]}, repeats=2, **TINY) for k in [1, 2, 4]]
    assert stack_sizes == [2, 2, 2]
    for point, alone in zip(whole.points, points, strict=True):
        assert point.values == alone.points[0].values
        assert point.settings == alone.points[0].settings
        assert point.mi == pytest.approx(alone.points[0].mi, abs=TOL)
        assert [r.mi for r in point.runs] == pytest.approx(
            [r.mi for r in alone.points[0].runs], abs=TOL
        )
    assert whole.stop_reason == "completed" and len(whole.points) == 3


def test_a_rigorous_sweep_over_embedding_dim_stacks_every_point(data, stack_sizes):
    options = {"rigorous": True, "gammas": [1, 2], "control": False, **TINY}
    whole = nmi.sweep(*data, grid={"embedding_dim": [2, 4]}, **options)
    assert stack_sizes == [6]
    for k, point in zip([2, 4], whole.points, strict=True):
        alone = nmi.sweep(*data, grid={"embedding_dim": [k]}, **options).points[0]
        assert point.rigorous.mi == pytest.approx(alone.rigorous.mi, abs=TOL)
        assert [r.mi for r in point.rigorous.runs] == pytest.approx(
            [r.mi for r in alone.rigorous.runs], abs=TOL
        )
        assert point.settings == alone.settings


def test_points_of_other_settings_train_one_group_after_another(data, stack_sizes):
    """lr is shared by a stack: consecutive grid points of one lr stack their widths,
    other points train apart, in grid order (run ids in consecutive blocks per point, as
    the live panel's PointMap reads them)."""
    started = []

    def observe(event):
        if isinstance(event, nmi.RunStarted):
            started.append(event.run_id)

    grid = {"lr": [1e-3, 3e-3], "embedding_dim": [1, 4]}
    result = nmi.sweep(*data, grid=grid, repeats=2, observer=observe, **TINY)
    assert stack_sizes == [4, 4] and started == list(range(8))
    assert [p.values for p in result.points] == grid_points(grid)
    alone = nmi.sweep(*data, grid={"embedding_dim": [4], "lr": [3e-3]}, repeats=2, **TINY)
    assert result.points[3].mi == pytest.approx(alone.points[0].mi, abs=TOL)
    stack_sizes.clear()
    nmi.sweep(*data, grid={"embedding_dim": [1, 4], "lr": [1e-3, 3e-3]}, repeats=2, **TINY)
    assert stack_sizes == [2, 2, 2, 2]  # no two consecutive points share an lr


def test_dimensionality_stacks_every_dim_and_keeps_its_numbers(stack_sizes):
    x, y = nmi.generators.correlated_gaussians(n=600, dim=2, mi=1.0, seed=1)
    dims = [1, 2, 3, 4]
    result = nmi.dimensionality(x, y, embedding_dims=dims, splits=2, **TINY)
    assert stack_sizes == [8]  # max_stack of the hybrid critic at batch 64 holds them all
    per_point = [
        nmi.sweep(
            x,
            y,
            grid={"embedding_dim": [k]},
            repeats=2,
            critic="hybrid",
            **HYBRID_DIMENSIONALITY_DEFAULTS,
            **TINY,
        ).points[0]
        for k in dims
    ]
    np.testing.assert_allclose(result.sweep.mi, [p.mi for p in per_point], atol=TOL)


def test_a_plan_of_per_run_settings_is_plain_data_for_executors(data):
    plan = combined(
        [
            repeats_plan(_config("separable", embedding_dim=w), [View()] * 2, first_run_id=2 * k)
            for k, w in enumerate(WIDTHS)
        ]
    )
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert plan.runs[0].config is None and plan.runs[2].config.embedding_dim == 2
    assert len({stack_key(plan.config_of(r)) for r in plan.runs}) == 1
    in_process = nmi.sweep(*data, grid={"embedding_dim": [1, 2]}, repeats=2, **TINY)
    with ThreadPoolExecutor(1) as pool:
        on_pool = nmi.sweep(*data, grid={"embedding_dim": [1, 2]}, repeats=2, executor=pool, **TINY)
    np.testing.assert_allclose(on_pool.mi, in_process.mi, atol=TOL)


def test_cpu_stacks_of_pair_critics_stay_small(data):
    """On a CPU a pair-MLP stack is bound by memory traffic (batched.cpu_stack): its
    (K, B, B, hidden) float32 activations stay under 6 MiB, one run at B 128, hidden 64,
    48 at B 64, hidden 8."""
    hybrid = EstimateConfig(critic="hybrid", hidden_dim=64, batch_size=128, seed=0)
    assert cpu_stack(hybrid, 128, CPU) == 1 < max_stack(hybrid, 128)
    small = hybrid.replace(hidden_dim=8, batch_size=64)
    assert cpu_stack(small, 64, CPU) == 48
    assert cpu_stack(hybrid, 128, torch.device("cuda")) > max_stack(hybrid, 128)
    assert cpu_stack(EstimateConfig(), 128, CPU) > max_stack(EstimateConfig(), 128)
    runs = [
        prepare_view(RunSpec(k, seed=k), *data, hybrid.replace(embedding_dim=1 + k % 3), CPU)
        for k in range(10)
    ]
    assert [len(s) for s in trainer.stacks(runs, None)] == [1] * 10
    runs = [
        prepare_view(RunSpec(k, seed=k), *data, small.replace(embedding_dim=1 + k % 3), CPU)
        for k in range(10)
    ]
    assert [len(s) for s in trainer.stacks(runs, None)] == [10]
