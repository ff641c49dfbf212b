"""Bad input end to end (issue 12): the CLI finishes with balanced books, whatever a record holds."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from click.testing import CliRunner

from curate.cli import main
from curate.config import option
from curate.stages.base import Stage, register
from tests.conftest import PROSE, REPO, write_jsonl


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def status_of(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def balanced(counts: dict) -> bool:
    removed = counts["removed"].values() if isinstance(counts["removed"], dict) else [counts["removed"]]
    return counts["input"] == counts["kept"] + sum(removed) + sum(counts["quarantined"].values())


LONE_SURROGATES = [
    b'{"id": "s1", "text": "a lone \\ud800 surrogate in the text of a document that has enough words"}',
    b'{"id": "s2", "text": "a lone surrogate in an extra field of a document with words", "x": "\\udc00"}',
    b'{"id": "\\ud800", "text": "a lone surrogate in the id of a document that has enough words"}',
]


def test_lone_surrogates_do_not_crash_dedup_or_run(tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl", [{"id": f"p{i}", "text": t} for i, t in enumerate(PROSE)], LONE_SURROGATES
    )
    dedup = status_of(invoke("dedup", path, "--output", tmp_path / "dws", "--workers", "0", "-q", "--json"))
    assert dedup["balanced"] and dedup["counts"]["kept"] == len(PROSE) + 3
    run = status_of(
        invoke(
            "run",
            REPO / "pipelines" / "demo.yaml",
            "-w",
            tmp_path / "rws",
            "--input",
            path,
            "--workers",
            "0",
            "-q",
            "--json",
        )
    )
    assert run["balanced"] and balanced(run["counts"]) and run["counts"]["input"] == len(PROSE) + 3


def test_an_input_file_that_cannot_be_opened_is_one_sentence_and_exit_2(tmp_path):
    write_jsonl(tmp_path / "d" / "good.jsonl", [{"text": t} for t in PROSE])
    (tmp_path / "d" / "gone.jsonl").symlink_to(tmp_path / "moved-away.jsonl")
    result = invoke("dedup", tmp_path / "d", "--output", tmp_path / "ws", "--workers", "0", "-q")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "Traceback" not in result.output
    assert "cannot read input file" in result.output and "gone.jsonl" in result.output


@dataclass
class ChangeParams:
    flag_file: str = option("", help="While this file exists, append a record to `target`.")
    target: str = option("", help="The input file to change.")


@register
class ChangeInput(Stage):
    """Test stage: while it reads part-0, changes another input file (a file replaced during a run)."""

    name = "_test_change_input"
    Params = ChangeParams

    def annotate(self, df):
        if os.path.exists(self.params.flag_file) and df["source"].str.contains("part-0").any():
            with open(self.params.target, "ab") as f:
                f.write(b'{"text": "a record that arrived during the run"}\n')
        return df


def test_an_input_file_changed_during_a_run_fails_it_cleanly_and_resume_works(tmp_path):
    data = tmp_path / "data"
    for k in range(3):
        write_jsonl(data / f"part-{k}.jsonl", [{"text": f"{t} ({k})"} for t in PROSE])
    original = (data / "part-2.jsonl").read_bytes()
    flag = tmp_path / "change-now"
    flag.write_text("1")
    config = tmp_path / "p.yaml"
    config.write_text(
        "name: change-test\ninput:\n  paths: [data]\nstages:\n"
        f"  - stage: _test_change_input\n    flag_file: {flag}\n    target: {data / 'part-2.jsonl'}\n"
        "  - stage: exact_dedup\n"
    )
    ws = tmp_path / "ws"
    failed = invoke("run", config, "-w", ws, "--input", data, "--workers", "0", "-q")
    assert failed.exit_code == 1 and "Traceback" not in failed.output
    assert f"input file '{data / 'part-2.jsonl'}' changed after the run started" in failed.output
    (run_dir,) = (ws / "runs").iterdir()
    assert "InputChanged" in (run_dir / "error.txt").read_text()

    flag.unlink()
    refused = invoke("run", config, "-w", ws, "--input", data, "--workers", "0", "-q", "--resume", "last")
    assert refused.exit_code == 2 and "part-2.jsonl" in refused.output
    (data / "part-2.jsonl").write_bytes(original)  # restored: same bytes, a new modification time
    resumed = status_of(
        invoke("run", config, "-w", ws, "--input", data, "--workers", "0", "-q", "--json", "--resume", "last")
    )
    assert resumed["run_id"] == run_dir.name and resumed["balanced"]
    assert resumed["counts"]["input"] == 3 * len(PROSE) and resumed["counts"]["kept"] == 3 * len(PROSE)
