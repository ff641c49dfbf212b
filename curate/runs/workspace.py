"""The workspace: a folder that holds the ledger and every run's outputs.

WORKSPACE/
  ledger.duckdb            the run ledger (runs, stages, shards, counts, files); one writer: the driver
  .lock                    held by the driver of a run, so two runs never write one ledger
  latest -> runs/RUN_ID    the run that finished last (re-made from the ledger if a kill left it undone)
  workers.log              what the local workers printed (Dask's logs)
  state/STAGE/index-*/     the dedup stages' incremental index: what each finished run published
  runs/RUN_ID/
    manifest.json          resolved config, package versions, input fingerprints
    pipeline.yaml          the resolved config (rerun it with `curate run`)
    output/                kept documents, Parquet shards (zstd)
    removed/               removed documents with `reason`, `stage`, `detail`
    quarantine/            bad input records with `reason`, `detail` and their raw bytes
    markers/PHASE/UNIT.json  completion marker per unit: a resumed run skips these
    work/                  intermediate passes and global-stage state (deleted after a finished run)
    error.txt              the traceback, when a run failed
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from curate.errors import UserError


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def pipeline(self) -> Path:
        return self.root / "pipeline.yaml"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def removed(self) -> Path:
        return self.root / "removed"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def error(self) -> Path:
        return self.root / "error.txt"

    def markers(self, phase: str) -> Path:
        return self.root / "markers" / phase

    def marker(self, phase: str, unit_id: str) -> Path:
        return self.markers(phase) / f"{unit_id}.json"

    def done_units(self, phase: str) -> dict[str, dict]:
        """Completion markers of a phase: unit id -> the report the unit wrote when it finished."""
        folder = self.markers(phase)
        if not folder.is_dir():
            return {}
        return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


class Workspace:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        if "?" in str(self.root):  # DuckDB splits a database path at '?' (options follow), WAL included
            raise UserError(
                f"workspace '{self.root}' has a '?' in its path, which DuckDB reads as the start of "
                "connection options in the ledger's path; choose a workspace folder without '?'."
            )
        self._lock_fd: int | None = None

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.duckdb"

    def run(self, run_id: str) -> RunPaths:
        return RunPaths(self.root / "runs" / run_id)

    def new_run_id(self) -> str:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        return f"{now}-{secrets.token_hex(3)}"

    @property
    def latest(self) -> Path:
        return self.root / "latest"

    def latest_run_id(self) -> str | None:
        """The run `latest` points to, or None when there is no link."""
        return os.readlink(self.latest).split("/")[-1] if self.latest.is_symlink() else None

    def point_latest(self, run_id: str) -> None:
        """Point `latest` at runs/RUN_ID, atomically (a temporary link renamed over the old one)."""
        tmp = self.root / f".latest.{os.getpid()}.{secrets.token_hex(3)}.tmp"
        tmp.symlink_to(Path("runs") / run_id)
        os.replace(tmp, self.latest)

    def require_existing(self) -> None:
        if not self.ledger_path.is_file():
            raise UserError(
                f"'{self.root}' is not a curate workspace (no ledger.duckdb); run `curate run` or "
                "`curate demo` "
                "with --workspace pointing at it first."
            )

    def lock(self) -> None:
        """Take the workspace for this process; fail with a clear message if another run holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(
                f"workspace '{self.root}' is in use by another curate run (pid {holder}); wait for it to "
                "finish or use another --workspace."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Workspace:
        self.lock()
        return self

    def __exit__(self, *exc) -> None:
        self.unlock()
