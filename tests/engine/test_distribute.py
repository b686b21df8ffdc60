"""Rigorous analyses on executors: work units, equality with in-process, failures, cancel."""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import pickle
import time

import numpy as np
import pytest
from executor_checks import kept_runs_are_exact, run_values  # tests/engine

import nmi_jupyter as nmi
from nmi_jupyter.engine.config import make_config
from nmi_jupyter.engine.distribute import make_units
from nmi_jupyter.engine.errors import NeuralMIWarning, OptionError
from nmi_jupyter.engine.events import CancelToken, EpochEnded, RunEnded, RunStarted
from nmi_jupyter.engine.plan import rigorous_plan

OPTIONS = {"seed": 3, "gammas": [1, 2, 3], "epochs": 4}


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=1200, dim=2, mi=1.0, seed=1)


@pytest.fixture(scope="module")
def in_process(data):
    return nmi.rigorous(*data, **OPTIONS)


class _Flaky(cf.Executor):
    """Runs units in threads, but the first ``failures`` submissions fail (or forever)."""

    def __init__(self, failures: float) -> None:
        self.failures = failures
        self.submitted = 0
        self.pool = cf.ThreadPoolExecutor(2)

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        if self.submitted <= self.failures:
            future = cf.Future()
            future.set_exception(ConnectionError("worker lost"))
            return future
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kwargs):
        self.pool.shutdown(wait)


def test_units_cover_every_run_once_and_are_plain_data(data):
    config = make_config(seed=0)
    plan = rigorous_plan(len(data[0]), [1, 2, 3, 4], 2, True, config)
    units = make_units(plan, batched=True)
    assert [sorted({s.gamma for s in u.plan.runs}) for u in units[:-1]] == [[1], [2], [3], [4]]
    assert all(s.control for s in units[-1].plan.runs)
    # controls pair x with permuted y rows; analysis runs with their own
    assert all(s.view.y_rows is not None for s in units[-1].plan.runs)
    assert all(s.view.y_rows is None for u in units[:-1] for s in u.plan.runs)
    ids = sorted(s.run_id for u in units for s in u.plan.runs)
    assert ids == list(range(len(plan.runs))) == list(range(2 * (1 + 2 + 3 + 4) + 3))
    copy = pickle.loads(pickle.dumps(units[2]))
    assert [s.run_id for s in copy.plan.runs] == [s.run_id for s in units[2].plan.runs]
    assert np.array_equal(copy.plan.runs[0].view.rows, units[2].plan.runs[0].view.rows)


def test_thread_pool_gives_the_in_process_numbers(data, in_process):
    events = []
    with cf.ThreadPoolExecutor(2) as pool:
        res = nmi.rigorous(*data, executor=pool, observer=events.append, **OPTIONS)
    assert run_values(res) == run_values(in_process)
    assert res.mi == in_process.mi and res.stop_reason == "completed"
    assert res.settings["executor"] == "ThreadPoolExecutor"
    # every run's events arrive, in order within each run
    n_runs = len(in_process.runs) + len(in_process.controls)
    assert sorted({e.run_id for e in events if isinstance(e, RunStarted)}) == list(range(n_runs))
    for run_id in range(n_runs):
        kinds = [type(e) for e in events if e.run_id == run_id]
        assert kinds[0] is RunStarted and kinds[-1] is RunEnded
        assert kinds.count(EpochEnded) == OPTIONS["epochs"]


@pytest.mark.slow
def test_spawned_process_pool_gives_the_in_process_numbers(data, in_process):
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(2, mp_context=context) as pool:
        res = nmi.rigorous(*data, executor=pool, **OPTIONS)
    assert run_values(res) == run_values(in_process)


def test_a_failing_unit_is_retried(data, in_process):
    flaky = _Flaky(failures=2)
    res = nmi.rigorous(*data, executor=flaky, retries=2, **OPTIONS)
    flaky.shutdown()
    assert run_values(res) == run_values(in_process)
    assert flaky.submitted == 4 + 2  # 4 units (3 gammas + controls) and two resubmissions


