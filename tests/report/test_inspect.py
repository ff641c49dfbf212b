"""`curate inspect` on the demo workspace: by reason, cluster, id and source, read from the run's outputs."""

from __future__ import annotations

import json
import re

import pytest

from tests.report.conftest import invoke, one_sentence

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def inspect(ws, *options):
    result = invoke("inspect", "-w", ws, *options)
    assert result.exit_code == 0, result.output
    return result.stdout


def row(ws, query: str) -> dict:
    """The first row of a `curate sql` query."""
    result = invoke("sql", "-w", ws, query, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0]


def first(ws, query: str):
    return next(iter(row(ws, query).values()))


def test_overview_says_where_to_look(demo_ws, demo_status):
    out = inspect(demo_ws)
    assert f"run {demo_status['run_id']}  finished" in out
    assert f"kept {demo_status['counts']['kept']:,}" in out
    for reason, n in demo_status["counts"]["removed"].items():
        assert re.search(rf"{reason}\s+{n:,}\b", out), reason
    assert "malformed_json" in out and "--cluster ID" in out and "--source SOURCE" in out
    assert first(demo_ws, "SELECT cluster_id FROM clusters LIMIT 1") in out


def test_reason_shows_a_sample_with_the_failing_value_and_the_rule(demo_ws, demo_status):
    n = demo_status["counts"]["removed"]["too_few_words"]
    out = inspect(demo_ws, "--reason", "too_few_words", "--limit", "3")
    assert f"{n:,} documents removed as too_few_words by length_filter; 3 shown" in out
    assert "rule  length_filter: " in out and "min_words=20" in out
    assert out.count("  decision   removed by length_filter: too_few_words (n_words=") == 3
    assert out.count("  signals    n_words ") == 3 and "    | " in out  # the signals and the text
    # a rule of quality_filter: the failing value is lang_score, shown with the scores
    lang = inspect(demo_ws, "--reason", "language_low_confidence", "--limit", "2")
    assert "(lang_score=" in lang and "  scores     lang " in lang and "quality_score " in lang
    assert "min_language_score=0.5" in lang


def test_reason_of_quarantine_shows_the_raw_record(demo_ws):
    out = inspect(demo_ws, "--reason", "malformed_json")
    assert "1 record quarantined as malformed_json" in out
    assert (
        "quarantined: malformed_json (Unterminated string" in out and '  raw        {"id": "bad-json"' in out
    )


def test_unknown_reason_is_one_sentence_naming_the_reasons(demo_ws):
    line = one_sentence(invoke("inspect", "-w", demo_ws, "--reason", "too_short"))
    assert "has no reason 'too_short'" in line and "too_few_words" in line and "malformed_json" in line


def test_cluster_shows_the_kept_member_beside_removed_ones(demo_ws):
    cluster = first(demo_ws, "SELECT cluster_id FROM clusters WHERE near_duplicates > 0 LIMIT 1")
    size = first(demo_ws, f"SELECT size FROM clusters WHERE cluster_id = '{cluster}'")
    out = inspect(demo_ws, "--cluster", cluster, "--limit", "2", "--no-color")
    assert f"cluster {cluster} (its kept document: kept): {size} documents" in out
    assert "2 shown beside it" in out
    pairs = [line for line in out.splitlines() if line.startswith("kept: ")]
    assert len(pairs) == 2 and all(" | removed: " in line for line in pairs)
    assert "[-" in out or "{+" in out  # the words only one text has, marked without colour
    assert out.count("  words only in the kept text: ") == 2
    assert "\x1b[" not in out
    # With colour, the differences are highlighted instead of marked.
    coloured = inspect(demo_ws, "--cluster", cluster, "--limit", "1", "--color")
    assert "\x1b[31" in coloured and "\x1b[32" in coloured  # red: only in the kept text; green: removed
    assert (
        "([-marked-]" not in coloured and ANSI.sub("", coloured).count("  words only in the kept text") == 1
    )


