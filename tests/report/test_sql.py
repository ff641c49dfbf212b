"""`curate sql` on the demo workspace: the views hold the ledger's books, a query reads and never writes,
and every refusal or bad query is one sentence with exit 2."""

from __future__ import annotations

import csv
import io
import json
import shutil

import duckdb
import pytest

from curate.report.views import VIEWS
from tests.conftest import REPO
from tests.report.conftest import invoke, one_sentence


def sql(ws, query, *options):
    return invoke("sql", "-w", ws, query, *options)


def rows(ws, query, *options) -> list[dict]:
    result = sql(ws, query, "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_views_hold_the_ledgers_books(demo_ws, demo_status):
    counts = demo_status["counts"]
    books = {
        (r["kind"], r["reason"]): r["n"]
        for r in rows(demo_ws, "SELECT kind, reason, sum(n) AS n FROM counts GROUP BY ALL")
    }
    assert books[("input", None)] == counts["input"] and books[("kept", None)] == counts["kept"]
    assert {r: n for (k, r), n in books.items() if k == "removed"} == counts["removed"]
    assert {r: n for (k, r), n in books.items() if k == "quarantined"} == counts["quarantined"]
    # ... and the Parquet views hold the documents the books count
    [found] = rows(
        demo_ws,
        "SELECT (SELECT count(*) FROM kept) AS kept, (SELECT count(*) FROM removed) AS removed, "
        "(SELECT count(*) FROM quarantine) AS quarantined, (SELECT sum(input) FROM sources) AS input",
    )
    assert found == {
        "kept": counts["kept"],
        "removed": sum(counts["removed"].values()),
        "quarantined": sum(counts["quarantined"].values()),
        "input": counts["input"],
    }
    # ... and the ledger's books per source (another grouping of sources) hold the same documents
    [books] = rows(demo_ws, "SELECT sum(input) AS input, sum(kept) AS kept FROM source_books")
    assert books == {"input": counts["input"], "kept": counts["kept"]}
    by_reason = rows(demo_ws, "SELECT reason, count(*) AS n FROM removed GROUP BY reason")
    assert {r["reason"]: r["n"] for r in by_reason} == counts["removed"]
    [run] = rows(demo_ws, "SELECT run_id, state FROM runs")
    assert run == {"run_id": demo_status["run_id"], "state": "finished"}
    stages = rows(demo_ws, "SELECT stage, docs_out FROM stages ORDER BY position")
    assert [s["stage"] for s in stages] == [s["stage"] for s in demo_status["stages"]]
    assert stages[-1]["docs_out"] == counts["kept"]


def test_every_view_is_queryable_and_documented(demo_ws):
    help_text = invoke("sql", "--help").output
    readme = (REPO / "README.md").read_text()
    for view in VIEWS:
        result = sql(demo_ws, f"SELECT count(*) AS n FROM {view}")
        assert result.exit_code == 0, (view, result.output)
        assert f"  {view} " in help_text, f"`curate sql --help` does not document the view {view}"
        assert f"`{view}`" in readme, f"README does not document the view {view}"
    clusters = rows(demo_ws, "SELECT * FROM clusters")
    assert clusters and all(c["size"] == c["removed"] + 1 or c["near_duplicates"] for c in clusters)
    assert {c["keeper"] for c in clusters} <= {"kept", "removed", "earlier run"}


def test_formats_and_limits(demo_ws, demo_status):
    table = sql(demo_ws, "SELECT id, reason FROM removed ORDER BY id", "--limit", "3")
    assert table.exit_code == 0, table.output
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["id", "reason"] and len(lines) == 2 + 3 + 1
    assert "there are more" in lines[-1]
    parsed = list(csv.DictReader(io.StringIO(sql(demo_ws, "FROM quarantine", "--format", "csv").stdout)))
    assert len(parsed) == sum(demo_status["counts"]["quarantined"].values())
    assert {"id", "source", "offset", "reason", "detail", "raw"} <= set(parsed[0])
    raw = rows(demo_ws, "SELECT raw FROM quarantine WHERE reason = 'invalid_utf8'")
    assert "\\xe9" in raw[0]["raw"]  # bytes that are not UTF-8 stay readable in JSON
    described = rows(demo_ws, "DESCRIBE kept")
    assert {"id", "text", "source", "quality_score", "dup_cluster_id"} <= {
        c["column_name"] for c in described
    }


def test_run_option_chooses_the_run(demo_ws, demo_status):
    [row] = rows(demo_ws, "SELECT count(*) AS n FROM kept", "--run", demo_status["run_id"])
    assert row["n"] == demo_status["counts"]["kept"]
    line = one_sentence(sql(demo_ws, "SELECT 1", "--run", "20990101-000000-abcdef"))
    assert "no run '20990101-000000-abcdef'" in line and "curate runs" in line


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("COPY kept TO '{out}'", "COPY"),
        ("COPY (SELECT * FROM kept) TO '{out}' (FORMAT PARQUET)", "COPY"),
        ("ATTACH '{ledger}' AS l", "ATTACH"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("CREATE TABLE t AS SELECT * FROM kept", "CREATE"),
        ("DROP VIEW kept", "DROP"),
        ("DELETE FROM runs", "DELETE"),
        ("SET enable_external_access = true", "SET"),
        ("SELECT 1; DROP TABLE runs", "2 statements"),
    ],
)
def test_writes_and_other_statements_are_refused_in_one_sentence(demo_ws, tmp_path, query, word):
    out = tmp_path / "out.csv"
    line = one_sentence(sql(demo_ws, query.format(out=out, ledger=demo_ws / "ledger.duckdb")))
    assert word in line and "read-only SELECT" in line
    assert not out.exists()


