"""The batched trainer means what the one-run-at-a-time trainer means."""

import numpy as np
import pytest
import torch

import nmi_jupyter as nmi
from nmi_jupyter.engine.batched import StackedAdam, max_stack
from nmi_jupyter.engine.config import EstimateConfig

FAST = {"epochs": 4, "batch_size": 32, "hidden_dim": 16, "embedding_dim": 8, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=1500, dim=2, mi=1.0, seed=0)


def test_stacked_adam_is_independent_torch_adams():
    torch.manual_seed(0)
    stacked = torch.randn(3, 4, 5)
    separate = [stacked[k].clone().requires_grad_() for k in range(3)]
    optimisers = [torch.optim.Adam([p], lr=1e-2) for p in separate]
    adam = StackedAdam([stacked], lr=1e-2)
    for step in range(5):
        grads = torch.randn(3, 4, 5) * (step + 1)
        adam.step([stacked], [grads])
        for k, (p, opt) in enumerate(zip(separate, optimisers, strict=True)):
            p.grad = grads[k].clone()
            opt.step()
    for k in range(3):
        torch.testing.assert_close(stacked[k], separate[k].detach(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_stacked_adam_takes_each_runs_own_learning_rate(weight_decay):
    torch.manual_seed(0)
    stacked = torch.randn(3, 4, 5)
    scales = [1.0, 0.25, 0.5]
    separate = [stacked[k].clone().requires_grad_() for k in range(3)]
    optimisers = [
        torch.optim.AdamW([p], lr=1e-2 * scales[k], weight_decay=weight_decay)
        for k, p in enumerate(separate)
    ]
    adam = StackedAdam([stacked], lr=1e-2, weight_decay=weight_decay)
    for step in range(5):
        grads = torch.randn(3, 4, 5) * (step + 1)
        adam.step([stacked], [grads], scales)
        for k, (p, opt) in enumerate(zip(separate, optimisers, strict=True)):
            p.grad = grads[k].clone()
            opt.step()
    for k in range(3):
        torch.testing.assert_close(stacked[k], separate[k].detach(), rtol=1e-5, atol=1e-6)


def test_a_runs_step_does_not_depend_on_the_other_runs_rates():
    torch.manual_seed(1)
    start = torch.randn(3, 4, 5)
    grads = [torch.randn(3, 4, 5) for _ in range(4)]
    finals = {}
    for scales in ([1.0, 0.25, 0.25], [0.25, 0.25, 0.25], [1.0, 1.0, 1.0], [1.0, 0.25, 1.0]):
        stacked = start.clone()
        adam = StackedAdam([stacked], lr=1e-2)
        for g in grads:
            adam.step([stacked], [g], scales)
        finals[tuple(scales)] = stacked
    # bit for bit: run 1 at 0.25 beside a run at 1 or beside runs at 0.25; run 0 at 1 likewise
    assert torch.equal(finals[(1.0, 0.25, 0.25)][1], finals[(0.25, 0.25, 0.25)][1])
    assert torch.equal(finals[(1.0, 0.25, 0.25)][0], finals[(1.0, 1.0, 1.0)][0])
    assert torch.equal(finals[(1.0, 0.25, 1.0)][2], finals[(1.0, 1.0, 1.0)][2])


def test_dropping_a_run_keeps_the_others_state():
    params = [torch.zeros(3, 2)]
    adam = StackedAdam(params, lr=0.1)
    adam.step(params, [torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])])
    adam.keep(torch.tensor([0, 2]))
    assert adam.exp_avg[0].shape == (2, 2)
    torch.testing.assert_close(adam.exp_avg[0][:, 0], torch.tensor([0.1, 0.3]))