def test_cluster_by_a_member_and_an_exact_duplicate(demo_ws):
    member = row(demo_ws, "SELECT id, duplicate_of FROM removed WHERE reason = 'near_duplicate' LIMIT 1")
    member, keeper = member["id"], member["duplicate_of"]
    out = inspect(demo_ws, "--cluster", member, "--limit", "1")
    assert f"{member} was removed as a duplicate of {keeper}; its cluster:" in out
    # a cluster of exact copies only (in a mixed one the near members may be shown first), whose kept
    # text the demo's pii stage (after dedup) left as it was
    exact = first(
        demo_ws,
        "SELECT cluster_id FROM clusters WHERE near_duplicates = 0 AND keeper = 'kept' AND cluster_id IN "
        "(SELECT id FROM kept WHERE text NOT LIKE '%<<%>>%') ORDER BY cluster_id LIMIT 1",
    )
    out = inspect(demo_ws, "--cluster", exact)
    assert "exact_duplicate" in out and "the same words in the same order" in out


def test_unknown_cluster_is_one_sentence(demo_ws):
    line = one_sentence(invoke("inspect", "-w", demo_ws, "--cluster", "no/such/document"))
    assert "'no/such/document' names no duplicate cluster" in line and "the largest is" in line


def test_id_shows_the_decision_signals_and_scores(demo_ws):
    kept = first(demo_ws, "SELECT id FROM kept WHERE quality_score IS NOT NULL ORDER BY id LIMIT 1")
    out = inspect(demo_ws, "--id", kept)
    assert "  decision   kept" in out and "quality_score " in out and "gopher_word_count " in out
    removed = first(demo_ws, "SELECT id FROM removed WHERE reason = 'too_few_words' ORDER BY id LIMIT 1")
    out = inspect(demo_ws, "--id", removed)
    assert "  decision   removed by length_filter: too_few_words (n_words=" in out
    quarantined = first(demo_ws, "SELECT id FROM quarantine WHERE reason = 'invalid_utf8'")
    assert "quarantined: invalid_utf8" in inspect(demo_ws, "--id", quarantined)


def test_unknown_id_is_one_sentence(demo_ws):
    line = one_sentence(invoke("inspect", "-w", demo_ws, "--id", "stdlib_docs.jsonl.gz#0x"))
    assert "no document 'stdlib_docs.jsonl.gz#0x'" in line and "the closest id is" in line


def test_source_shows_its_books_and_the_removed_first(demo_ws):
    books = row(demo_ws, "SELECT * FROM sources WHERE source = 'deliberately_damaged.jsonl'")
    out = inspect(demo_ws, "--source", "deliberately_damaged.jsonl", "--limit", "10")
    assert (
        f"source deliberately_damaged.jsonl: input {books['input']}, kept {books['kept']}, removed "
        f"{books['removed']}, quarantined {books['quarantined']}"
    ) in out
    assert "  removed     too_few_words 2" in out
    assert "  quarantined empty_text 1, invalid_utf8 1, malformed_json 1, missing_text 1" in out
    decisions = re.findall(r"^  decision   (\w+)", out, flags=re.MULTILINE)
    assert decisions == sorted(decisions, key=lambda d: {"removed": 0, "kept": 1, "quarantined": 2}[d])
    folder = inspect(demo_ws, "--source", "licenses/numpy", "--limit", "2")
    assert re.search(r"source licenses/numpy \(\d+ sources\): input \d+", folder)


def test_unknown_source_and_two_selectors_are_one_sentence(demo_ws):
    line = one_sentence(invoke("inspect", "-w", demo_ws, "--source", "stdlib_docs.jsonl"))
    assert "has no source 'stdlib_docs.jsonl'; the closest are stdlib_docs.jsonl.gz" in line
    line = one_sentence(invoke("inspect", "-w", demo_ws, "--reason", "x", "--id", "y"))
    assert "give at most one of --reason, --cluster, --id and --source" in line


@pytest.mark.parametrize("chars", ["60", "2000"])
def test_texts_are_cut_at_chars(demo_ws, chars):
    out = inspect(demo_ws, "--reason", "language_low_confidence", "--limit", "1", "--chars", chars)
    text = "\n".join(line[6:] for line in out.splitlines() if line.startswith("    | "))
    assert len(text.replace("\n", " ")) <= int(chars) + 1
