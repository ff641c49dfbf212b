"""The README's Dagster example, run as written by Dagster's in-process executor against a real workspace."""

from __future__ import annotations

import json
import os
import random
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, write_jsonl
from tests.runs.test_scheduled import CONFIG, docs, ledger, setup

dg = pytest.importorskip(
    "dagster", reason="the orchestrator tests need the `dagster` extra: make test-orchestrators"
)


def readme_example(marker: str) -> str:
    """The first ```python block after `marker` in the README."""
    text = (REPO / "README.md").read_text()
    found = re.search(re.escape(marker) + r".*?```python\n(.*?)```", text, re.S)
    assert found, f"no python example after {marker!r} in the README"
    return found.group(1)


@pytest.fixture
def dagster_example(tmp_path, monkeypatch):
    """The example's module, with CONFIG and WORKSPACE pointed at a test folder and this `curate` on PATH."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster-home"))
    (tmp_path / "dagster-home").mkdir()
    limits = {"drift": {"max_duplicate_rate_change": 0.2}}
    config, data, ws = setup(tmp_path, {**CONFIG, **limits})
    module: dict = {}
    # dont_inherit: the example runs as its own module, without this file's `from __future__` imports
    exec(compile(readme_example("**Dagster**"), "README-dagster.py", "exec", dont_inherit=True), module)
    module.update(CONFIG=str(config), WORKSPACE=str(ws))
    return module, data, ws


def op_output(result, op: str):
    return result.output_for_node(op)


def test_the_readme_dagster_job_runs_nightly_noops_and_fails_on_drift(dagster_example):
    example, data, ws = dagster_example
    job = example["curate_nightly"]
    assert example["defs"].get_job_def("curate_nightly") is not None  # the definitions load

    first = job.execute_in_process()
    assert first.success
    status = op_output(first, "curate_run")
    assert status["state"] == "finished" and status["counts"]["input"] == 12 and not status["nothing_new"]

    again = job.execute_in_process()  # nothing new: a success that says so
    assert again.success and op_output(again, "curate_run")["nothing_new"]
    assert "nothing new" in op_output(again, "curate_run")["message"]
    assert len(ledger(ws, "SELECT run_id FROM runs")) == 1

    a = [json.loads(line) for line in (data / "a.jsonl").read_text().splitlines()]
    write_jsonl(data / "c.jsonl", [*a[:4], *docs(random.Random(7), 2)])  # two thirds are copies
    drifted = job.execute_in_process(raise_on_error=False)
    assert not drifted.success
    failure = drifted.failure_data_for_node("curate_run")
    assert failure.user_failure_data.description == "curate: drift beyond the limits"
    drift = failure.user_failure_data.metadata["drift"].value
    assert drift["exceeded"][0]["metric"] == "duplicate_rate"
    states = ledger(ws, "SELECT state FROM runs ORDER BY started_at")
    assert states == [("finished",), ("finished",)]  # the drifted run was published all the same
    assert not drifted.is_node_success("curate_gc")  # retention waits until someone looked
