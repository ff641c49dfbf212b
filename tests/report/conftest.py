"""The demo workspace, built once for the report tests: the demo pipeline on the embedded corpus, in
this process (`--workers 0`), without the sweep that `curate demo` adds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from curate.cli import main
from curate.demo import build_demo_corpus
from curate.resources import pipeline_path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_sentence(result, code: int = 2) -> str:
    """The user error's one line on stderr (`curate: error: ...`), with no traceback."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curate: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    corpus = root / "demo-corpus"
    build_demo_corpus(corpus)
    ws = root / "ws"
    result = invoke(
        "run", pipeline_path("demo"), "-w", ws, "--input", corpus, "--workers", "0", "-q", "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "finished"
    return ws


@pytest.fixture(scope="session")
def demo_status(demo_ws) -> dict:
    from curate.runs.summary import run_status
    from curate.runs.workspace import Workspace

    return run_status(Workspace(demo_ws))
