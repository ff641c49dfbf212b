"""The command line: documented commands, one-sentence errors with their exit codes, the demo end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from curate import __version__
from curate.cli import main
from tests.conftest import REPO, write_jsonl

COMMANDS = sorted(main.commands)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example_and_is_in_the_readme(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output and f"curate {command}" in result.output.split("Example:")[1]
    assert f"curate {command}" in (REPO / "README.md").read_text(), (
        f"README does not document `curate {command}`"
    )


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "missing.yaml", "-w", "{ws}"], 2, "pipeline config 'missing.yaml' not found"),
        (["run", "{bad}", "-w", "{ws}"], 2, "stages[0].min_word: unknown key. Did you mean 'min_words'?"),
        (["run", "{good}", "-w", "{ws}", "--workers", "many"], 2, "Invalid value for '--workers'"),
        (["run", "{good}", "-w", "{ws}", "--input", "nowhere/*.jsonl"], 2, "no input files found"),
        (["run", "{good}", "-w", "{ws}", "--set", "nokey"], 2, "expected KEY=VALUE"),
        (["status", "-w", "{ws}"], 2, "is not a curate workspace"),
        (["runs", "-w", "{ws}"], 2, "is not a curate workspace"),
        (["stages", "lenght_filter"], 2, "Did you mean 'length_filter'?"),
        (["frobnicate"], 2, "No such command 'frobnicate'"),
    ],
)
def test_user_mistakes_are_one_sentence_and_exit_2(tmp_path, args, code, message):
    good = tmp_path / "good.yaml"
    good.write_text("name: t\ninput:\n  paths: [data]\nstages: []\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ninput:\n  paths: [data]\nstages:\n  - stage: length_filter\n    min_word: 3\n")
    fill = {"{ws}": str(tmp_path / "ws"), "{good}": str(good), "{bad}": str(bad)}
    result = invoke(*[fill.get(a, a) for a in args])
    assert result.exit_code == code
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curate: error: "), result.output
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_run_status_and_runs(tmp_path):
    write_jsonl(
        tmp_path / "data" / "a.jsonl",
        [{"text": "one two three four five six"}, {"text": "short"}],
        [b"{not json"],
    )
    config = tmp_path / "p.yaml"
    config.write_text(
        "name: cli-test\ninput:\n  paths: [data]\nstages:\n  - stage: length_filter\n    min_words: 3\n"
    )
    ws = tmp_path / "ws"
    dry = invoke("run", config, "-w", ws, "--dry-run", "--input", tmp_path / "data")
    assert dry.exit_code == 0 and "min_words: 3" in dry.output and not ws.exists()
    assert (
        "# plan: 1 input files (0.0 MB) in 1 units of up to 1.0 MB for 2 workers" in dry.output
    )  # the floor
    dry = invoke("run", config, "-w", ws, "--dry-run", "--workers", "0", "--input", tmp_path / "data")
    assert "in 1 units of up to 64.0 MB for 1 workers" in dry.output  # in this process: partition_mb
    result = invoke("run", config, "-w", ws, "--workers", "0", "--input", tmp_path / "data", "--json", "-q")
    assert result.exit_code == 0, result.output
    status = json.loads(result.output[result.output.index("{") :])
    assert status["counts"] == {
        "input": 3,
        "kept": 1,
        "removed": {"too_few_words": 1},
        "quarantined": {"malformed_json": 1},
    }
    again = json.loads(invoke("status", "-w", ws, "--json").output)
    assert again["run_id"] == status["run_id"] and again["balanced"] is True
    text = invoke("status", "-w", ws).output
    assert "books        balanced" in text and "too_few_words 1" in text
    table = invoke("runs", "-w", ws).output
    assert status["run_id"] in table and "cli-test" in table


def test_demo_runs_on_the_embedded_corpus(tmp_path):
    result = invoke("demo", "-w", tmp_path / "ws", "--workers", "0", "--json", "-q")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    status, c = out["run"], out["run"]["counts"]
    assert status["state"] == "finished" and status["balanced"] is True
    assert c["input"] == c["kept"] + sum(c["removed"].values()) + sum(c["quarantined"].values())
    assert c["kept"] > 300 and status["output"]["shards"] >= 1
    # The deliberately damaged file shows every kind of bad record; dedup finds the repeated licences.
    assert {"malformed_json", "invalid_utf8", "missing_text", "text_not_string", "empty_text"} <= set(
        c["quarantined"]
    )
    assert c["removed"]["near_duplicate"] >= 10
    # The stand-in evaluation set (pipelines/demo_eval.jsonl) quotes three stdlib modules' docstrings.
    assert c["removed"]["benchmark_contamination"] == 3
    assert status["metrics"]["decontaminate"]["matched_documents:demo_eval"] == 3
    # Package READMEs name their authors: the pii stage replaced their e-mail addresses.
    assert status["metrics"]["pii"]["found:email"] >= 10
    # perplexity scores and buckets every document that reaches it (it removes none by default).
    buckets = status["metrics"]["perplexity"]
    scored = next(s["docs_in"] for s in status["stages"] if s["stage"] == "perplexity")
    assert sum(buckets[f"bucket:{b}"] for b in ("head", "middle", "tail")) == scored > 300
    # token_count (cl100k_base): the run totals the kept documents' tokens beside their text bytes.
    assert status["output"]["tokens"] > status["output"]["text_bytes"] / 8 > 0
    assert status["output"]["tokenizer"] == "cl100k_base"
    # The sweep compares every top f with its random and composition-matched controls, per budget.
    summary = pd.DataFrame(out["sweep"]["summary"])
    budgets = {"fixed_data", *(b for b in summary.budget if b.startswith("fixed_compute@"))}
    assert set(summary.budget) == budgets and len(budgets) == 3  # one pass, T = 1/4 and all of the pool
    top = summary[summary.selection == "top"]
    assert len(top) == 3 * 2 * 3  # fractions x pool sizes x budgets (eval set: pool_holdout)
    assert set(summary.selection) == {"top", "random", "matched"}
    ranked = top[top.fraction < 1]
    assert ranked.gain_random_lo.notna().all() and ranked.verdict.notna().all()
    pool = out["sweep"]["pool"]
    assert pool["in_sample"]["curate-web-quality-v2"]["checked"] and "gopher" in pool["low_quality_judge"]
    assert "fit" not in out  # no scaling fit on a one-size proxy (it was degenerate)

    # the same demo again: the corpus is rebuilt byte for byte, so the run is a no-op and the sweep is the
    # same one, over the lineage's shards
    again = invoke("demo", "-w", tmp_path / "ws", "--workers", "0", "--json", "-q")
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert rerun["run"]["nothing_new"] is True and rerun["run"]["run_id"] == status["run_id"]
    assert rerun["sweep"]["folder"] == out["sweep"]["folder"]


def test_dedup_command_prints_the_summary_and_deduplicates_incrementally(tmp_path):
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho".split()
    base = " ".join(words * 3)
    write_jsonl(
        tmp_path / "b1" / "a.jsonl",
        [
            {"id": "a", "text": base},
            {"id": "b", "text": base + " sigma"},
            {"id": "c", "text": base},
            {"id": "d", "text": "tau " * 40},
        ],
    )
    ws = tmp_path / "out"
    result = invoke("dedup", tmp_path / "b1", "--output", ws, "--id-key", "id", "--workers", "0", "-q")
    assert result.exit_code == 0, result.output
    assert "exact duplicates                1" in result.output
    assert "near duplicates                 1" in result.output
    assert "16 bands x 8 rows" in result.output and "seconds (near)" in result.output
    write_jsonl(
        tmp_path / "b2" / "a.jsonl", [{"id": "e", "text": base + " upsilon"}, {"id": "f", "text": "phi " * 9}]
    )
    again = json.loads(
        invoke(
            "dedup", tmp_path / "b2", "--output", ws, "--id-key", "id", "--workers", "0", "-q", "--json"
        ).stdout
    )
    assert again["counts"]["removed"] == {"near_duplicate": 1} and again["counts"]["kept"] == 1
    bad = invoke("dedup", tmp_path / "b1", "--output", ws, "--bands", "9")
    assert bad.exit_code == 2 and "give --bands and --rows together" in bad.output


def test_dashboard_flag_reaches_the_engine(tmp_path):
    import importlib.util

    if importlib.util.find_spec("bokeh") is not None:
        pytest.skip("bokeh is installed: the dashboard would start")
    good = tmp_path / "good.yaml"
    good.write_text("name: t\ninput:\n  paths: [data]\nstages: []\n")
    result = invoke("run", good, "-w", tmp_path / "ws", "--dashboard")
    assert result.exit_code == 2 and "the Dask dashboard needs bokeh" in result.output
    from_config = invoke("run", good, "-w", tmp_path / "ws", "--set", "engine.dashboard=true")
    assert from_config.exit_code == 2 and "the Dask dashboard needs bokeh" in from_config.output
