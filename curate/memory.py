"""Memory of a worker process: how much text a batch may hold under a limit, and giving freed memory back.

A worker's resident size is what Dask holds against `engine.memory_limit`: the interpreter and its
libraries (about 90 MiB for a worker forked warm), what a stage keeps per process (MinHash tables, a
fastText model), the allocator's retained free memory, and the batch being processed. Only the batch
grows with the data, so it is sized from the limit; freed memory is handed back to the system after a
task when the process is above half its limit (pyarrow's pool and glibc both keep freed memory, and a
worker that looks full gets restarted).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import psutil

MiB = 1 << 20
# Resident size of a worker besides its batch: interpreter and libraries (~90 MiB for a worker forked
# warm), Arrow's and the allocator's retained memory, Parquet readers and writers. Measured on local
# stages and exact dedup: up to ~185 MiB + 7 bytes per byte of batch text (the pass that applies exact
# dedup's decisions). Stages that keep more per process declare it (`Stage.worker_memory`: MinHash's
# tables, ~60 MiB more).
WORKER_BASE = 190 * MiB
# Peak resident bytes per byte of batch text (Python strings, Arrow and pandas copies, shingle arrays):
# measured 6.7 to 8; 10 leaves room.
BATCH_FACTOR = 10
TERMINATE = 0.95  # Dask's nanny restarts a worker at this fraction of its limit
# Batches are sized to fill a worker to this fraction of its limit, leaving room below TERMINATE for what
# the estimate misses (peaks between samples, larger documents): at 0.95 a 4x-memory dedup run under a
# 400 MiB limit had its workers restarted five times; at 0.8, none.
TARGET = 0.8
MIN_BATCH = MiB // 4  # below this a worker spends its time on overhead, not text


def batch_bytes_for(limit: int | None, wanted: int, stage_memory: int = 0) -> int:
    """The text per batch that fits a worker memory `limit` (bytes; None: no limit), at most `wanted`,
    when the stages keep `stage_memory` bytes per process.

    Never below MIN_BATCH: a limit that leaves less is too small, and the run says so when a worker
    is killed."""
    if not limit:
        return wanted
    room = TARGET * limit - WORKER_BASE - stage_memory
    return int(min(wanted, max(MIN_BATCH, room / BATCH_FACTOR)))


def worker_need(stage_memory: int = 0) -> int:
    """The smallest worker memory limit that fits a batch of MIN_BATCH, in bytes."""
    return int((WORKER_BASE + stage_memory + BATCH_FACTOR * MIN_BATCH) / TERMINATE)


@functools.lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_memory() -> None:
    """Give freed memory back to the system: pyarrow's pool, then glibc's heap (where there is one)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def release_if_above(limit: int | None, fraction: float = 0.5) -> bool:
    """`release_memory()` when this process's resident size is above `fraction` of `limit`."""
    if not limit or psutil.Process().memory_info().rss <= fraction * limit:
        return False
    release_memory()
    return True
