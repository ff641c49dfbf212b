"""The engine: a local cluster that starts in the background, with the first items run in this process."""

from __future__ import annotations

import os
import time

import pytest

from curate.engine import Engine, TaskFailed, WorkerLost
from curate.errors import UserError


def where(x: int) -> tuple[int, int]:
    """(x squared, the process that computed it), after 0.1 s of "work"."""
    time.sleep(0.1)
    return x * x, os.getpid()


def warm_modules(_) -> tuple[list[str], str | None]:
    import sys

    modules = [m for m in ("distributed", "pyarrow.parquet", "pandas") if m in sys.modules]
    return modules, os.environ.get("OMP_NUM_THREADS")


def fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def test_a_background_start_gives_every_result_once_and_closes_cleanly():
    engine = Engine(workers=2, progress=False)
    engine.prestart(["curate.pipeline.task"])
    results = dict(engine.map(where, list(range(30))))
    assert {x: r[0] for x, r in results.items()} == {x: x * x for x in range(30)}
    pids = {r[1] for r in results.values()}
    assert os.getpid() in pids  # the first items ran here while the cluster started (~1 s) ...
    assert len(pids - {os.getpid()}) >= 1  # ... and the workers took the rest once they were up
    assert engine.distributed
    engine.close_soon()
    engine.close()
    assert not engine.distributed


def test_local_workers_start_warm_with_what_the_run_needs():
    engine = Engine(workers=1, progress=False).start()  # not prestarted: no warm-up task ran
    try:
        [(_, (found, omp_threads))] = list(engine.map(warm_modules, [0]))
    finally:
        engine.close()
    assert found == ["distributed", "pyarrow.parquet", "pandas"]  # forked from a server that imported them
    assert omp_threads == "1"  # the environment the nanny gives a worker (the malloc tunable: test_runner)


def test_a_failure_while_the_cluster_starts_is_reported_and_the_engine_closes():
    engine = Engine(workers=2, progress=False)
    engine.prestart()
    with pytest.raises(TaskFailed, match="ValueError: three"):
        list(engine.map(fails_on_three, [3, 1, 2]))  # item 3 runs here, before the cluster is up
    engine.close()
    assert not engine.distributed


def test_the_synchronous_engine_ignores_prestart():
    engine = Engine(workers=0, progress=False)
    engine.prestart()
    assert [r for _, (r, _pid) in engine.map(where, [2, 3])] == [4, 9]
    engine.close()


def _listening_ports(pid: int) -> set[int]:
    import psutil

    return {c.laddr.port for c in psutil.Process(pid).net_connections("inet") if c.status == "LISTEN"}


def test_a_local_cluster_serves_no_dashboard_unless_asked():
    engine = Engine(workers=1, progress=False).start()
    try:
        assert 8787 not in _listening_ports(os.getpid())  # the scheduler runs in this process
        assert engine.dashboard_link is None
    finally:
        engine.close()


def test_asking_for_a_dashboard_without_bokeh_is_one_sentence_naming_the_fix():
    pytest.importorskip("distributed")
    import importlib.util

    if importlib.util.find_spec("bokeh") is not None:
        pytest.skip("bokeh is installed: the dashboard would start")
    with pytest.raises(UserError, match=r"dashboard needs bokeh.*pip install bokeh"):
        Engine(workers=1, dashboard=True, progress=False)


def _pause(dask_worker):
    from distributed.core import Status

    dask_worker.status = Status.paused  # as Dask's memory monitor does at its pause threshold


def test_workers_that_stay_paused_fail_the_map_with_the_limit_not_a_silent_stall():
    engine = Engine(workers=1, progress=False, memory_limit="1GiB", stall_seconds=2).start()
    try:
        engine.client.run(_pause)
        started = time.monotonic()
        with pytest.raises(
            WorkerLost, match=r"no worker could work for 2 s during work \(all 1 workers paused"
        ) as info:
            list(engine.map(where, [1, 2]))
        assert time.monotonic() - started < 15
    finally:
        engine.close()
    assert "engine.memory_limit: 1,024 MiB per worker" in str(info.value)
    assert "status paused" in info.value.trace


class _WorkerDiesWhileStarting:
    """Stands for LocalCluster: the first `failures` starts fail as when a worker is killed while the
    cluster starts; later ones start a real cluster."""

    def __init__(self, failures: int):
        from distributed import LocalCluster

        self.failures, self.calls, self.real = failures, 0, LocalCluster

    def __call__(self, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("Nanny failed to start.")
        return self.real(**kwargs)


def test_a_worker_dying_while_the_cluster_starts_is_survived_once_then_reported(monkeypatch):
    import distributed

    flaky = _WorkerDiesWhileStarting(failures=1)
    monkeypatch.setattr(distributed, "LocalCluster", flaky)
    with Engine(workers=1, progress=False) as engine:
        assert [r for _, (r, _pid) in engine.map(where, [2, 3])] == [4, 9]
    assert flaky.calls == 2

    monkeypatch.setattr(distributed, "LocalCluster", _WorkerDiesWhileStarting(failures=2))
    with pytest.raises(WorkerLost, match=r"could not start its workers 2 times .* --workers 0"):
        Engine(workers=1, progress=False).start()
