"""Shared test fixtures: small corpora built in the test, and the real data beside the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real corpora of ../shared/data; tests that need them skip where the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (it sits beside the repository in CI)")
    return SHARED_DATA


def write_jsonl(path: Path, records: list, raw_lines: list[bytes] | None = None) -> Path:
    """Write records as JSON lines, then any raw (possibly broken) lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records] + list(raw_lines or [])
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


PROSE = [
    "The committee met on Tuesday to discuss the budget for the coming year and agreed on most items.",
    "Rivers carry sediment from the mountains to the sea, building deltas over thousands of years.",
    "A good library catalogue lets readers find books by author, title, subject and year of publication.",
    "The recipe calls for two cups of flour, one egg, a pinch of salt and enough milk to make a batter.",
    "Astronomers measured the distance to the galaxy using variable stars whose brightness is known.",
    "In the winter the village road is often closed, so the school bus takes the longer valley route.",
]


@pytest.fixture
def prose_records() -> list[dict]:
    return [{"id": f"doc-{i}", "text": t, "lang": "en"} for i, t in enumerate(PROSE)]


def started_engine(workers: int = 2):
    """A local cluster that is up before the run starts, so that every task goes to a worker (a run
    otherwise works through its first units in the driver while the cluster starts)."""
    from curate.engine import Engine

    return Engine(workers=workers, progress=False).start()


def worker_pids(engine) -> set[int]:
    """The process ids of the engine's workers."""
    import os

    return set(engine.client.run(os.getpid).values())


def unit_pids(run_dir: Path) -> set[int]:
    """The process ids that ran a run's units, from their completion markers."""
    return {json.loads(p.read_text())["pid"] for p in (Path(run_dir) / "markers").glob("*/*.json")}


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1, each in a folder of its own;
    yields the scheduler's address and stops them at the end."""
    import subprocess
    import sys
    import time

    from distributed import Client

    root = tmp_path_factory.mktemp("dask-cluster")
    scheduler_file = root / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    dask = [sys.executable, "-m", "dask"]
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(scheduler_file)]
    procs = [subprocess.Popen([*dask, *scheduler, "--no-dashboard"], cwd=root, **quiet)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            if time.monotonic() > deadline:
                pytest.fail("the dask scheduler did not start within 60 s")
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for k in range(2):
            folder = root / f"worker-{k}"
            folder.mkdir()
            worker = [
                "worker",
                address,
                "--nthreads",
                "1",
                "--local-directory",
                str(folder),
                "--no-dashboard",
            ]
            procs.append(subprocess.Popen([*dask, *worker], cwd=folder, **quiet))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