def test_same_seeds_give_the_same_runs_as_the_sequential_path(data):
    # Same initialisation and minibatch order: only float summation order differs.
    b = nmi.rigorous(*data, gammas=[1, 2, 3], seed=0, batched=True, **FAST)
    s = nmi.rigorous(*data, gammas=[1, 2, 3], seed=0, batched=False, **FAST)
    assert [(r.gamma, r.chunk) for r in b.runs] == [(r.gamma, r.chunk) for r in s.runs]
    for rb, rs in zip(b.runs, s.runs, strict=True):
        assert rb.epochs_run == rs.epochs_run and rb.best_epoch == rs.best_epoch
        np.testing.assert_allclose(rb.history.val, rs.history.val, atol=2e-4)
        assert rb.mi == pytest.approx(rs.mi, abs=2e-4)
    assert b.mi == pytest.approx(s.mi, abs=1e-3)


def test_batched_and_sequential_agree_in_distribution(data):
    # Different seeds: per-gamma means of the two paths agree within their
    # seed-to-seed spread (3 standard errors of the difference).
    opts = {**FAST, "epochs": 15, "patience": 4}
    b = nmi.rigorous(*data, gammas=[2, 4, 6], seed=1, batched=True, **opts)
    s = nmi.rigorous(*data, gammas=[2, 4, 6], seed=2, batched=False, **opts)
    for g in (2, 4, 6):
        vb = np.array([r.mi for r in b.runs if r.gamma == g])
        vs = np.array([r.mi for r in s.runs if r.gamma == g])
        se = np.sqrt(vb.var(ddof=1) / len(vb) + vs.var(ddof=1) / len(vs))
        assert abs(vb.mean() - vs.mean()) < 3 * se + 0.02, (g, vb, vs)


def test_runs_stop_independently(data):
    events = []
    rr = nmi.rigorous(
        *data,
        gammas=[1, 5],
        seed=3,
        observer=events.append,
        **{**FAST, "epochs": 40, "patience": 2},
    )
    epochs = {r.epochs_run for r in rr.runs}
    assert len(epochs) > 1  # early stopping is per run
    ended = [e for e in events if isinstance(e, nmi.RunEnded) and not e.control]
    assert len(ended) == 6 and {e.stop_reason for e in ended} <= {"early_stopping", "max_epochs"}
    for run in rr.runs:  # a stopped run produced no further epochs
        run_epochs = [
            e
            for e in events
            if isinstance(e, nmi.EpochEnded) and (e.gamma, e.chunk) == (run.gamma, run.chunk)
        ]
        assert len(run_epochs) == run.epochs_run


def test_concat_critics_are_split_into_stacks_that_fit_in_memory(data):
    assert max_stack(EstimateConfig(critic="concat"), 128) < 55
    assert max_stack(EstimateConfig(), 128) >= 55
    rr = nmi.rigorous(*data, gammas=[1, 2], seed=0, critic="concat", **FAST)
    assert len(rr.runs) == 3 and np.isfinite(rr.mi)


def test_every_estimator_runs_batched(data):
    for estimator in ("nwj", "tuba", "js", "smile"):
        rr = nmi.rigorous(*data, gammas=[1, 2], seed=0, estimator=estimator, **FAST)
        assert np.isfinite(rr.mi), estimator


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("batched", [True, False])
def test_rigorous_on_cuda(data, batched):
    rr = nmi.rigorous(*data, gammas=[1, 2], seed=0, batched=batched, **{**FAST, "device": "cuda"})
    assert rr.device.startswith("cuda") and np.isfinite(rr.mi)


