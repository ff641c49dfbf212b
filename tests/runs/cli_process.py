"""`curate` in a child process, as a scheduler or a person at a terminal runs it, and a slow test stage.

The child imports this module before the CLI, so the `_test_slow` stage is registered in it (and, through
the pickled stage, in its workers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from curate.config import option
from curate.stages.base import Stage, register
from tests.conftest import PROSE, REPO, write_jsonl


@dataclass
class SlowParams:
    seconds: float = option(0.2, help="Sleep this long per batch.")


@register
class SlowStage(Stage):
    """Test stage: sleeps per batch, so a run lasts long enough to be stopped in the middle."""

    name = "_test_slow"
    Params = SlowParams

    def annotate(self, df):
        time.sleep(self.params.seconds)
        return df


def slow_config(
    tmp_path: Path, files: int = 6, seconds: float = 0.3, workers: int = 0, dedup: bool = False
) -> Path:
    """A corpus of `files` JSONL files (one unit each) and a config that spends `seconds` per unit
    (then, with `dedup`, removes exact duplicates: a global stage, with a second pass)."""
    for k in range(files):
        write_jsonl(tmp_path / "data" / f"part-{k}.jsonl", [{"text": f"{t} ({k})"} for t in PROSE])
    config = tmp_path / "slow.yaml"
    config.write_text(
        f"name: slow\ninput:\n  paths: [{tmp_path / 'data'}]\nstages:\n"
        f"  - stage: _test_slow\n    seconds: {seconds}\n  - stage: length_filter\n    min_words: 3\n"
        + ("  - stage: exact_dedup\n" if dedup else "")
        + f"engine:\n  workers: {workers}\n"
    )
    return config


def start(*args, env: dict | None = None) -> subprocess.Popen:
    """`curate ARGS` in a new session (its own process group, as a terminal's foreground job is)."""
    code = "import tests.runs.cli_process; from curate.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *[str(a) for a in args]],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """(stdout, stderr) once `proc` ends; after `timeout` seconds its process group is killed (a stalled
    run must not outlive its test) and the test fails."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"curate did not finish within {timeout} s") from None


def wait_for(predicate, timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def markers(workspace: Path) -> list[Path]:
    return sorted(workspace.glob("runs/*/markers/*/*.json"))


def interrupt_group(proc: subprocess.Popen, sig: int = signal.SIGINT) -> None:
    """Ctrl-C at a terminal: the signal goes to every process of the foreground group."""
    os.killpg(proc.pid, sig)
