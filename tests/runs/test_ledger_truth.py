"""The ledger tells the truth about runs that did not end normally: killed, terminated, interrupted."""

from __future__ import annotations

import json
import signal

from click.testing import CliRunner

from curate.cli import main
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
