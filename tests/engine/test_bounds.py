"""Each bound against a plain-loop reference written straight from its formula."""

import math

import numpy as np
import pytest
import torch

from nmi_jupyter.engine import bounds


def _ref_infonce(f):
    n = len(f)
    total = 0.0
    for i in range(n):
        total += f[i][i] - math.log(sum(math.exp(f[i][j]) for j in range(n)))
    return total / n + math.log(n)


def _ref_tuba(f):
    n = len(f)
    joint = sum(f[i][i] for i in range(n)) / n
    marg = sum(math.exp(f[i][j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return 1 + joint - marg


def _ref_nwj(f):
    n = len(f)
    joint = sum(f[i][i] for i in range(n)) / n
    marg = sum(math.exp(f[i][j] - 1) for i in range(n) for j in range(n) if i != j)
    return joint - marg / (n * (n - 1))


def _softplus(v):
    return math.log1p(math.exp(-abs(v))) + max(v, 0.0)


def _ref_js_fgan(f):
    n = len(f)
    first = sum(-_softplus(-f[i][i]) for i in range(n)) / n
    second = sum(_softplus(f[i][j]) for i in range(n) for j in range(n) if i != j)
    return first - second / (n * (n - 1))


def _ref_smile(f, clip):
    n = len(f)
    joint = sum(f[i][i] for i in range(n)) / n
    off = [min(max(f[i][j], -clip), clip) for i in range(n) for j in range(n) if i != j]
    return joint - math.log(sum(math.exp(v) for v in off) / len(off))


def _scores(n, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, n)) * scale
    f[np.diag_indices(n)] += 3.0  # true pairs score higher, as after training
    return f


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n", [2, 7, 32])
def test_bounds_match_plain_loop_references(n, seed):
    f = _scores(n, seed)
    t = torch.tensor(f, dtype=torch.float64)
    rows = f.tolist()
    assert bounds.infonce(t).item() == pytest.approx(_ref_infonce(rows), abs=1e-10)
    assert bounds.tuba(t).item() == pytest.approx(_ref_tuba(rows), abs=1e-10)
    assert bounds.nwj(t).item() == pytest.approx(_ref_nwj(rows), abs=1e-10)
    # JS is valued as NWJ on f + 1 and SMILE as the clipped Donsker-Varadhan bound.
    assert bounds.js(t).item() == pytest.approx(_ref_nwj((f + 1).tolist()), abs=1e-10)
    assert bounds.smile(t, clip=1.5).item() == pytest.approx(_ref_smile(rows, 1.5), abs=1e-10)


def test_tuba_baseline_shifts_scores():
    f = _scores(6, 0)
    base = np.linspace(-0.5, 0.5, 6)
    t = torch.tensor(f)
    got = bounds.tuba(t, log_baseline=torch.tensor(base)).item()
    assert got == pytest.approx(_ref_tuba((f - base[None, :]).tolist()), abs=1e-10)


@pytest.mark.parametrize("name", ["js", "smile"])
def test_js_and_smile_train_with_the_js_fgan_gradient(name):
    f = torch.tensor(_scores(8, 3), requires_grad=True)
    bounds.BOUNDS[name](f).backward()
    grad = f.grad.clone()
    f.grad = None
    ref = _ref_js_fgan(f.detach().tolist())
    assert bounds._js_fgan(f).item() == pytest.approx(ref, abs=1e-10)
    bounds._js_fgan(f).backward()
    torch.testing.assert_close(grad, f.grad)


@pytest.mark.parametrize("n", [2, 16, 128])
def test_infonce_never_exceeds_log_n(n):
    # A perfect critic (huge diagonal) reaches the ceiling but never passes it.
    f = torch.full((n, n), -1e4, dtype=torch.float32)
    f.fill_diagonal_(1e4)
    assert bounds.infonce(f).item() <= math.log(n) + 1e-6
    assert bounds.infonce(f).item() == pytest.approx(math.log(n), abs=1e-5)
    noisy = torch.tensor(_scores(n, 1, scale=50.0), dtype=torch.float32)
    assert bounds.infonce(noisy).item() <= math.log(n) + 1e-6


def test_smile_with_wide_clip_is_donsker_varadhan():
    f = _scores(10, 5, scale=0.5)
    t = torch.tensor(f)
    assert bounds.smile(t, clip=1e6).item() == pytest.approx(_ref_smile(f.tolist(), 1e9), abs=1e-10)


def test_bound_rejects_non_square_scores():
    with pytest.raises(ValueError, match="square"):
        bounds.infonce(torch.zeros(3, 4))


def test_get_bound_passes_smile_clip():
    f = torch.tensor(_scores(6, 2, scale=4.0))
    assert bounds.get_bound("smile", 1.0)(f).item() == pytest.approx(
        _ref_smile(f.tolist(), 1.0), abs=1e-10
    )


@pytest.mark.parametrize("name", sorted(bounds.BOUNDS))
def test_stacked_score_matrices_give_one_value_each(name):
    stack = torch.tensor(np.stack([_scores(9, s) for s in range(4)]))
    got = bounds.BOUNDS[name](stack)
    assert got.shape == (4,)
    for k in range(4):
        assert got[k].item() == pytest.approx(bounds.BOUNDS[name](stack[k]).item(), abs=1e-12)


def _rows_of(t):
    return lambda start, stop: t[..., start:stop, :]


@pytest.mark.parametrize("chunk", [1, 3, 7, 31, 32, 100])
@pytest.mark.parametrize("name", sorted(bounds.BOUNDS))
def test_bounds_scored_by_rows_equal_the_whole_matrix(name, chunk):
    # Evaluation blocks over the memory budget are scored a few rows at a time; the
    # value must be the whole matrix's, for any chunk size and for stacked runs.
    stack = torch.tensor(np.stack([_scores(32, s, scale=3.0) for s in range(3)]))
    bound = bounds.get_bound(name, smile_clip=1.5)
    assert bounds.has_row_form(bound)
    whole = bound(stack)
    got = bounds.bound_by_rows(bound, _rows_of(stack), 32, chunk)
    assert got.shape == (3,) and got.dtype == stack.dtype
    torch.testing.assert_close(got, whole, rtol=0, atol=1e-10)
    single = bounds.bound_by_rows(bound, _rows_of(stack[1]), 32, chunk)
    assert single.item() == pytest.approx(whole[1].item(), abs=1e-10)


@pytest.mark.parametrize("name", sorted(bounds.BOUNDS))
def test_bounds_by_rows_in_float32_match_to_float_precision(name):
    f = torch.tensor(_scores(200, 9, scale=4.0), dtype=torch.float32)
    bound = bounds.get_bound(name)
    got = bounds.bound_by_rows(bound, _rows_of(f), 200, 17).item()
    assert got == pytest.approx(bound(f).item(), abs=1e-5, rel=1e-6)


def test_bound_by_rows_refuses_an_unknown_bound():
    assert not bounds.has_row_form(lambda s: s.mean())
    with pytest.raises(ValueError, match="row"):
        bounds.bound_by_rows(lambda s: s.mean(), _rows_of(torch.zeros(4, 4)), 4, 2)
