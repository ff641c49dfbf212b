"""The engine: where partition work runs. Only this module knows about Dask.

- a local cluster of worker processes (the default; `workers=N`),
- any running `dask.distributed` scheduler (`scheduler="tcp://host:8786"`), for more than one machine,
- or Dask's synchronous scheduler in this process (`workers=0`; what unit tests use).

Stages and unit tasks are plain functions; the engine maps them over items and yields results as they
finish, with progress on stderr. Worker processes load heavy objects (fastText models) lazily, once each.

A local cluster takes about a second to start. Its workers are forked from a fork server that imported
distributed, pyarrow, pandas and the run's modules once, so they take their first task warm. `prestart`
starts it in a background thread while the caller opens its run, the first items of a map run in this
process until the workers are up, and `close_soon` stops them while the caller writes its books.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import dask

from curate.errors import UserError
from curate.memory import release_if_above
from curate.progress import Progress

# A local cluster's defaults that cost CPU without serving curate: the statistical profiler samples every
# worker's stack 100 times a second (for the dashboard, which a local run does not start). A user's own
# Dask config (a file or DASK_ environment variables) still applies to a --scheduler cluster.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    # Memory. curate's tasks keep no data on a worker: each writes its shards and returns a small report.
    # Dask's pause (at 80% of the limit) waits for managed data to be spilled or released; there is none,
    # so a worker whose resident size stayed above it (an allocator holding freed memory) paused for good,
    # a silent stall. Without target, spill and pause a worker works on until its nanny restarts it at
    # `terminate` (95%); the task is retried, and one that cannot fit fails the run (WorkerLost).
    "distributed.worker.memory.target": False,
    "distributed.worker.memory.spill": False,
    "distributed.worker.memory.pause": False,
}
STALL_SECONDS = 60.0  # no worker able to work (all paused, or none alive) for this long fails the run

T = TypeVar("T")
R = TypeVar("R")


class WorkerLost(Exception):
    """The workers cannot go on: one died running the same task again and again (the usual cause: the
    memory limit), or none was able to work for `stall_seconds`. `trace` holds the details."""

    def __init__(self, message: str, trace: str):
        super().__init__(message)
        self.trace = trace


class TaskFailed(Exception):
    """A mapped function raised; carries the item and the worker's traceback."""

    def __init__(self, item: Any, error: BaseException, trace: str):
        super().__init__(f"{type(error).__name__}: {error}")
        self.item, self.error, self.trace = item, error, trace


# What a worker process imports before its first task: once, in a fork server, rather than in each worker.
WORKER_PRELOAD = ("distributed", "pyarrow.parquet", "pandas")


def _process_start_config(
    modules: tuple[str, ...], environ: dict[str, str], worker_log: str | os.PathLike | None = None
) -> dict[str, str]:
    """Start local workers by forking them from a fork server that imported what they need once.

    With "spawn" (distributed's default) each worker imports distributed, pyarrow and pandas (pyarrow
    imports it on its first table) and curate's modules itself: ~1.2 CPU-seconds per worker, paid while
    the run's first units wait. A fork server pays that once and forks warm workers (the dedup benchmark
    on two cores: 6.6 against 6.9 s and 7.0 against 8.5 s on 110,000 documents, 3.2 against 5.4 s on
    27,500). It starts here, before the scheduler, so that its imports overlap the scheduler's start, with
    the environment the nanny gives a spawned worker (`environ`): forked workers inherit the server's.
    Where there is no fork server (Windows) distributed's default stays.
    """
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return {}
    import distributed.utils

    # curate.worker_process first: the workers ignore Ctrl-C (the driver stops them)
    preload = ["curate.worker_process", *WORKER_PRELOAD, *modules]
    multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    distributed.utils._forkserver_preload_set = True  # else distributed replaces the list with its own
    # as the nanny does (distributed.nanny._get_env_variables): a variable the user set wins
    values = {name: os.environ.get(name, str(value)) for name, value in environ.items()}
    if worker_log:  # where the workers' stdout and stderr go (curate.worker_process)
        values["CURATE_WORKER_LOG"] = str(worker_log)
    with _environment(values):
        forkserver.ensure_running()
    return {"distributed.worker.multiprocessing-method": "forkserver"}


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """os.environ with `values` set, as it was afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _in_background(fn: Callable[[], Any], name: str) -> Future:
    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


def _import_modules(modules: tuple[str, ...]) -> None:
    """Run on each worker at start: import what the first tasks will need."""
    for name in modules:
        importlib.import_module(name)


def _call_here(fn: Callable[[T], R], item: T) -> tuple[bool, Any]:
    """`_call` in this process, on Dask's synchronous scheduler."""
    return dask.delayed(_call)(fn, item).compute(scheduler="synchronous")


