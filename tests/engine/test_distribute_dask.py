"""Rigorous analyses on a Dask LocalCluster (2 worker processes on the loopback)."""

from __future__ import annotations

import os
import threading
import time

import pytest
from executor_checks import kept_runs_are_exact, run_values  # tests/engine

import nmi_jupyter as nmi
from nmi_jupyter.engine.events import CancelToken, RunEnded, RunStarted

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

OPTIONS = {"seed": 5, "gammas": [1, 2, 3, 4], "epochs": 4}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data():
    return nmi.generators.correlated_gaussians(n=1600, dim=3, mi=1.5, seed=2)


@pytest.fixture(scope="module")
def in_process(data):
    return nmi.rigorous(*data, **OPTIONS)


def test_client_and_its_executor_give_the_in_process_numbers(client, data, in_process):
    events = []
    res = nmi.rigorous(*data, executor=client, observer=events.append, **OPTIONS)
    assert run_values(res) == run_values(in_process) and res.mi == in_process.mi
    assert res.settings["executor"] == "Client" and res.device == "cpu"
    started = {e.run_id for e in events if isinstance(e, RunStarted)}
    assert started == set(range(len(res.runs) + len(res.controls)))
    res2 = nmi.rigorous(*data, executor=client.get_executor(), **OPTIONS)
    assert run_values(res2) == run_values(in_process)


def test_the_data_are_scattered_not_sent_with_each_unit(client, data, monkeypatch):
    """Units go out with a reference to the scattered data, never the arrays themselves."""
    sent = []
    real_submit = distributed.Client.submit

    def spy(self, fn, unit, data, *args, **kwargs):
        sent.append(data)
        return real_submit(self, fn, unit, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", spy)
    nmi.rigorous(*data, executor=client, **OPTIONS)
    assert len(sent) == len(OPTIONS["gammas"]) + 1
    for payload in sent:
        assert all(isinstance(part, distributed.Future) for part in payload)


def test_events_stream_live_each_once_and_in_order(client, data, monkeypatch):
    """Workers send events as they train; the observer sees each one once, in order,
    on the calling thread, most of them before their unit is back."""
    from nmi_jupyter.engine import distribute

    streamed = []
    real = distribute.event_from_dict
    monkeypatch.setattr(distribute, "event_from_dict", lambda m: streamed.append(m) or real(m))
    seen, threads = [], set()

    def observer(event):
        seen.append(event)
        threads.add(threading.get_ident())

    options = {**OPTIONS, "epochs": 30, "patience": 100, "gammas": [1, 2]}
    res = nmi.rigorous(*data, executor=client, observer=observer, **options)
    assert threads == {threading.get_ident()}
    n_runs = len(res.runs) + len(res.controls)
    for run_id in range(n_runs):
        mine = [e for e in seen if e.run_id == run_id]
        assert isinstance(mine[0], RunStarted) and isinstance(mine[-1], RunEnded)
        assert [e.epoch for e in mine[1:-1]] == list(range(30))
    assert len(seen) == n_runs * 32
    assert len(streamed) > len(seen) / 2, f"only {len(streamed)} of {len(seen)} streamed"


def test_a_killed_worker_does_not_lose_runs(client, data, in_process):
    """Kill one worker process while units run: its unit is run again elsewhere
    (Dask reschedules it, our retries back that up); nothing is lost, nothing hangs."""
    box = {}
    worker = threading.Thread(
        target=lambda: box.setdefault("res", nmi.rigorous(*data, executor=client, **OPTIONS))
    )
    worker.start()
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline and worker.is_alive():
        busy = [w for w, tasks in client.processing().items() if tasks]
        victim = busy[0] if busy else None
        time.sleep(0.01)
    assert victim is not None, "no unit was ever seen running"
    try:
        client.run(os._exit, 1, workers=[victim])
    except Exception:  # the worker dies before it can answer
        pass
    worker.join(timeout=180)
    assert not worker.is_alive(), "the analysis hung after a worker was killed"
    res = box["res"]
    assert run_values(res) == run_values(in_process)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests


def test_cancel_cancels_pending_units_and_keeps_finished_ones(
    client, data, in_process, monkeypatch
):
    from nmi_jupyter.engine import distribute

    cancel = CancelToken()
    real_collect = distribute._Gather.collect

    def collect(self, future):
        real_collect(self, future)
        # The first unit with analysis runs is back: stop the rest.  (The shuffled-pairs
        # controls' unit, small and quick, can come back first: a fresh-clone CI run
        # cancelled on it and kept no analysis run.)
        back = (run for unit in self.finished for run in self.units[unit].plan.runs)
        if any(not run.control for run in back):
            cancel.cancel()

    monkeypatch.setattr(distribute._Gather, "collect", collect)
    start = time.monotonic()
    res = nmi.rigorous(*data, executor=client, cancel=cancel, **OPTIONS)
    assert time.monotonic() - start < 60
    assert res.stop_reason == "cancelled" and res.partial
    assert 1 <= len(res.runs) < len(in_process.runs)
    assert kept_runs_are_exact(res, in_process)


def test_stop_on_a_live_event_returns_what_is_back(client, data, in_process):
    """Stop as soon as any run ends on a worker (streamed live): possibly before any
    unit is back; whatever is kept is exact, and nothing hangs."""
    cancel = CancelToken()

    def observer(event):
        if isinstance(event, RunEnded):
            cancel.cancel()

    res = nmi.rigorous(*data, executor=client, observer=observer, cancel=cancel, **OPTIONS)
    assert res.stop_reason == "cancelled" and len(res.runs) < len(in_process.runs)
    assert kept_runs_are_exact(res, in_process)
