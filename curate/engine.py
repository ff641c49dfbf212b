"""The engine: where partition work runs. Only this module knows about Dask.

- a local cluster of worker processes (the default; `workers=N`),
- any running `dask.distributed` scheduler (`scheduler="tcp://host:8786"`), for more than one machine,
- or Dask's synchronous scheduler in this process (`workers=0`; what unit tests use).

Stages and unit tasks are plain functions; the engine maps them over items and yields results as they
finish, with progress on stderr. Worker processes load heavy objects (fastText models) lazily, once each.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import dask
import pandas as pd

from curate.errors import UserError
from curate.progress import Progress

T = TypeVar("T")
R = TypeVar("R")


class TaskFailed(Exception):
    """A mapped function raised; carries the item and the worker's traceback."""

    def __init__(self, item: Any, error: BaseException, trace: str):
        super().__init__(f"{type(error).__name__}: {error}")
        self.item, self.error, self.trace = item, error, trace


def _call(fn: Callable[[T], R], item: T) -> tuple[bool, Any]:
    """Run on a worker: return (True, result) or (False, (exception, traceback text))."""
    try:
        return True, fn(item)
    except Exception as err:  # reported to the driver with the worker's traceback
        return False, (err, traceback.format_exc())


class Engine:
    def __init__(
        self,
        workers: int = 2,
        scheduler: str | None = None,
        threads_per_worker: int = 1,
        memory_limit: str = "auto",
        progress: bool = True,
    ):
        self.workers, self.scheduler = workers, scheduler
        self.threads_per_worker, self.memory_limit = threads_per_worker, memory_limit
        self.progress = progress
        self.client = None
        self._cluster = None
        self._config = None

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

    def start(self) -> Engine:
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
            self._config = dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
            self._config.__enter__()
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=self.threads_per_worker,
                processes=True,
                memory_limit=self.memory_limit,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )
            self.client = Client(self._cluster, set_as_default=False)
        return self

    def close(self) -> None:
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
        for item, (ok, value) in self._run(fn, items):
            if not ok:
                raise TaskFailed(item, *value)
            bar.update(weight(item) if weight else 0.0, docs(value) if docs else 0)
            yield item, value

    def _run(self, fn, items):
        if self.client is None:
            for item in items:
                yield item, dask.delayed(_call)(fn, item).compute(scheduler="synchronous")
            return
        from distributed import as_completed

        futures = self.client.map(_call, [fn] * len(items), items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=self.client.loop):
                yield items[index[future.key]], future.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def compute(self, *collections: Any) -> tuple:
        """Compute Dask collections on this engine's scheduler."""
        if self.client is None:
            return dask.compute(*collections, scheduler="synchronous")
        return tuple(self.client.compute(list(collections), sync=True))


def map_stage(ddf, stage) -> Any:
    """A Dask DataFrame with `stage` applied to every partition (kept rows, the stage's columns added).

    `meta` is derived from the columns the stage declares, never inferred by calling the stage on a
    sample (pandas 3 string columns make that inference fail on samples holding NA).
    """
    meta = ddf._meta.copy()
    for column, arrow_type in stage.adds().items():
        meta[column] = pd.Series([], dtype=arrow_type.to_pandas_dtype())
    return ddf.map_partitions(_kept_rows, stage, meta=meta)


def _kept_rows(df: pd.DataFrame, stage) -> pd.DataFrame:
    return stage.apply(df).kept
