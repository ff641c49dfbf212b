"""Bad input end to end (issue 12): the CLI finishes with balanced books, whatever a record holds."""

from __future__ import annotations

import json

from click.testing import CliRunner

from curate.cli import main
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