def test_the_ledger_is_unchanged_by_refused_statements(demo_ws, demo_status):
    one_sentence(sql(demo_ws, f"ATTACH '{demo_ws / 'ledger.duckdb'}' AS l; DROP TABLE l.runs"))
    with duckdb.connect(str(demo_ws / "ledger.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("SELECT * FROM nowhere", ["Table with name nowhere does not exist", "the views are kept, removed"]),
        ("SELECT no_such_column FROM kept", ["no_such_column", "the views are kept", "DESCRIBE kept"]),
        ("SELEC id FROM kept", ["does not parse", "syntax error"]),
        ("SELECT 'x'::INTEGER", ["Conversion Error"]),
        ("SELECT * FROM read_csv('/etc/passwd')", ["refused access to '/etc/passwd'"]),
        ("SELECT * FROM glob('/etc/*')", ["refused access"]),
        ("", ["the query is empty"]),
    ],
)
def test_a_bad_query_is_one_sentence(demo_ws, query, words):
    line = one_sentence(sql(demo_ws, query))
    for word in words:
        assert word in line, line
    assert "root:" not in line


def test_a_folder_that_is_not_a_workspace_is_one_sentence(tmp_path):
    assert "is not a curate workspace" in one_sentence(sql(tmp_path / "nothing", "SELECT 1"))


def test_a_workspace_path_with_a_quote_and_a_bracket(demo_ws, demo_status, tmp_path):
    """The views read exactly their files wherever the workspace is: here a copy under `it's [1]`, where
    a glob reading of `[1]` would match `1` and an unquoted `'` would end the SQL string."""
    hostile = tmp_path / "it's [1]" / "ws"
    shutil.copytree(demo_ws, hostile, symlinks=True)
    decoy = tmp_path / "it's 1" / "ws" / "runs"  # what `[1]` would match as a glob
    decoy.mkdir(parents=True)
    [found] = rows(
        hostile, "SELECT (SELECT count(*) FROM kept) AS kept, (SELECT count(*) FROM lineage_kept) AS l"
    )
    assert found == {"kept": demo_status["counts"]["kept"], "l": demo_status["counts"]["kept"]}
    result = invoke("inspect", "-w", hostile, "--reason", "too_few_words", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert (
        f"{demo_status['counts']['removed']['too_few_words']:,} documents removed as too_few_words"
        in result.stdout
    )