def _call(fn: Callable[[T], R], item: T) -> tuple[bool, Any]:
    """Run on a worker: return (True, result) or (False, (exception, traceback text))."""
    try:
        result = True, fn(item)
    except Exception as err:  # reported to the driver with the worker's traceback
        result = False, (err, traceback.format_exc())
    if "distributed" in sys.modules:  # on a worker: hand freed memory back when the process looks full
        from distributed import get_worker

        with contextlib.suppress(ValueError):  # ValueError: not on a worker (the synchronous engine)
            release_if_above(get_worker().memory_manager.memory_limit)
    return result


class Engine:
    def __init__(
        self,
        workers: int = 2,
        scheduler: str | None = None,
        threads_per_worker: int = 1,
        memory_limit: str = "auto",
        progress: bool = True,
        dashboard: bool = False,
        stall_seconds: float = STALL_SECONDS,
        worker_log: str | os.PathLike | None = None,
    ):
        self.workers, self.scheduler = workers, scheduler
        self.threads_per_worker, self.memory_limit = threads_per_worker, memory_limit
        self.progress = progress
        if dashboard and importlib.util.find_spec("bokeh") is None:
            raise UserError(
                "the Dask dashboard needs bokeh, which is not installed; pip install bokeh, or drop "
                "--dashboard (engine.dashboard: false)."
            )
        self.dashboard = dashboard
        self.stall_seconds = stall_seconds
        # local workers write their output (Dask's logs, a dying worker's traceback) here, not on the
        # terminal; None: inherit this process's stdout and stderr
        self.worker_log = worker_log
        self.dashboard_link: str | None = None  # where the dashboard is served, when asked for
        self.client = None
        self._cluster = None
        self._config = None
        self._starting: Future | None = None  # a start running in the background (prestart)
        self._closing: Future | None = None  # a close running in the background (close_soon)

    @property
    def description(self) -> str:
        if self.scheduler:
            return f"dask scheduler {self.scheduler}"
        if self.workers > 0:
            return f"local dask cluster ({self.workers} workers x {self.threads_per_worker} threads)"
        return "dask synchronous scheduler (in process)"

    @property
    def distributed(self) -> bool:
        return self.client is not None

    def planned_workers(self) -> int:
        """The workers work will spread over: a local cluster's size, a scheduler's workers now (after
        connecting), or 1 in this process."""
        if self.scheduler:
            self.start()
            return max(1, len(self.client.scheduler_info()["workers"]))
        return max(1, self.workers)

    def worker_memory_limit(self) -> int | None:
        """The memory limit of one worker, in bytes; None without workers or without a limit. With
        --scheduler this connects, and takes the smallest limit of the workers there."""
        if self.scheduler:
            self.start()
            limits = [w.get("memory_limit") for w in self.client.scheduler_info()["workers"].values()]
            return min((x for x in limits if x), default=None)
        if self.workers == 0:
            return None
        return parse_memory_limit(self.memory_limit, self.threads_per_worker)

    def _describe_limit(self) -> str:
        limit = self.worker_memory_limit() if not self.scheduler or self.client is not None else None
        return f"{format_mib(limit)} per worker" if limit else "no limit"

    def prestart(self, modules: Iterable[str] = ()) -> None:
        """Start the cluster in a background thread while the caller does other work (a local cluster
        takes about a second), and have each worker import `modules` once it is up. `start()` waits."""
        if self._starting is None and self.client is None and (self.scheduler or self.workers > 0):
            self._starting = _in_background(
                lambda: self._start_and_warm(tuple(modules)), "curate-engine-start"
            )

    def _start_and_warm(self, modules: tuple[str, ...]) -> None:
        self._connect(modules)
        if modules:  # fire and forget, one task per worker: the first real tasks find the modules imported
            from distributed import fire_and_forget

            for address in self.client.scheduler_info()["workers"]:
                fire_and_forget(self.client.submit(_import_modules, modules, workers=[address], pure=False))

    def start(self) -> Engine:
        if self._starting is not None:
            starting, self._starting = self._starting, None
            starting.result()  # re-raises what the background start raised (e.g. an unreachable scheduler)
        elif self.client is None:
            self._connect()
        return self

    def _connect(self, modules: tuple[str, ...] = ()) -> None:
        if self.scheduler:
            from distributed import Client

            try:
                self.client = Client(self.scheduler, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError) as err:
                raise UserError(
                    f"cannot reach the Dask scheduler at {self.scheduler} ({err}); start one with "
                    "`dask scheduler` and `dask worker ADDRESS`, or drop --scheduler to use a local cluster."
                ) from None
        elif self.workers > 0:
            from distributed import Client, LocalCluster

            # distributed's nanny gives workers MALLOC_TRIM_THRESHOLD_=65536. Setting any malloc tunable
            # turns off glibc's dynamic mmap threshold, so every large numpy temporary is mmapped and
            # page-faulted afresh: numpy-heavy stages (MinHash) ran 5x slower. Spawn workers without it.
            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            self._config = dask.config.set(
                {
                    "distributed.nanny.pre-spawn-environ": environ,
                    **LOCAL_CLUSTER_CONFIG,
                    **_process_start_config(modules, environ, self.worker_log),
                }
            )
            self._config.__enter__()
            self._cluster = self._local_cluster(LocalCluster)
            self.client = Client(self._cluster, set_as_default=False)
            if self.dashboard:
                self.dashboard_link = self.client.dashboard_link
                print(f"curate: Dask dashboard at {self.dashboard_link}", file=sys.stderr, flush=True)

    def _local_cluster(self, cluster_class, attempts: int = 2):
        """A LocalCluster; started again if a worker died while it started (the cluster then fails with
        "Nanny failed to start" and closes what it started)."""
        for attempt in range(1, attempts + 1):
            try:
                return cluster_class(
                    n_workers=self.workers,
                    threads_per_worker=self.threads_per_worker,
                    processes=True,
                    memory_limit=self.memory_limit,
                    # No dashboard unless asked. Without one the scheduler still serves a few HTTP routes
                    # (health, metrics): on a free local port, never on the dashboard's 8787.
                    dashboard_address="127.0.0.1:8787" if self.dashboard else None,
                    scheduler_kwargs=None if self.dashboard else {"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.CRITICAL,
                )
            except RuntimeError as err:
                if attempt == attempts:
                    raise WorkerLost(
                        f"the local Dask cluster could not start its workers {attempts} times ({err}); "
                        "run again, or with --workers 0 to work in this process (the workers' output is "
                        "in WORKSPACE/workers.log)",
                        traceback.format_exc(),
                    ) from None
        raise AssertionError("unreachable")

    def close_soon(self) -> None:
        """Begin closing in a background thread (workers take a moment to stop); `close()` waits for it."""
        if self._closing is None and (self.client is not None or self._starting is not None):
            self._closing = _in_background(self._close_now, "curate-engine-close")

    def close(self) -> None:
        if self._closing is not None:
            closing, self._closing = self._closing, None
            closing.result()
        self._close_now()

    def _close_now(self) -> None:
        if self._starting is not None:  # started in the background and never used: wait, then close
            starting, self._starting = self._starting, None
            with contextlib.suppress(Exception):  # a failed start leaves nothing to close
                starting.result()
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._config is not None:
            self._config.__exit__(None, None, None)
            self._config = None

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        label: str = "work",
        weight: Callable[[T], float] | None = None,
        docs: Callable[[R], int] | None = None,
    ) -> Iterator[tuple[T, R]]:
        """Apply `fn` to every item; yield (item, result) as each finishes. Raises TaskFailed on the first
        failure (after cancelling what is still queued); results yielded before it stay valid."""
        items = list(items)
        total_weight = float(sum(weight(i) for i in items)) if weight else 0.0
        bar = Progress(label, len(items), total_weight, enabled=self.progress)
        for item, (ok, value) in self._run(fn, items, label):
            if not ok:
                raise TaskFailed(item, *value)
            bar.update(weight(item) if weight else 0.0, docs(value) if docs else 0)
            yield item, value

    def _run(self, fn, items, label: str = "work"):
        # While a local cluster is still starting, work through the first items here rather than wait for
        # it (not with a remote scheduler: this machine may be a login node, and connecting is quick).
        while items and not self.scheduler and self._starting is not None and not self._starting.done():
            item, items = items[0], items[1:]
            yield item, _call_here(fn, item)
        if not items:
            return
        self.start()
        if self.client is None:
            for item in items:
                yield item, _call_here(fn, item)
            return
        from distributed import KilledWorker, as_completed

        futures = self.client.map(_call, [fn] * len(items), items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        watch = _StallWatch(self.client, futures, self.stall_seconds)
        try:
            for future in as_completed(futures, loop=self.client.loop):
                if watch.reason is not None:
                    raise WorkerLost(
                        f"no worker could work for {self.stall_seconds:.0f} s during {label} "
                        f"({watch.reason}; engine.memory_limit: {self._describe_limit()}); "
                        f"{_MEMORY_FIX}",
                        watch.details,
                    )
                try:
                    yield items[index[future.key]], future.result()
                except KilledWorker as killed:
                    raise WorkerLost(
                        f"a worker process died each time it ran a task of {label}, usually for want of "
                        f"memory (engine.memory_limit: {self._describe_limit()}); {_MEMORY_FIX}",
                        f"{type(killed).__name__}: {killed}\n{traceback.format_exc()}",
                    ) from None
        finally:
            watch.stop()
            self.client.cancel([f for f in futures if not f.done()])

    def compute(self, *collections: Any) -> tuple:
        """Compute Dask collections on this engine's scheduler."""
        if self.client is None:
            return dask.compute(*collections, scheduler="synchronous")
        return tuple(self.client.compute(list(collections), sync=True))


_MEMORY_FIX = (
    "raise engine.memory_limit (e.g. --set engine.memory_limit=2GiB) or use fewer, larger workers "
    "(engine.workers), or lower input.batch_mb"
)


def format_mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def parse_memory_limit(value: str | float | None, threads: int) -> int | None:
    """A local worker's memory limit in bytes, as distributed reads `memory_limit`: "auto" (the
    machine's memory times this worker's share of the cores), a fraction of the memory (<= 1), bytes or
    a size such as "4GiB"; None or 0: no limit. (Not distributed's own function: importing distributed
    here while the cluster starts in the background can catch it half imported.)"""
    import psutil
    from dask.utils import parse_bytes

    total = psutil.virtual_memory().total
    if value is None:
        return None
    if value == "auto":
        return int(total * min(1.0, threads / (os.cpu_count() or 1)))
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float(parse_bytes(value))
    limit = int(number * total) if number <= 1 else int(number)
    return min(limit, total) or None


class _StallWatch:
    """Watches the scheduler while futures run; when no worker is able to work (every worker paused, or
    none alive) for `seconds`, records why and cancels the futures, so the waiting driver wakes up."""

    def __init__(self, client, futures, seconds: float, every: float = 2.0):
        self.client, self.futures, self.seconds, self.every = client, futures, seconds, every
        self.reason: str | None = None
        self.details = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="curate-stall-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        since = None
        while not self._stop.wait(self.every):
            try:
                workers = self.client.scheduler_info(n_workers=-1)["workers"]
            except Exception:  # the client is closing: nothing to watch
                return
            working = [w for w in workers.values() if w.get("status", "running") == "running"]
            if working:
                since = None
                continue
            now = time.monotonic()
            since = since or now
            if now - since >= self.seconds:
                self.details = "workers at the scheduler:\n" + "\n".join(
                    f"  {addr}: status {w.get('status')}, memory {w.get('metrics', {}).get('memory')} "
                    f"of limit {w.get('memory_limit')}"
                    for addr, w in workers.items()
                )
                self.reason = (
                    f"all {len(workers)} workers paused at Dask's memory pause threshold"
                    if workers
                    else "every worker died and none came back"
                )
                self.client.cancel([f for f in self.futures if not f.done()])
                return

    def stop(self) -> None:
        self._stop.set()


def map_stage(ddf, stage) -> Any:
    """A Dask DataFrame with `stage` applied to every partition (kept rows, the stage's columns added).

    `meta` is derived from the columns the stage declares, never inferred by calling the stage on a
    sample (pandas 3 string columns make that inference fail on samples holding NA).
    """
    import pandas as pd

    meta = ddf._meta.copy()
    for column, arrow_type in stage.adds().items():
        meta[column] = pd.Series([], dtype=arrow_type.to_pandas_dtype())
    return ddf.map_partitions(_kept_rows, stage, meta=meta)


def _kept_rows(df, stage):
    return stage.apply(df).kept
