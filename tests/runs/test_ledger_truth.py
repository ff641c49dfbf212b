"""The ledger tells the truth about runs that did not end normally: killed, terminated, interrupted."""

from __future__ import annotations

import json
import signal

import duckdb
import psutil
import pytest
from click.testing import CliRunner

from curate.cli import main
from curate.engine import Engine
from curate.pipeline.runner import Runner
from curate.pipeline.spec import load_pipeline
from curate.runs.driver import Driver
from curate.runs.ledger import Ledger
from curate.runs.recovery import recover
from curate.runs.workspace import Workspace
from tests.runs import cli_process


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def status_json(ws) -> dict:
    result = invoke("status", "-w", ws, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_killed_run_is_marked_failed_by_the_next_command_and_resumes(tmp_path):
    config, ws = cli_process.slow_config(tmp_path), tmp_path / "ws"
    proc = cli_process.start("run", config, "-w", ws, "-q")
    cli_process.wait_for(lambda: cli_process.markers(ws), what="a finished unit")
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    status = status_json(ws)
    assert status["state"] == "failed"
    assert "process gone" in status["error"] and f"pid {proc.pid}" in status["error"]
    assert f"--resume {status['run_id']}" in status["error"]
    table = invoke("runs", "-w", ws).output
    assert "failed" in table and "running" not in table
    resumed = invoke("run", config, "-w", ws, "--resume", "last", "--json", "-q")
    assert resumed.exit_code == 0, resumed.output
    assert status_json(ws)["state"] == "finished"


def test_a_running_run_is_failed_only_when_its_own_driver_process_is_gone(tmp_path):
    ledger = Ledger(tmp_path / "ledger.duckdb")
    ledger.init()
    me = Driver.this_process()
    drivers = {
        "alive": me,
        "pid-reused": Driver(me.pid, me.host, me.started - 100),  # same id, another process's start time
        "other-host": Driver(1, "elsewhere.example", 0.0),  # cannot be checked from here
    }
    for run_id, driver in drivers.items():
        ledger.start_run(run_id, "p", "c.yaml", f"/runs/{run_id}", "engine", "0", driver)
    recover(Workspace(tmp_path), ledger)
    states = {r["run_id"]: r["state"] for r in ledger.runs()}
    assert states == {"alive": "running", "pid-reused": "failed", "other-host": "running"}
    assert "process gone" in ledger.run_row("pid-reused")["error"]


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in the driver."""


def test_a_kill_after_the_last_ledger_write_leaves_a_finished_run_with_its_latest_link(tmp_path, monkeypatch):
    config, ws = cli_process.slow_config(tmp_path, files=2, seconds=0, dedup=True), tmp_path / "ws"
    pipeline = load_pipeline(config)

    def killed(self, run):
        raise _Killed

    monkeypatch.setattr(Runner, "_point_latest", killed)
    with pytest.raises(_Killed):
        Runner(pipeline, Workspace(ws), Engine(workers=0, progress=False), log=lambda m: None).run()
    monkeypatch.undo()
    [run_dir] = (ws / "runs").iterdir()
    assert not (ws / "latest").exists()  # the state the kill left: finished in the ledger, no link,
    assert (run_dir / "work").is_dir()  # the intermediate files not yet deleted

    status = status_json(ws)  # the next command that looks re-makes the link from the ledger
    assert status["state"] == "finished" and status["run_id"] == run_dir.name
    assert (ws / "latest").resolve() == run_dir.resolve()
    assert not (run_dir / "work").exists()  # and removes what the finished run left to delete
    again = invoke("run", config, "-w", ws, "--resume", "last")
    assert again.exit_code == 2 and "no unfinished run" in again.output


def _alive(pids: list[int]) -> list[int]:
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_sigterm_ends_a_run_as_cleanly_as_ctrl_c(tmp_path):
    config, ws = cli_process.slow_config(tmp_path, files=8, seconds=0.4, workers=2), tmp_path / "ws"
    proc = cli_process.start("run", config, "-w", ws, "-q")
    driver = psutil.Process(proc.pid)
    # wait until the workers have finished units (not only the driver while the cluster started)
    cli_process.wait_for(lambda: len(cli_process.markers(ws)) >= 3, what="three finished units")
    cluster = [p.pid for p in driver.children(recursive=True)]
    assert len(cluster) >= 2  # the fork server and the workers
    proc.send_signal(signal.SIGTERM)
    _out, err = cli_process.finish(proc, 60)

    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == (
        "curate: terminated (SIGTERM); finished units are kept, continue with --resume last."
    )
    assert "Traceback" not in err
    cli_process.wait_for(lambda: not _alive(cluster), timeout=10, what="the cluster's processes to end")
    ledger = Ledger(ws / "ledger.duckdb")
    [run] = ledger.runs()
    assert run["state"] == "interrupted"  # written by the driver, not a stale run found later
    units = {r["unit_id"] for r in ledger.table("shards", run["run_id"])}
    assert units >= {p.stem for p in cli_process.markers(ws)} - {"p0.plan"}
    resumed = invoke("run", config, "-w", ws, "--resume", "last", "--workers", "0", "-q")
    assert resumed.exit_code == 0, resumed.output


def test_ctrl_c_prints_one_line_and_no_worker_tracebacks(tmp_path):
    config, ws = cli_process.slow_config(tmp_path, files=8, seconds=0.4, workers=2), tmp_path / "ws"
    proc = cli_process.start("run", config, "-w", ws, "-q")
    cli_process.wait_for(lambda: len(cli_process.markers(ws)) >= 3, what="three finished units")
    cli_process.interrupt_group(proc)  # a terminal sends Ctrl-C to the driver and its workers alike
    _out, err = cli_process.finish(proc, 60)

    assert proc.returncode == 130, err
    [opened, stopped] = err.strip().splitlines()  # the run's first line, then the interruption's
    assert opened.startswith("curate: run ")
    assert stopped == "curate: interrupted; finished units are kept, continue with --resume last."
    [run] = Ledger(ws / "ledger.duckdb").runs()
    assert run["state"] == "interrupted"


def test_a_ledger_killed_before_its_tables_were_committed_reads_as_no_runs(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    duckdb.connect(str(ws / "ledger.duckdb")).close()  # the file exists, its first transaction never ended
    result = invoke("status", "-w", ws)
    assert result.exit_code == 2 and "has no runs yet" in result.output
    assert invoke("runs", "-w", ws).exit_code == 0
