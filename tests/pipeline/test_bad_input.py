"""Bad input end to end (issue 12): the CLI finishes with balanced books, whatever a record holds."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pyarrow.parquet as pq
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


def repeated_id_corpus(root):
    write_jsonl(
        root / "a.jsonl",
        [
            {"id": "a0", "text": PROSE[0]},  # unique text; its id is repeated below
            {"id": "a0", "text": PROSE[1]},  # repeated id: quarantined
            {"id": "0a", "text": PROSE[1]},  # same text as the copy above: must stay, nothing duplicates it
            {"id": "c", "text": PROSE[2]},
            {"id": "c", "text": PROSE[2]},  # same id, same text: quarantined, not silently kept twice
            {"id": 7, "text": PROSE[3]},
            {"id": "7", "text": PROSE[4]},  # ids are strings: "7" repeats 7
        ],
    )
    write_jsonl(root / "b.jsonl", [{"id": "a0", "text": PROSE[5]}])  # repeated across files
    return root


def test_a_repeated_id_is_quarantined_and_never_steers_dedup(tmp_path):
    data = repeated_id_corpus(tmp_path / "data")
    ws = tmp_path / "ws"
    status = status_of(
        invoke("dedup", data, "--output", ws, "--id-key", "id", "--workers", "0", "-q", "--json")
    )
    assert status["balanced"] and status["counts"]["input"] == 8
    assert status["counts"]["quarantined"] == {"duplicate_id": 4}
    out = pq.read_table(sorted((ws / "latest" / "output").glob("*.parquet"))).to_pylist()
    assert sorted((d["id"], d["text"]) for d in out) == sorted(
        [("a0", PROSE[0]), ("0a", PROSE[1]), ("c", PROSE[2]), ("7", PROSE[3])]
    )
    bad = pq.read_table(sorted((ws / "latest" / "quarantine").glob("*.parquet"))).to_pylist()
    assert sorted((b["source"], json.loads(b["raw"])["text"]) for b in bad) == sorted(
        [("a.jsonl", PROSE[1]), ("a.jsonl", PROSE[2]), ("a.jsonl", PROSE[4]), ("b.jsonl", PROSE[5])]
    )


def test_repeated_ids_can_be_rekeyed_instead(tmp_path):
    data = repeated_id_corpus(tmp_path / "data")
    config = tmp_path / "p.yaml"
    config.write_text(
        f"name: rekey\ninput:\n  paths: [{data}]\n  id_key: id\n  duplicate_ids: rekey\n"
        "  partition_mb: 0.0001\nstages:\n  - stage: exact_dedup\n"
    )
    status = status_of(invoke("run", config, "-w", tmp_path / "ws", "--workers", "0", "-q", "--json"))
    assert status["balanced"] and status["counts"]["quarantined"] == {}
    assert status["counts"]["removed"] == {"exact_duplicate": 2}  # the copies of PROSE[1] and of PROSE[2]
    out = pq.read_table(sorted((tmp_path / "ws" / "latest" / "output").glob("*.parquet"))).to_pylist()
    ids = sorted(d["id"] for d in out)
    assert len(ids) == len(set(ids)) == 6
    assert {"a0", "c", "7"} <= set(ids) and any(i.startswith("a0@b.jsonl#") for i in ids)


def test_a_resumed_run_settles_repeated_ids_the_same_way(tmp_path):
    data = repeated_id_corpus(tmp_path / "data")
    flag = tmp_path / "crash-now"
    flag.write_text("1")
    config = tmp_path / "p.yaml"
    config.write_text(
        f"name: resume-ids\ninput:\n  paths: [{data}]\n  id_key: id\nstages:\n  - stage: exact_dedup\n"
        f"  - stage: _test_fail_while_flag\n    flag_file: {flag}\n"
    )
    ws = tmp_path / "ws"
    failed = invoke("run", config, "-w", ws, "--workers", "0", "-q")
    assert failed.exit_code == 1 and "4 records repeat an earlier record's id" in failed.output
    flag.unlink()
    resumed = invoke("run", config, "-w", ws, "--workers", "0", "-q", "--json", "--resume", "last")
    assert "2 of 2 units already done" in resumed.output and "repeat an earlier" not in resumed.output
    status = status_of(resumed)
    assert status["balanced"] and status["counts"]["quarantined"] == {"duplicate_id": 4}
    assert status["counts"]["kept"] == 4


@dataclass
class FlagParams:
    flag_file: str = option("", help="Raise while this file exists.")


@register
class FailWhileFlag(Stage):
    """Test stage: raises while a flag file exists."""

    name = "_test_fail_while_flag"
    Params = FlagParams

    def annotate(self, df):
        if os.path.exists(self.params.flag_file):
            raise RuntimeError("simulated crash")
        return df
