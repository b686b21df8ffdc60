"""Speed without changing the numbers: the precision option, the InfoNCE gradient written
out, and the fused Adam of the batched trainer."""

import contextlib
import math

import numpy as np
import pytest
import torch

import nmi_jupyter as nmi
from nmi_jupyter.engine import batched
from nmi_jupyter.engine.batched import StackedAdam, native_bfloat16, training_autocast
from nmi_jupyter.engine.bounds import infonce
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.errors import OptionError

TINY = {"epochs": 3, "batch_size": 32, "hidden_dim": 16, "embedding_dim": 8, "gammas": [1, 2]}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=1200, dim=2, mi=1.0, seed=0)


def _autocast_state(precision: str, device: torch.device) -> tuple[bool, torch.dtype]:
    with training_autocast(precision, device)():
        return torch.is_autocast_enabled(device.type), torch.get_autocast_dtype(device.type)


def test_precision_choices_select_the_step_context():
    cpu = torch.device("cpu")
    assert training_autocast("float32", cpu) is contextlib.nullcontext
    assert _autocast_state("bfloat16", cpu) == (True, torch.bfloat16)
    assert _autocast_state("auto", cpu)[0] == native_bfloat16(cpu)
    assert not torch.is_autocast_enabled("cpu")  # nothing leaks out of a step


@pytest.mark.parametrize("precision", ["auto", "bfloat16"])
def test_auto_multiplies_in_bfloat16_only_while_many_runs_are_stacked(data, monkeypatch, precision):
    """'auto' leaves a stack of fewer than AUTO_BFLOAT16_STACK runs in float32 (where
    casting cost more than it saved); 'bfloat16' autocasts every step."""
    seen = []  # (runs in the step, autocast on) per training step
    stacked = batched._stacked_scores_of

    def recording(config, critic):
        scores_of = stacked(config, critic)

        def scores(p, b, x, y, training=False):
            if training:
                seen.append((x.shape[0], torch.is_autocast_enabled("cpu")))
            return scores_of(p, b, x, y, training)

        return scores

    monkeypatch.setattr(batched, "_stacked_scores_of", recording)
    nmi.rigorous(*data, precision=precision, device="cpu", **{**TINY, "gammas": [1, 2, 4, 8]})
    native = native_bfloat16(torch.device("cpu"))
    big = [on for k, on in seen if k >= batched.AUTO_BFLOAT16_STACK]
    small = [on for k, on in seen if k < batched.AUTO_BFLOAT16_STACK]
    assert big and small  # 15 runs + 3 controls at first, one run at the end
    assert all(on == (native or precision == "bfloat16") for on in big)
    assert all(on == (precision == "bfloat16") for on in small)


def test_unknown_precision_is_refused_in_one_sentence():
    with pytest.raises(OptionError, match="precision"):
        EstimateConfig(precision="half")


def test_precision_is_recorded_and_bfloat16_trains_what_float32_trains(data):
    f32 = nmi.rigorous(*data, seed=0, device="cpu", precision="float32", **TINY)
    bf16 = nmi.rigorous(*data, seed=0, device="cpu", precision="bfloat16", **TINY)
    assert f32.settings["precision"] == "float32" and bf16.settings["precision"] == "bfloat16"
    # bfloat16 steps round differently (so the option reaches the trainer) ...
    assert any(
        not np.array_equal(a.history.val, b.history.val)
        for a, b in zip(f32.runs, bf16.runs, strict=True)
    )
    # ... and train the same critics: same curves to a few hundredths of a bit.
    for a, b in zip(f32.runs, bf16.runs, strict=True):
        np.testing.assert_allclose(a.history.val, b.history.val, atol=0.05)
    assert bf16.mi == pytest.approx(f32.mi, abs=0.05)


@pytest.mark.parametrize(
    "options",
    [{"critic": "concat"}, {"critic": "hybrid"}, {"spectral_norm": True, "estimator": "smile"}],
)
def test_every_critic_path_trains_in_bfloat16(data, options):
    # The concat critic runs through vmap, spectral norm updates float32 buffers from
    # bfloat16 products, SMILE trains with the JS gradient: each still gives finite runs.
    opts = {**TINY, "epochs": 2, **options}
    rr = nmi.rigorous(*data, seed=0, device="cpu", precision="bfloat16", **opts)
    assert all(np.isfinite(r.history.val).all() for r in rr.runs) and np.isfinite(rr.mi)


def test_infonce_gradient_is_autograd_through_logsumexp():
    torch.manual_seed(0)
    for shape in [(6, 6), (3, 7, 7), (2, 3, 5, 5)]:
        scores = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        n = shape[-1]
        diagonal = torch.diagonal(scores, dim1=-2, dim2=-1)
        expected = (diagonal - torch.logsumexp(scores, -1)).mean(-1) + math.log(n)
        weights = torch.randn(expected.shape, dtype=torch.float64)
        (want,) = torch.autograd.grad((expected * weights).sum(), scores)
        value = infonce(scores)
        (got,) = torch.autograd.grad((value * weights).sum(), scores)
        torch.testing.assert_close(value, expected.detach())
        torch.testing.assert_close(got, want)
        assert torch.autograd.gradcheck(infonce, (scores,))
    with torch.no_grad():
        plain = torch.randn(4, 9, 9)
        assert infonce(plain).shape == (4,)


def test_infonce_backward_builds_no_zero_gradient_for_its_log_softmax():
    # The log-softmax InfoNCE saves for its backward is an output nobody differentiates;
    # a zero gradient for it (a score-sized fill every training step) is not built.
    from torch.profiler import profile

    scores = torch.randn(3, 7, 7, requires_grad=True)
    value = infonce(scores).sum()
    with profile(record_shapes=True) as prof:
        torch.autograd.grad(value, scores)
    built = [
        e.name
        for e in prof.events()
        if ("fill" in e.name or "zero" in e.name) and [3, 7, 7] in e.input_shapes
    ]
    assert not built


def test_stacked_adam_takes_transposed_gradients():
    # torch's fused CPU Adam reads a gradient as laid out like its parameter; a
    # transposed gradient (what autograd returns for a weight used transposed) must
    # still give torch.optim.Adam's steps.
    torch.manual_seed(0)
    start = torch.randn(3, 4, 5)
    stacked = start.clone()
    separate = start.clone().requires_grad_()
    adam = StackedAdam([stacked], lr=0.1)
    reference = torch.optim.Adam([separate], lr=0.1)
    for _ in range(3):
        grad = torch.randn(3, 5, 4).transpose(1, 2)
        assert not grad.is_contiguous()
        adam.step([stacked], [grad])
        separate.grad = grad.clone()
        reference.step()
    torch.testing.assert_close(stacked, separate.detach(), rtol=1e-6, atol=1e-7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["auto", "float32", "bfloat16"])
def test_rigorous_on_cuda_in_every_precision(data, precision):
    if precision == "bfloat16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this CUDA device has no bfloat16")
    rr = nmi.rigorous(*data, seed=0, device="cuda", precision=precision, **TINY)
    assert np.isfinite(rr.mi) and rr.device.startswith("cuda")