def test_a_unit_that_keeps_failing_is_reported_and_the_rest_kept(data, in_process):
    flaky = _Flaky(failures=math.inf)
    with pytest.warns(NeuralMIWarning, match="failed on the executor.*worker lost"):
        res = nmi.rigorous(*data, executor=flaky, retries=1, **OPTIONS)
    assert flaky.submitted == 4 * 2
    assert [r.stop_reason for r in res.runs] == ["failed"] * 6
    assert all(math.isnan(r.mi) for r in res.runs)
    assert res.fit is None or math.isnan(res.mi)
    assert not res.is_reliable
    codes = {f.code for f in res.flags}
    assert "failed_runs" in codes and "unstable_runs" not in codes


def test_a_broken_process_pool_returns_instead_of_hanging(data):
    """A worker process that dies breaks a ProcessPoolExecutor: the units in flight fail,
    resubmission is refused, and the analysis returns with every run reported."""
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(1, mp_context=context) as pool:
        # The only worker first sleeps (the units queue behind it), then dies.
        pool.submit(time.sleep, 1.0)
        pool.submit(os._exit, 1)
        with pytest.warns(NeuralMIWarning, match="failed on the executor"):
            res = nmi.rigorous(*data, executor=pool, **OPTIONS)
    assert {r.stop_reason for r in res.runs} == {"failed"}
    # now broken: a new analysis is refused at once with a sentence
    with pytest.raises(OptionError, match="executor accepted no work.*start a new executor"):
        nmi.rigorous(*data, executor=pool, **OPTIONS)


def test_a_shut_down_executor_is_an_error_not_an_empty_result(data):
    pool = cf.ThreadPoolExecutor(1)
    pool.shutdown()
    with pytest.raises(OptionError, match="accepted no work.*after shutdown"):
        nmi.rigorous(*data, executor=pool, **OPTIONS)


def test_cancel_keeps_the_units_already_back(data, in_process):
    cancel = CancelToken()

    def observer(event):
        if isinstance(event, RunEnded):
            cancel.cancel()  # after the first unit is back

    with cf.ThreadPoolExecutor(1) as pool:
        res = nmi.rigorous(*data, executor=pool, observer=observer, cancel=cancel, **OPTIONS)
    assert res.stop_reason == "cancelled" and res.partial
    assert 1 <= len(res.runs) < len(in_process.runs)
    assert kept_runs_are_exact(res, in_process)


def test_interrupt_while_waiting_keeps_finished_units(data):
    def observer(event):
        if isinstance(event, RunEnded) and event.gamma == 1:
            raise KeyboardInterrupt

    with cf.ThreadPoolExecutor(1) as pool:
        res = nmi.rigorous(*data, executor=pool, observer=observer, **OPTIONS)
    assert res.stop_reason == "interrupted"
    assert [r.gamma for r in res.runs] == [1]


def test_estimate_says_executor_is_a_rigorous_option(data):
    with pytest.raises(OptionError, match="executor only apply to nmi.rigorous"):
        nmi.estimate(*data, executor=cf.ThreadPoolExecutor(1), epochs=1)


def test_an_object_that_is_not_an_executor_is_refused_before_training(data):
    with pytest.raises(OptionError, match="executor must be a concurrent.futures.Executor"):
        nmi.rigorous(*data, executor="my-cluster", **OPTIONS)


def test_analyses_in_concurrent_threads_are_reproducible(data, in_process):
    """Runs initialise from torch's global generator: threads must not interleave that
    (nor reset each other's torch thread count)."""
    import torch

    before = torch.get_num_threads()
    with cf.ThreadPoolExecutor(4) as units, cf.ThreadPoolExecutor(3) as drivers:
        futures = [
            drivers.submit(nmi.rigorous, *data, executor=units, batched=batched, **OPTIONS)
            for batched in (True, False, True)
        ]
        results = [f.result() for f in futures]
    assert run_values(results[0]) == run_values(results[2]) == run_values(in_process)
    # the one-at-a-time path: the same runs up to float rounding (see test_batched)
    assert np.allclose(
        [v[2] for v in run_values(results[1])], [v[2] for v in run_values(in_process)], atol=2e-4
    )
    assert torch.get_num_threads() == before


def test_worker_malloc_is_adapted_only_where_dask_froze_it(monkeypatch):
    import sys

    from nmi_jupyter.engine.dask_link import adapt_worker_malloc

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert adapt_worker_malloc() is False  # a plain process is left alone
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what Dask's nanny sets
    assert adapt_worker_malloc() is (sys.platform == "linux")
