"""The engine and the runner: Dask equals pandas, the books balance, runs resume, the ledger records."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dask.dataframe.utils import assert_eq

from curate.config import option
from curate.engine import Engine, map_stage
from curate.errors import RunFailed, UserError
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, read_unit
from curate.pipeline.runner import Runner
from curate.pipeline.spec import pipeline_from_mapping
from curate.runs.ledger import Ledger
from curate.runs.summary import run_status
from curate.runs.workspace import Workspace
from curate.stages.base import Stage, register
from curate.stages.length import LengthFilter, LengthParams
from curate.stages.normalize import NormalizeParams, UnicodeNormalize
from tests.conftest import PROSE, started_engine, unit_pids, worker_pids, write_jsonl


@dataclass
class FailParams:
    flag_file: str = option("", help="Raise while this file exists.")


@register
class FailIfFlag(Stage):
    """Test stage: raises on the second unit while a flag file exists (a crash in the middle of a run)."""

    name = "_test_fail_if_flag"
    Params = FailParams

    def annotate(self, df):
        if os.path.exists(self.params.flag_file) and df["source"].str.contains("part-1").any():
            raise RuntimeError("simulated crash")
        return df


def quiet_engine() -> Engine:
    return Engine(workers=0, progress=False)


def corpus(tmp_path: Path, files: int = 3) -> Path:
    """`files` JSONL files of prose with short lines, near-empty lines and a broken record each."""
    root = tmp_path / "corpus"
    for k in range(files):
        records = [{"text": f"  {t}\r\nParagraph {k}-{i}.  "} for i, t in enumerate(PROSE)]
        records += [{"text": "too short"}, {"text": f"caf\u0065\u0301 {k} " + "word " * 30}]
        write_jsonl(root / f"part-{k}.jsonl", records, [b'{"text": broken'])
    return root


STAGES = [{"stage": "unicode_normalize", "form": "NFC"}, {"stage": "length_filter", "min_words": 5}]


def make_pipeline(root: Path, stages=STAGES, **input_opts):
    return pipeline_from_mapping(
        {"name": "test", "input": {"paths": [str(root)], **input_opts}, "stages": stages}
    )


def output_frame(run_dir: Path) -> pd.DataFrame:
    files = sorted((run_dir / "output").glob("*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def test_map_stage_on_three_partitions_equals_the_stage_on_one_frame():
    df = pd.DataFrame(
        {
            "id": [f"d{i}" for i in range(9)],
            "source": "s",
            "meta": None,
            "text": [f"{'word ' * i}end" for i in range(9)],
        }
    )
    stage = LengthFilter(LengthParams(min_words=3, max_words=7))
    ddf = dd.from_pandas(df, npartitions=3)
    assert ddf.npartitions == 3
    with Engine(workers=0) as engine:
        (got,) = engine.compute(map_stage(ddf, stage))
    assert_eq(got, stage.apply(df).kept, check_index=False)
    assert got["n_words"].tolist() == [3, 4, 5, 6, 7]


def reference_output(root: Path) -> pd.DataFrame:
    """The stages applied to one pandas frame of every readable record, without Dask."""
    frames = [
        b.docs.to_pandas()
        for u in plan_units(discover([str(root)]), 1 << 30)
        for b in read_unit(u, ReadOptions())
    ]
    df = pd.concat(frames, ignore_index=True)
    for stage in (UnicodeNormalize(NormalizeParams()), LengthFilter(LengthParams(min_words=5))):
        df = stage.apply(df).kept
    return df.sort_values("id").reset_index(drop=True)


@pytest.mark.parametrize("where", ["local cluster", "dask scheduler"])
def test_a_cluster_run_equals_the_stages_on_one_pandas_frame(tmp_path, request, where):
    """On a local cluster that is up before the run, and on a real `dask scheduler` with two `dask worker`
    processes: every unit ran in a worker process (by pid), and the output equals pandas in one frame."""
    root = corpus(tmp_path)
    ws = Workspace(tmp_path / "ws")
    if where == "local cluster":
        engine = started_engine(2)
    else:
        engine = Engine(scheduler=request.getfixturevalue("dask_scheduler"), progress=False).start()
    with engine:
        workers = worker_pids(engine)
        result = Runner(make_pipeline(root, partition_mb=0.001), ws, engine, log=lambda m: None).run()
    ran = unit_pids(result.run_dir)
    assert ran and ran <= workers and os.getpid() not in ran, (ran, workers)
    assert len(ran) == 2  # both workers took units
    got = output_frame(result.run_dir).sort_values("id").reset_index(drop=True)
    assert_eq(got, reference_output(root), check_dtype=False)
    assert got["text"].str.contains("\r").sum() == 0
    assert "café 0" in " ".join(got["text"])  # NFC joined e + combining accent


def test_books_balance_and_the_ledger_records_the_run(tmp_path):
    root = corpus(tmp_path)
    ws = Workspace(tmp_path / "ws")
    result = Runner(
        make_pipeline(root, partition_mb=0.0003), ws, Engine(workers=0, progress=False), log=lambda m: None
    ).run()
    status = run_status(ws)
    c = status["counts"]
    assert status["run_id"] == result.run_id and status["state"] == "finished" and status["balanced"]
    assert c["input"] == 3 * (len(PROSE) + 3)
    assert c["quarantined"] == {"malformed_json": 3}
    assert c["removed"] == {"too_few_words": 3}
    assert c["kept"] == 3 * (len(PROSE) + 1) == len(output_frame(result.run_dir))
    assert status["removed_by_stage"] == {"length_filter": {"too_few_words": 3}}
    assert [s["stage"] for s in status["stages"]] == ["unicode_normalize", "length_filter"]
    removed = pq.read_table(next((result.run_dir / "removed").glob("*.parquet"))).to_pandas()
    assert set(removed["reason"]) == {"too_few_words"} and set(removed["stage"]) == {"length_filter"}
    quarantine = pd.concat(
        pq.read_table(p).to_pandas() for p in (result.run_dir / "quarantine").glob("*.parquet")
    )
    assert list(quarantine["raw"]) == [b'{"text": broken'] * 3
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert len(manifest["inputs"]) == 3 and manifest["versions"]["pyarrow"]
    assert manifest["config"]["stages"][1]["min_words"] == 5
    assert (ws.root / "latest").resolve() == result.run_dir.resolve()
    assert not (result.run_dir / "work").exists()
    shards = ws_table(ws, "shards", result.run_id)
    assert len(shards) > 3 and {s["status"] for s in shards} == {"done"}


def ws_table(ws: Workspace, name: str, run_id: str):
    return Ledger(ws.ledger_path).table(name, run_id)


def test_a_failed_run_resumes_where_it_stopped(tmp_path):
    root = corpus(tmp_path)
    flag = tmp_path / "crash-now"
    flag.write_text("1")
    stages = [*STAGES, {"stage": "_test_fail_if_flag", "flag_file": str(flag)}]
    ws = Workspace(tmp_path / "ws")
    pipeline = make_pipeline(root, stages)
    with pytest.raises(RunFailed, match="simulated crash") as info:
        Runner(pipeline, ws, Engine(workers=0, progress=False), log=lambda m: None).run()
    assert "--resume" in str(info.value)
    failed = run_status(ws)
    assert failed["state"] == "failed" and "simulated crash" in failed["error"]
    run_dir = Path(failed["run_dir"])
    assert "RuntimeError: simulated crash" in (run_dir / "error.txt").read_text()
    done_before = sorted(p.name for p in (run_dir / "markers" / "p0").iterdir())
    assert done_before == ["u00000.json"]
    first_marker = (run_dir / "markers" / "p0" / "u00000.json").stat().st_mtime_ns

    flag.unlink()
    messages = []
    result = Runner(pipeline, ws, Engine(workers=0, progress=False), log=messages.append).run(resume="last")
    assert result.run_id == failed["run_id"]
    assert any("1 of 3 units already done" in m for m in messages)
    assert (run_dir / "markers" / "p0" / "u00000.json").stat().st_mtime_ns == first_marker  # not redone
    status = run_status(ws)
    assert status["state"] == "finished" and status["balanced"]
    assert status["counts"]["kept"] == len(output_frame(run_dir)) == 3 * (len(PROSE) + 1)
    assert len(output_frame(run_dir)["id"].unique()) == status["counts"]["kept"]


def test_a_resumed_run_has_a_ledger_row_for_every_unit(tmp_path):
    """A driver killed before its queued unit rows reached the ledger leaves units with a marker and no
    row; the resumed run must still record every unit of every phase."""
    root = corpus(tmp_path)
    flag = tmp_path / "crash-now"
    flag.write_text("1")
    stages = [*STAGES, {"stage": "_test_fail_if_flag", "flag_file": str(flag)}]
    ws = Workspace(tmp_path / "ws")
    pipeline = make_pipeline(root, stages)
    with pytest.raises(RunFailed):
        Runner(pipeline, ws, quiet_engine(), log=lambda m: None).run()
    run_id = run_status(ws)["run_id"]
    with Ledger(ws.ledger_path).connect() as con:  # as if the driver died before the rows were written
        con.execute("DELETE FROM shards WHERE run_id = ?", [run_id])
    flag.unlink()
    result = Runner(pipeline, ws, quiet_engine(), log=lambda m: None).run(resume="last")
    rows = ws_table(ws, "shards", run_id)
    markers = sorted(p.stem for p in (result.run_dir / "markers" / "p0").glob("*.json"))
    assert (
        sorted(r["unit_id"] for r in rows if r["phase"] == "p0") == markers == ["u00000", "u00001", "u00002"]
    )
    assert sum(r["docs_in"] for r in rows) == run_status(ws)["counts"]["input"]


def test_resume_refuses_a_changed_config_or_input(tmp_path):
    root = corpus(tmp_path)
    ws = Workspace(tmp_path / "ws")
    Runner(make_pipeline(root), ws, Engine(workers=0, progress=False), log=lambda m: None).run()
    with pytest.raises(UserError, match="no unfinished run"):
        Runner(make_pipeline(root), ws, Engine(workers=0, progress=False)).run(resume="last")
    run_id = run_status(ws)["run_id"]
    with pytest.raises(UserError, match=f"run {run_id} already finished"):
        Runner(make_pipeline(root), ws, Engine(workers=0, progress=False)).run(resume=run_id)
    changed = make_pipeline(root, [{"stage": "length_filter", "min_words": 6}])
    ledger = Ledger(ws.ledger_path)  # pretend the run was interrupted, to reach the other checks
    with ledger.connect() as con:
        con.execute("UPDATE runs SET state = 'interrupted' WHERE run_id = ?", [run_id])
    with pytest.raises(UserError, match="config differs"):
        Runner(changed, ws, Engine(workers=0, progress=False)).run(resume=run_id)
    write_jsonl(root / "part-0.jsonl", [{"text": "new content"}])
    with pytest.raises(UserError, match="input files changed"):
        Runner(make_pipeline(root), ws, Engine(workers=0, progress=False)).run(resume=run_id)


def test_a_workspace_takes_one_run_at_a_time(tmp_path):
    first, second = Workspace(tmp_path), Workspace(tmp_path)
    with first, pytest.raises(UserError, match=f"in use by another curate run \\(pid {os.getpid()}\\)"):
        second.lock()
    second.lock()
    second.unlock()


def test_a_batch_of_only_bad_records_passes_every_stage(tmp_path):
    root = tmp_path / "bad"
    write_jsonl(root / "all-bad.jsonl", [], [b"{broken", b'{"text": 3}'])
    write_jsonl(root / "good.jsonl", [{"text": "one two three four five six seven"}])
    ws = Workspace(tmp_path / "ws")
    Runner(make_pipeline(root), ws, Engine(workers=0, progress=False), log=lambda m: None).run()
    counts = run_status(ws)["counts"]
    assert counts["quarantined"] == {"malformed_json": 1, "text_not_string": 1} and counts["kept"] == 1


def test_a_run_reads_an_earlier_runs_output_with_its_typed_columns(tmp_path):
    root = corpus(tmp_path)
    ws = Workspace(tmp_path / "ws")
    first = Runner(make_pipeline(root), ws, Engine(workers=0, progress=False), log=lambda m: None).run()
    scored = output_frame(first.run_dir).sort_values("id").reset_index(drop=True)
    again = pipeline_from_mapping(
        {
            "name": "reread",
            "input": {"paths": [str(first.run_dir / "output")], "columns": "keep"},
            "stages": [],
        }
    )
    second = Runner(again, Workspace(tmp_path / "ws2"), quiet_engine(), log=lambda m: None).run()
    got = output_frame(second.run_dir).sort_values("id").reset_index(drop=True)
    assert list(got.columns) == ["id", "text", "source", "meta", "n_words", "n_chars"]
    assert_eq(got, scored, check_dtype=False)
    meta_mode = pipeline_from_mapping({"name": "m", "input": {"paths": [str(first.run_dir / "output")]}})
    third = Runner(meta_mode, Workspace(tmp_path / "ws3"), quiet_engine(), log=lambda m: None).run()
    folded = output_frame(third.run_dir)
    assert list(folded.columns) == ["id", "text", "source", "meta"]
    assert json.loads(folded["meta"].iloc[0])["n_words"] > 0


def _malloc_env(_):
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_workers_keep_glibcs_dynamic_mmap_threshold():
    with Engine(workers=1, progress=False) as engine:
        assert [value for _, value in engine.map(_malloc_env, [0])] == [None]


def test_a_ledger_session_is_one_connection_and_one_transaction(tmp_path):
    ledger = Ledger(tmp_path / "ledger.duckdb")
    ledger.init()
    with ledger.session():
        ledger.start_run("r1", "p", "c.yaml", "/runs/r1", "engine", "0")
        with ledger.connect() as first, ledger.connect() as second, ledger.session():
            assert first is second  # calls inside a session share its connection; a nested session joins
        ledger.finish_run("r1", "finished", None, True, 1.0)
        assert ledger.run_row("r1")["state"] == "finished"  # a session reads its own writes
    assert ledger.run_row("r1")["state"] == "finished"

    with pytest.raises(RuntimeError, match="boom"), ledger.session():
        ledger.start_run("r2", "p", "c.yaml", "/runs/r2", "engine", "0")
        raise RuntimeError("boom")
    assert ledger.run_row("r2") is None  # rolled back whole: no half-written books
    with ledger.session(read_only=True):
        assert [r["run_id"] for r in ledger.runs()] == ["r1"]


def test_one_file_under_partition_mb_is_cut_into_units_for_every_worker(tmp_path):
    """Issue: one 58 MB file ran as one task on one of two workers. Now a single file under partition_mb
    on a two-worker engine is planned as several units, and the run decides exactly as a one-unit plan."""
    import random

    from tests.dedup.test_dedup_stages import edit, prose

    rng = random.Random(3)
    records = []
    for i in range(1800):
        words = prose(rng, 200)
        records.append({"text": " ".join(words)})
        if i % 7 == 0:
            records.append({"text": " ".join(words)})  # an exact copy
        if i % 5 == 0:
            records.append({"text": " ".join(edit(words, rng, 2))})  # a near copy
    write_jsonl(tmp_path / "data" / "crawl.jsonl", records)
    size = (tmp_path / "data" / "crawl.jsonl").stat().st_size
    assert 2 << 20 < size < 64 << 20  # under partition_mb (64), over two minimum units

    logs: list[str] = []

    def dedup_run(ws: str, engine: Engine):
        pipeline = pipeline_from_mapping(
            {
                "name": "one-file",
                "input": {"paths": [str(tmp_path / "data")]},
                "stages": [{"stage": "exact_dedup"}, {"stage": "minhash_dedup"}],
            }
        )
        with engine:
            result = Runner(pipeline, Workspace(tmp_path / ws), engine, log=logs.append).run()
        plan = json.loads((result.run_dir / "manifest.json").read_text())["plan"]
        removed = pd.concat(
            pq.read_table(p).to_pandas() for p in (result.run_dir / "removed").glob("*.parquet")
        )
        outcome = {
            "kept": sorted(output_frame(result.run_dir)["id"]),
            "removed": sorted(zip(removed["id"], removed["reason"], removed["duplicate_of"])),
            "counts": result.counts,
        }
        return plan, outcome, unit_pids(result.run_dir)

    one_plan, one, _ = dedup_run("ws-one", Engine(workers=0, progress=False))
    assert one_plan["units"] == 1
    plan, split, ran = dedup_run("ws-split", started_engine(2))
    assert plan["workers"] == 2 and plan["units"] >= 3 and plan["unit_bytes"] < size
    assert os.getpid() not in ran and len(ran) == 2  # both workers read
    first = [m for m in logs if m.startswith("curate: run ")]
    assert "in 1 units for 1 workers" in first[0] and f"in {plan['units']} units for 2 workers" in first[1]
    assert split == one  # same ids, same decisions, same counts
    assert len(split["removed"]) > 300
