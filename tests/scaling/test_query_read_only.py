"""`curate fit --query` reads the files it names and nothing else: no writes, no ATTACH, no extensions."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from curate.scaling.cli import fit
from tests.scaling.test_scaling_cli import FAST, _frame

README_QUERY = """SELECT * FROM 'ws/sweeps/web-sweep-*/results.parquet'
    WHERE model = 'ngram' AND budget = 'fixed_data' AND eval_set = 'pool_holdout'"""


def invoke(*args):
    return CliRunner().invoke(fit, [str(a) for a in args] + ["--json", "--bootstrap", "0", *FAST])


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """Two sweeps' results.parquet holding the Chinchilla runs (and rows the README's filter drops),
    a ledger, and a secret beside them; the current folder is tmp_path, as in the README."""
    monkeypatch.chdir(tmp_path)
    frame = _frame("chinchilla").assign(model="ngram", budget="fixed_data", eval_set="pool_holdout")
    noise = frame.assign(model="transformer", loss=frame["loss"] * 3)
    for k, part in enumerate((frame.iloc[::2], frame.iloc[1::2])):
        folder = tmp_path / "ws" / "sweeps" / f"web-sweep-{k}"
        folder.mkdir(parents=True)
        pd.concat([part, noise.iloc[k::2]]).to_parquet(folder / "results.parquet")
    frame.to_csv(tmp_path / "runs.csv", index=False)
    with duckdb.connect(str(tmp_path / "ws" / "ledger.duckdb")) as con:
        con.execute("CREATE TABLE runs AS SELECT 1 AS run_id")
    (tmp_path / "secret.txt").write_text("params,tokens,loss\n1,2,3\n")
    return tmp_path


def ledger_tables(ws) -> list[str]:
    with duckdb.connect(str(ws / "ws" / "ledger.duckdb"), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]


def refused(result, *words: str) -> str:
    """The one-sentence refusal (exit 2), which names what was refused."""
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line.startswith("curate: error: --query ") and "\n" not in line, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in line, line
    return line


def test_the_readme_query_reads_the_named_parquet_files(workspace):
    plain = invoke(workspace / "runs.csv")
    queried = invoke("--query", README_QUERY)
    assert plain.exit_code == 0 and queried.exit_code == 0, queried.output
    # The same runs in another order (two files): the same fit up to the optimizer's tolerance.
    assert json.loads(queried.stdout)["params"] == pytest.approx(json.loads(plain.stdout)["params"], rel=1e-6)
    named_csv = invoke("--query", "SELECT params, tokens, loss FROM read_csv('runs.csv')")
    assert named_csv.exit_code == 0, named_csv.output


def test_copy_to_is_refused_and_writes_nothing(workspace):
    refused(invoke("--query", "COPY (SELECT 1 AS params) TO 'out.csv'"), "COPY")
    assert not (workspace / "out.csv").exists()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT content AS params FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/' || 'passwd')",
        "SELECT * FROM read_csv('secret.txt')",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_files_the_query_does_not_name_as_data_are_refused(workspace, query):
    line = refused(invoke("--query", query), "may read only")
    assert "root:" not in line


def test_attach_and_drop_of_a_ledger_are_refused_and_change_nothing(workspace):
    refused(invoke("--query", "ATTACH 'ws/ledger.duckdb' AS l; DROP TABLE l.runs"), "ATTACH", "DROP")
    refused(invoke("--query", "ATTACH 'ws/ledger.duckdb' AS l"), "ATTACH")
    # Through the database the query runs on: it is opened read-only, and ATTACH of it again is refused.
    refused(invoke(workspace / "ws" / "ledger.duckdb", "--query", "DROP TABLE runs"), "DROP")
    refused(invoke(workspace / "ws" / "ledger.duckdb", "--query", "ATTACH 'ws/ledger.duckdb' AS w"), "ATTACH")
    assert ledger_tables(workspace) == ["runs"]


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("CREATE TABLE t AS SELECT 1 AS params", "CREATE"),
        ("SET enable_external_access = true", "SET"),
        ("PRAGMA version", "PRAGMA"),
        ("SELECT 1 AS params; SELECT 2 AS params", "2 statements"),
    ],
)
def test_statements_other_than_one_select_are_refused(workspace, query, word):
    refused(invoke("--query", query), word)
