"""`curate fit` through click's CliRunner: JSON shape, inputs (CSV, Parquet, DuckDB), errors, plots, help."""

from __future__ import annotations

import json

import click
import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from curate.errors import InputError
from curate.scaling.cli import fit
from tests.scaling.synthetic import simulate

# Small grid for speed: 8 starts instead of 4,500.
FAST = [
    "--grid",
    "e=0,1",
    "--grid",
    "a=5,10",
    "--grid",
    "b=5,10",
    "--grid",
    "alpha=0.5",
    "--grid",
    "beta=0.5",
]


def _frame(law: str, seed: int = 0) -> pd.DataFrame:
    runs = simulate(law, seed=seed)
    frame = pd.DataFrame({"params": runs.params, "tokens": runs.tokens, "loss": runs.loss})
    if runs.quality is not None:
        frame["quality"] = runs.quality
    if runs.group is not None:
        frame["group"] = runs.group
    return frame


@pytest.fixture
def runs_csv(tmp_path):
    path = tmp_path / "runs.csv"
    _frame("chinchilla").to_csv(path, index=False)
    return path


def _invoke(*args: str):
    return CliRunner().invoke(fit, [str(a) for a in args])


def test_json_shape_and_compute_optimal(runs_csv):
    result = _invoke(
        runs_csv, "--json", "--bootstrap", "20", "--compute", "1e21", "--drop-highest", "2", *FAST
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["law"] == "chinchilla"
    assert out["n"] == 34  # 36 runs, 2 highest-loss dropped
    assert set(out["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert set(out["ci"]) == set(out["params"]) and all(lo <= hi for lo, hi in out["ci"].values())
    assert out["objective"] > 0 and out["warnings"] == []
    assert {"rmse_log", "max_abs_log"} <= set(out["residuals"])
    (row,) = out["compute_optimal"]
    assert row["N"] * row["D"] * 6 == pytest.approx(1e21)
    assert row["N_ci"][0] <= row["N"] <= row["N_ci"][1]


def test_missing_column_is_one_sentence_and_exit_code_2(runs_csv):
    result = _invoke(runs_csv, "--loss-col", "val_loss", *FAST)
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.count("\n") == 0 and message.startswith("curate: error: ") and message.endswith(".")
    assert "'val_loss'" in message and "--loss-col" in message
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["missing.csv"],
        ["runs.txt"],
        ["runs.csv", "--law", "quality"],  # no quality column
        ["runs.csv", "--grid", "alpha=2:0:0.5"],
        ["runs.csv", "--at-quality", "0.5"],  # chinchilla has no Q
        ["runs.csv", "--law", "fixed-n", "--quality-col", "tokens", "--compute", "1e21"],
        ["runs.csv", "--drop-highest", "36"],
        ["runs.csv", "--delta", "0"],
        ["--query", "SELECT * FROM no_such_table"],
    ],
)
def test_user_mistakes_exit_2_with_one_line(tmp_path, runs_csv, args):
    (tmp_path / "runs.txt").write_text("x")
    args = [str(tmp_path / a) if a.startswith("runs.") or a == "missing.csv" else a for a in args]
    result = _invoke(*args, *FAST)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("curate: error: ") and result.stderr.strip().count("\n") == 0


def test_parquet_and_duckdb_query_give_the_csv_fit(tmp_path, runs_csv):
    parquet = tmp_path / "runs.parquet"
    pd.read_csv(runs_csv).rename(columns={"loss": "val_loss"}).to_parquet(parquet)
    database = tmp_path / "runs.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"CREATE TABLE runs AS SELECT * FROM read_csv_auto('{runs_csv}')")
    base = ["--json", "--bootstrap", "0", *FAST]
    outputs = [
        _invoke(runs_csv, *base),
        _invoke(parquet, "--loss-col", "val_loss", *base),
        _invoke("--query", f"SELECT params, tokens, val_loss AS loss FROM '{parquet}'", *base),
        _invoke(database, "--query", "SELECT * FROM runs", *base),
    ]
    params = []
    for result in outputs:
        assert result.exit_code == 0, result.output
        params.append(json.loads(result.stdout)["params"])
    for other in params[1:]:
        assert other == pytest.approx(params[0], rel=1e-9)


def test_multiplier_json_names_reference_group(tmp_path):
    path = tmp_path / "runs.csv"
    _frame("multiplier").rename(columns={"group": "dataset"}).to_csv(path, index=False)
    options = ["--law", "multiplier", "--group-col", "dataset", "--reference-group", "ref", "--json"]
    result = _invoke(path, *options, "--bootstrap", "10", *FAST)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["reference_group"] == "ref" and out["params"]["m[ref]"] == 1.0
    assert out["params"]["m[double]"] == pytest.approx(2.0, rel=0.05)
    assert "m[half]" in out["ci"]


def test_quality_law_plots_and_table(tmp_path):
    path = tmp_path / "runs.csv"
    _frame("quality").to_csv(path, index=False)
    plots = tmp_path / "plots"
    options = ["--law", "quality", "--bootstrap", "10", "--compute", "1e21", "--at-quality", "0.5"]
    result = _invoke(path, *options, "--plot", plots, *FAST, "--grid", "gamma=0,1")
    assert result.exit_code == 0, result.output
    for stem in ("loss_vs_data", "isoloss", "effective_data"):
        for suffix in (".png", ".svg"):
            assert (plots / f"{stem}{suffix}").stat().st_size > 1000
    assert "gamma" in result.stdout and "compute-optimal" in result.stdout and "95% CI" in result.stdout


def test_help_is_the_docstring_and_ends_with_an_example():
    result = _invoke("--help")
    assert result.exit_code == 0
    body = result.stdout.split("Options:")[0].strip()
    assert body.splitlines()[-2:][0].strip() == "Example:"
    assert body.splitlines()[-1].strip().startswith("curate fit ")
    assert "--drop-highest" in result.stdout and "--query" in result.stdout


def test_registered_under_the_main_group_errors_are_reported_once():
    group = click.Group("curate", commands={"fit": fit})
    result = CliRunner().invoke(group, ["fit", "missing.csv"])
    assert isinstance(result.exception, InputError)  # left to the group's handler, not printed twice
    assert result.stderr == ""