@pytest.mark.parametrize("critic", ["separable", "bilinear"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_direct_stacked_scores_equal_vmapped_modules(critic, activation):
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    from nmi_jupyter.engine.models import build_critic, stacked_scores

    config = EstimateConfig(
        critic=critic, activation=activation, n_layers=3, hidden_dim=8, embedding_dim=4
    )
    torch.manual_seed(0)
    critics = [build_critic(config, 3, 2) for _ in range(4)]
    params, buffers = stack_module_state(critics)
    base = copy.deepcopy(critics[0]).to("meta")
    x, y = torch.randn(4, 6, 3), torch.randn(4, 6, 2)
    expected = vmap(lambda p, b, xx, yy: functional_call(base, (p, b), (xx, yy)))(
        params, buffers, x, y
    )
    torch.testing.assert_close(stacked_scores(config)(params, x, y), expected)
    for k in range(4):
        torch.testing.assert_close(expected[k], critics[k](x[k], y[k]))
    assert stacked_scores(EstimateConfig(critic="concat")) is None


@pytest.mark.parametrize("critic", ["separable", "bilinear", "hybrid"])
def test_stacked_gradients_equal_the_modules_and_are_laid_out_like_the_weights(critic):
    # The stacked trainer's optimiser needs each gradient laid out like its parameter;
    # the embeddings' weight gradients come out so (no transposed copy per step).
    from torch.func import stack_module_state

    from nmi_jupyter.engine.models import build_critic, stacked_scores

    config = EstimateConfig(critic=critic, n_layers=2, hidden_dim=8, embedding_dim=4)
    torch.manual_seed(0)
    critics = [build_critic(config, 3, 2) for _ in range(3)]
    params, _ = stack_module_state(critics)
    x, y = torch.randn(3, 6, 3), torch.randn(3, 6, 2)
    names = [n for n in params if n.startswith(("g.", "h."))]
    grads = torch.autograd.grad(
        stacked_scores(config)(params, x, y, True).square().sum(), [params[n] for n in names]
    )
    for name, grad in zip(names, grads, strict=True):
        assert grad.is_contiguous(), name
        for k, c in enumerate(critics):
            (want,) = torch.autograd.grad(c(x[k], y[k]).square().sum(), [c.get_parameter(name)])
            torch.testing.assert_close(grad[k], want)


def test_an_observer_interrupting_every_run_end_loses_no_run(data):
    """The first KeyboardInterrupt (at a run's normal end) stops training; the runs still
    training end "interrupted" with their best checkpoint so far, and the observer's
    further KeyboardInterrupts while they are finished change nothing."""
    from nmi_jupyter.engine.plan import rigorous_plan
    from nmi_jupyter.engine.trainer import train_plan

    config = EstimateConfig(seed=0, **FAST)
    plan = rigorous_plan(len(data[0]), [2, 5], 1, False, config)  # gamma 5 runs end first
    ended = []

    def observer(event):
        if isinstance(event, nmi.RunEnded):
            ended.append(event)
            raise KeyboardInterrupt

    try:
        outcomes = train_plan(plan, *data, torch.device("cpu"), observer=observer)
    except KeyboardInterrupt:
        pytest.fail("a KeyboardInterrupt escaped: the runs were lost")
    assert len(outcomes) == len(plan.runs) == 7 and len(ended) == 7
    # The first gamma = 5 run ends and interrupts before the others commit their last epoch.
    assert [o.stop_reason for o in outcomes] == ["interrupted"] * 2 + ["max_epochs"] + [
        "interrupted"
    ] * 4
    assert [o.epochs_run for o in outcomes] == [1, 1, 4, 3, 3, 3, 3]
    for outcome, event in zip(outcomes, sorted(ended, key=lambda e: e.run_id), strict=True):
        assert outcome.stop_reason == event.stop_reason
        assert outcome.best_epoch >= 0 and np.isfinite(outcome.mi_train)


def test_same_seeds_give_the_same_hybrid_runs_as_the_sequential_path(data):
    # The hybrid critic's direct stacked form trains what its module trains.  Its
    # first epoch agrees to ~1e-6; the pair MLP amplifies the float summation order a
    # little more than a dot product does over later steps (measured up to 4e-4).
    opts = {**FAST, "embedding_dim": 2, "critic": "hybrid"}
    b = nmi.rigorous(*data, gammas=[1, 2], seed=0, batched=True, **opts)
    s = nmi.rigorous(*data, gammas=[1, 2], seed=0, batched=False, **opts)
    for rb, rs in zip(b.runs, s.runs, strict=True):
        assert rb.epochs_run == rs.epochs_run and rb.best_epoch == rs.best_epoch
        assert rb.history.val[0] == pytest.approx(rs.history.val[0], abs=1e-5)
        np.testing.assert_allclose(rb.history.val, rs.history.val, atol=2e-3)
        assert rb.mi == pytest.approx(rs.mi, abs=2e-3)
    assert b.mi == pytest.approx(s.mi, abs=2e-3) and np.isfinite(b.mi)
