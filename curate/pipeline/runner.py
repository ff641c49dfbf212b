"""Run a pipeline: plan passes over the data, map unit tasks on the engine, keep the books in the ledger.

A pipeline's stages are cut into *passes* at each global stage. Pass p0 reads the raw input units and applies
the local stages before the first global stage; pass pK first lets global stage K plan over the shards of
pass K-1, then joins its decisions onto each shard and applies the local stages that follow. The last
pass writes the kept documents to `output/`. Removed and quarantined records of every pass accumulate in
`removed/` and `quarantine/`.

At the end the books must balance: input == kept + removed + quarantined, where `kept` is also counted
from the Parquet footers of the output shards, so a lost shard cannot hide.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate import __version__, interrupts
from curate.engine import Engine, TaskFailed, WorkerLost, format_mib
from curate.errors import BooksUnbalanced, RunFailed, SourceLossExceeded, UserError
from curate.io.discover import InputUnit, discover, plan_for_workers, plan_units
from curate.io.readers import ReadOptions
from curate.io.writers import write_json_atomic
from curate.memory import batch_bytes_for, worker_need
from curate.pipeline.spec import Pipeline, dump_yaml, load_yaml, pipeline_from_mapping
from curate.pipeline.task import GlobalApply, UnitTask, run_unit
from curate.pipeline.unique_ids import find_repeated_ids
from curate.runs import lineage as lineages
from curate.runs.drift import compare, describe_exceeded, profile_run
from curate.runs.ledger import Ledger
from curate.runs.lineage import InputSelection, lineage_of, select_inputs
from curate.runs.manifest import build_manifest, describe_inputs
from curate.runs.recovery import recover
from curate.runs.sources import (
    SourceCheck,
    check_sources,
    comparable,
    describe_loss,
    record_sources,
)
from curate.runs.workspace import RunPaths, Workspace
from curate.schema import DOC_SCHEMA, REMOVAL_COLUMNS
from curate.stages.base import Stage
from curate.stages.context import FinishedRun, GlobalContext, PrepareContext

MB = 1 << 20


@dataclass
class Pass:
    phase: str
    global_stage: Stage | None
    stages: list[Stage]


@dataclass
class RunResult:
    run_id: str
    state: str
    run_dir: Path
    counts: dict[str, Any]
    balanced: bool
    seconds: float
    stages: list[dict[str, Any]]
    drift: dict[str, Any] | None = None  # the change from the lineage's previous run (curate.runs.drift)
    nothing_new: str | None = None  # set when the run was a no-op: why, in one line

    @property
    def drift_exceeded(self) -> str | None:
        """The drift limits this run exceeded, in one line, or None."""
        return describe_exceeded(self.drift) if self.drift and self.drift["exceeded"] else None


def plan_passes(stages: list[Stage]) -> list[Pass]:
    passes = [Pass("p0", None, [])]
    for stage in stages:
        if stage.kind == "global":
            passes.append(Pass(f"p{len(passes)}", stage, []))
        else:
            passes[-1].stages.append(stage)
    return passes


def _schema_with(base: pa.Schema, stages: list[Stage]) -> pa.Schema:
    fields = {f.name: f for f in base}
    for stage in stages:
        for name, arrow_type in stage.adds().items():
            fields[name] = pa.field(name, arrow_type)
    return pa.schema(list(fields.values()))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ids_from_data(read: ReadOptions) -> bool:
    """Whether ids come from the input (an id field, or a pass-through id column), so they may repeat;
    derived ids (source and offset) are unique by construction."""
    return read.id_key is not None or read.passthrough is not None


def _unit_weight(unit: InputUnit) -> int:
    f = unit.files[0]
    if len(unit.files) > 1:
        return sum(x.size for x in unit.files)
    if f.format != "parquet" and unit.stop is not None:
        return unit.stop - unit.start
    return f.size


def _rows_per_batch(shards: list[str], batch_rows: int, batch_bytes: int) -> int:
    """Rows of these Parquet shards that hold about `batch_bytes` of text (their footers give the
    uncompressed size of the text column), at most `batch_rows`."""
    rows = text = 0
    for shard in shards:
        meta = pq.read_metadata(shard)
        names = meta.schema.names
        if "text" not in names:
            return batch_rows
        column = names.index("text")
        rows += meta.num_rows
        text += sum(
            meta.row_group(g).column(column).total_uncompressed_size for g in range(meta.num_row_groups)
        )
    if not rows or not text:
        return batch_rows
    return max(1, min(batch_rows, int(batch_bytes / (text / rows))))


class Runner:
    def __init__(
        self,
        pipeline: Pipeline,
        workspace: Workspace,
        engine: Engine,
        log: Callable[[str], None] = _stderr,
        config_path: str = "",
    ):
        self.pipeline = pipeline
        self.workspace = workspace
        self.engine = engine
        self.log = log
        self.config_path = config_path
        self.ledger = Ledger(workspace.ledger_path)
        self.files: list = []  # the input files this run reads (new or changed), found when it opens
        self.lineage = lineage_of(pipeline.resolved())
        self.published_runs: list[str] = []  # the lineage's finished runs: what its dedup compares with
        self.metrics: dict[str, dict] = {}  # per global stage: numbers its plan reported
        self._ledger_thread = ThreadPoolExecutor(1, thread_name_prefix="curate-ledger")
        self._unit_writes: list[Future] = []  # per-unit ledger rows, written by that one thread
        self._last_counts: dict | None = None
        self._opening: str | None = None  # the run this process recorded running, once it has

    # --- the whole run --------------------------------------------------------------------------------
    def run(self, resume: str | None = None) -> RunResult:
        with self.workspace:
            if self.engine.worker_log is None:  # workers' own output (Dask's logs) off the terminal
                self.engine.worker_log = self.workspace.root / "workers.log"
            with self.ledger.session():
                self.ledger.init()
                recover(self.workspace, self.ledger, self.log)
                self.published_runs = lineages.lineage_runs(self.ledger, self.lineage)
                selection = None if resume else self._select_inputs()
            if selection is not None and selection.nothing_new:
                return self._nothing_new(selection)
            # the cluster starts while the run is opened (manifest, ledger)
            self.engine.prestart(
                ["curate.pipeline.task", *{type(s).__module__ for s in self.pipeline.stages}]
            )
            try:
                with self.ledger.session():
                    run_id, run = self._open_run(resume, selection)
            except BaseException as err:
                self.engine.close()
                # stopped as the opening committed (closing the ledger checkpoints it, which takes a
                # moment): a run recorded `running` by this process is recorded `interrupted`
                if self._opening is not None and (
                    interrupts.requested() or isinstance(err, KeyboardInterrupt)
                ):
                    self.ledger.finish_run(self._opening, "interrupted", None, None, 0.0)
                raise
            started = time.monotonic()
            try:
                reports, stage_rows = self._execute(run)
                self.engine.close_soon()  # the workers stop while the books are checked and recorded
                counts = self._tally(reports)
                self.metrics["output"] = self._output_totals(reports, counts)
                balanced = self._check_books(run, counts)
                sources = self._check_sources(run, reports, stage_rows, counts, started)  # may hold the run
                self._commit_globals(run)
                self._wait_for_unit_rows()
                profile = profile_run(counts, sorted(run.output.glob("*.parquet")))
                outputs = lineages.output_rows(run_id, self.lineage, run.output, checksums=True)
                seconds = time.monotonic() - started
                with self.ledger.session():
                    self._record_books(run_id, reports, stage_rows, sources)
                    drift = self._record_profile(run_id, profile, outputs)
                    self.ledger.finish_run(run_id, "finished", counts, balanced, seconds)
                    recorded = self.ledger.counts(run_id)
            except BaseException as err:
                self._stop(run, started, err)
                raise
            finally:
                self.engine.close()
            # After the final commit. A kill from here on leaves a run finished in the ledger without
            # these two steps: the next command redoes them from the ledger (curate.runs.recovery).
            self._point_latest(run)
            shutil.rmtree(run.work, ignore_errors=True)
        return RunResult(run_id, "finished", run.root, recorded, balanced, seconds, stage_rows, drift)

    # --- opening: which files, which run -----------------------------------------------------------------
    def _select_inputs(self) -> InputSelection:
        """The input files that are new or changed since the lineage's finished runs read them."""
        files = discover(self.pipeline.config.input.paths, self.pipeline.config.input.format)
        published = lineages.published_files(self.ledger, self.lineage)
        previous = self.published_runs[-1] if self.published_runs else None
        return select_inputs(self.lineage, files, describe_inputs(files), published, previous)

    def _nothing_new(self, selection: InputSelection) -> RunResult:
        """A no-op: every input file is as the lineage's runs read it. Nothing is written."""
        run_id = selection.previous_run
        message = (
            f"curate: nothing new: {selection.unchanged} input files unchanged since run {run_id} "
            f"(lineage {self.lineage}); no run started"
        )
        row = self.ledger.run_row(run_id) or {}
        return RunResult(
            run_id,
            "finished",
            Path(row.get("run_dir") or self.workspace.run(run_id).root),
            self.ledger.counts(run_id),
            bool(row.get("balanced")),
            0.0,
            [],
            lineages.run_drift(self.ledger, run_id),
            nothing_new=message,
        )

    def _open_run(self, resume: str | None, selection: InputSelection | None) -> tuple[str, RunPaths]:
        resolved = self.pipeline.resolved()
        if resume:
            run_id = self._resolve_resume(resume)
            run = self.workspace.run(run_id)
            self.files = self._check_resumable(run, resolved)
            self.ledger.resume_run(run_id, self.engine.description)
            self._opening = run_id
            self.log(f"curate: resuming run {run_id} in {run.root}")
            return run_id, run
        run_id = self.workspace.new_run_id()
        run = self.workspace.run(run_id)
        run.root.mkdir(parents=True)
        manifest = build_manifest(run_id, resolved, selection.described, self.engine.description)
        plan = self._plan(selection.files)
        write_json_atomic(run.manifest, {**manifest, "lineage": selection.summary(), "plan": plan})
        run.pipeline.write_text(dump_yaml(resolved))
        self.ledger.start_run(
            run_id,
            self.pipeline.config.name,
            self.config_path,
            str(run.root),
            self.engine.description,
            __version__,
            lineage=self.lineage,
        )
        self._opening = run_id
        self.ledger.record_files(run_id, selection.described)
        self.files = selection.files
        self._note_selection(selection.summary())
        size = sum(f.size for f in self.files)
        self.log(
            f"curate: run {run_id}: {len(self.files)} input files ({size / MB:.1f} MB) in {plan['units']} "
            f"units for {plan['workers']} workers, {len(self.pipeline.stages)} stages, on "
            f"{self.engine.description}"
        )
        for note in plan["notes"]:
            self.log(f"curate: {note}")
        return run_id, run

    def _partition_bytes(self) -> int:
        return int(self.pipeline.config.input.partition_mb * MB)

    def _plan(self, files: list) -> dict[str, Any]:
        """Units for the workers the run will have: `input.partition_mb` at most, and about three per
        worker, so one file does not leave a worker idle (`plan_for_workers`)."""
        workers = self.engine.planned_workers()
        plan = plan_for_workers(files, self._partition_bytes(), workers, self.pipeline.config.input.text_unit)
        self.unit_bytes = plan.unit_bytes
        return {
            "unit_bytes": plan.unit_bytes,
            "units": len(plan.units),
            "workers": workers,
            "notes": plan.notes(),
        }

    def _note_selection(self, summary: dict[str, Any]) -> None:
        """Put what the run reads (and skips) into its metrics and, for a later run of a lineage, say so."""
        files = {k: summary[k] for k in ("files_new", "files_changed", "files_unchanged")}
        self.metrics.setdefault("input", {}).update(files)
        if summary["previous_run"] is not None:
            self.log(
                f"curate: lineage {self.lineage}: {files['files_new']} new and {files['files_changed']} "
                f"changed input files; {files['files_unchanged']} unchanged since run "
                f"{summary['previous_run']} (not read again)"
            )

    def _record_profile(self, run_id: str, profile: dict, outputs: list[list]) -> dict[str, Any]:
        """Record the run's published shards, its profile and its drift from the lineage's previous run."""
        previous_run, previous = lineages.previous_profile(self.ledger, self.lineage)
        drift = compare(previous, profile, self.pipeline.config.drift, previous_run)
        lineages.record_profile(self.ledger, run_id, self.lineage, profile, drift)
        lineages.record_outputs(self.ledger, run_id, outputs)
        if drift["exceeded"]:
            self.log(f"curate: drift beyond the config's limits: {describe_exceeded(drift)}")
        return drift

    def _resolve_resume(self, resume: str) -> str:
        if resume != "last":
            row = self.ledger.run_row(resume)
            if row is None:
                raise UserError(f"no run '{resume}' in workspace {self.workspace.root}; see `curate runs`.")
            if row["state"] == "finished":
                raise UserError(f"run {resume} already finished; start a new run (drop --resume).")
            return resume
        for row in self.ledger.runs():
            if row["state"] != "finished":
                return row["run_id"]
        raise UserError(f"workspace {self.workspace.root} has no unfinished run to resume; drop --resume.")

    def _check_resumable(self, run: RunPaths, resolved: dict) -> list:
        """The input files the run started with (files added since are left for the next run), as they
        were; raises when the config or one of those files changed."""
        manifest = json.loads(run.manifest.read_text())
        started_with = pipeline_from_mapping(load_yaml(run.pipeline)).resolved()
        if comparable(started_with) != comparable(resolved):  # a held run may resume under other limits
            raise UserError(
                f"the pipeline config differs from the one run {run.root.name} started with; "
                "start a new run (drop --resume) or restore the config."
            )
        if "lineage" in manifest:
            self._note_selection(manifest["lineage"])
        # the units a run started with: the same plan, whatever the engine resuming it
        self.unit_bytes = manifest.get("plan", {}).get("unit_bytes") or self._partition_bytes()
        recorded = manifest["inputs"]
        cfg = self.pipeline.config.input
        found = {f.path: f for f in discover(cfg.paths, cfg.format)}
        files = [
            dataclasses.replace(found[d["path"]], source=d["source"]) for d in recorded if d["path"] in found
        ]
        before = {f["path"]: f["fingerprint"] for f in recorded}
        now = {f["path"]: f["fingerprint"] for f in describe_inputs(files)}
        changed = sorted(p for p in before if before[p] != now.get(p))
        if changed:
            raise UserError(
                f"the input files changed since run {run.root.name} started ('{changed[0]}'"
                f"{f' and {len(changed) - 1} more' if len(changed) > 1 else ''}); restore them to resume, "
                "or start a new run (drop --resume)."
            )
        return files

    # --- passes ---------------------------------------------------------------------------------------
    def _execute(self, run: RunPaths) -> tuple[dict[str, list[dict]], list[dict]]:
        cfg = self.pipeline.config
        self._prepare_stages(run)
        passes = plan_passes(self.pipeline.stages)
        read = ReadOptions(
            text_key=cfg.input.text_key,
            id_key=cfg.input.id_key,
            text_unit=cfg.input.text_unit,
            batch_rows=cfg.input.batch_rows,
            batch_bytes=self._batch_bytes(),
            fallback_encoding=cfg.input.fallback_encoding,
            passthrough=self._passthrough_schema(),
        )
        base = read.doc_schema
        removed_schema = _schema_with(base, self.pipeline.stages)
        for name, arrow_type in REMOVAL_COLUMNS.items():
            removed_schema = removed_schema.append(pa.field(name, arrow_type))
        reports: dict[str, list[dict]] = {}
        stage_rows: list[dict] = []
        seen: list[Stage] = []
        shards: list[str] = []
        for i, p in enumerate(passes):
            last = i == len(passes) - 1
            seen += ([p.global_stage] if p.global_stage else []) + p.stages
            kept_dir = run.output if last else run.work / p.phase / "kept"
            # Passes over shards read batches of rows: as many rows as hold batch_bytes of text.
            rows = _rows_per_batch(shards, read.batch_rows, read.batch_bytes) if shards else read.batch_rows
            common = dict(
                read=dataclasses.replace(read, batch_rows=rows),
                stages=tuple(p.stages),
                kept_dir=str(kept_dir),
                kept_schema=_schema_with(base, seen),
                removed_schema=removed_schema,
                removed_dir=str(run.removed) if cfg.output.write_removed else None,
                quarantine_dir=str(run.quarantine),
                shard_bytes=int(cfg.output.shard_mb * MB),
                sources=cfg.sources,
                compression=cfg.output.compression,
                compression_level=cfg.output.compression_level,
                intermediate=not last,
            )
            plan_seconds = 0.0
            id_log_dir = str(run.work / "ids" / "log") if _ids_from_data(read) else None
            if p.global_stage is None:
                units = plan_units(self.files, self.unit_bytes, cfg.input.text_unit)
                tasks = [
                    UnitTask(
                        phase=p.phase,
                        unit_id=u.unit_id,
                        label=u.label,
                        unit=u,
                        shard=None,
                        global_apply=None,
                        marker=str(run.marker(p.phase, u.unit_id)),
                        weight=_unit_weight(u),
                        id_log_dir=id_log_dir,
                        **common,
                    )
                    for u in units
                ]
            else:
                decisions, plan_seconds = self._plan_global(run, p, shards, rows)
                g = p.global_stage
                tasks = [
                    UnitTask(
                        phase=p.phase,
                        unit_id=f"s{j:05d}",
                        label=Path(s).name,
                        unit=None,
                        shard=s,
                        global_apply=GlobalApply(g, decisions.get(s)),
                        marker=str(run.marker(p.phase, f"s{j:05d}")),
                        weight=os.path.getsize(s),
                        **common,
                    )
                    for j, s in enumerate(shards)
                ]
            reports[p.phase] = self._run_tasks(run, p, tasks)
            if p.global_stage is None and id_log_dir and tasks:
                reports[p.phase] = self._settle_repeated_ids(run, p, tasks, reports[p.phase])
            shards = sorted(out for r in reports[p.phase] for out in r["outputs"])
            stage_rows += self._stage_rows(p, reports[p.phase], plan_seconds)
            self._sum_counters(p, reports[p.phase])
        return reports, stage_rows

    def _prepare_stages(self, run: RunPaths) -> None:
        """Let each stage build what its workers share (an index file), once, before the data is read."""
        source = Path(self.pipeline.source)
        config_dir = source.resolve().parent if source.is_file() else None
        for stage in self.pipeline.stages:
            ctx = PrepareContext(run.work / "prepared" / stage.name, config_dir)
            numbers = stage.prepare(ctx)
            if numbers:
                self.log(f"curate: prepared {stage.name} in {ctx.workdir}")
                self.metrics.setdefault(stage.name, {}).update(numbers)

    def _settle_repeated_ids(
        self, run: RunPaths, p: Pass, tasks: list[UnitTask], reports: list[dict]
    ) -> list[dict]:
        """Find the records whose id an earlier record has (over the id logs of all units) and read the
        units holding them again, so the reader quarantines or re-keys them before any stage decides by
        id. A unit whose report shows it already did (a resumed run) is not read again."""
        log_dir = Path(tasks[0].id_log_dir)
        missing = [t.unit_id for t in tasks if not (log_dir / f"{t.prefix}-ids.parquet").is_file()]
        if missing:
            raise RuntimeError(f"the id logs of units {', '.join(missing[:5])} are missing from {log_dir}")
        rekey = self.pipeline.config.input.duplicate_ids == "rekey"
        found = find_repeated_ids(
            sorted(str(f) for f in log_dir.glob("*.parquet")), run.work / "ids" / "repeated", rekey, run.work
        )
        copies = sum(n for _, n in found.values())
        self.metrics.setdefault("input", {})["repeated_ids"] = copies
        done = {r["unit_id"]: r for r in reports}
        redo = [
            dataclasses.replace(t, repeated=found.get(t.unit_id, (None, 0))[0])
            for t in tasks
            if done[t.unit_id].get("repeated_ids", 0) != found.get(t.unit_id, (None, 0))[1]
        ]
        if not redo:
            return reports
        self.log(
            f"curate: [{p.phase}] {copies} records repeat an earlier record's id; reading their "
            f"{len(redo)} units again to {'re-key' if rekey else 'quarantine'} them"
        )
        for t in redo:
            Path(t.marker).unlink(missing_ok=True)
        done.update((r["unit_id"], r) for r in self._run_tasks(run, p, redo))
        return sorted(done.values(), key=lambda r: r["unit_id"])

    def _passthrough_schema(self) -> pa.Schema | None:
        """With `input.columns: keep`, the typed columns of the first Parquet input (beyond the contract)."""
        cfg = self.pipeline.config.input
        if cfg.columns != "keep":
            return None
        parquet = [f for f in self.files if f.format == "parquet"]
        if not parquet:
            raise UserError(
                "input.columns: keep needs Parquet inputs (it keeps their typed columns); use "
                "columns: meta for JSONL and text."
            )
        skip = {cfg.text_key, cfg.id_key, *DOC_SCHEMA.names}
        return pa.schema([f for f in pq.read_schema(parquet[0].path) if f.name not in skip])

    def _batch_bytes(self) -> int:
        """Text per batch: input.batch_mb, lowered to fit a worker's memory limit."""
        wanted = int(self.pipeline.config.input.batch_mb * MB)
        limit = self.engine.worker_memory_limit()
        stage_memory = max((s.worker_memory for s in self.pipeline.stages), default=0)
        fit = batch_bytes_for(limit, wanted, stage_memory)
        if fit < wanted:
            self.log(
                f"curate: batches of at most {fit / MB:.2f} MB of text (input.batch_mb "
                f"{wanted / MB:g}), to fit engine.memory_limit ({format_mib(limit)} per worker)"
            )
        if limit and limit < worker_need(stage_memory):
            self.log(
                f"curate: warning: engine.memory_limit ({format_mib(limit)} per worker) is below the "
                f"~{format_mib(worker_need(stage_memory))} these stages need; workers may be killed"
            )
        return fit

    def _context(self, run: RunPaths, p: Pass, shards: list[str], batch_rows: int) -> GlobalContext:
        return GlobalContext(
            engine=self.engine,
            shards=shards,
            workdir=run.work / p.phase / p.global_stage.name,
            state_dir=self.workspace.root / "state" / p.global_stage.name,
            workspace=self.workspace.root,
            run_id=run.root.name,
            batch_rows=batch_rows,
            log=self.log,
            published_runs=frozenset(self.published_runs),
        )

    def _plan_global(
        self, run: RunPaths, p: Pass, shards: list[str], batch_rows: int
    ) -> tuple[dict[str, str], float]:
        marker = run.root / "markers" / f"{p.phase}.plan.json"
        stage = p.global_stage
        if marker.is_file():
            done = json.loads(marker.read_text())
            self.metrics[stage.name] = done.get("metrics", {})
            return done["decisions"], done["seconds"]
        self.log(f"curate: [{p.phase}] planning {stage.name} over {len(shards)} shards")
        t0 = time.monotonic()
        ctx = self._context(run, p, shards, batch_rows)
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        decisions = stage.plan(ctx)
        seconds = time.monotonic() - t0
        self.metrics[stage.name] = ctx.metrics
        write_json_atomic(marker, {"decisions": decisions, "seconds": seconds, "metrics": ctx.metrics})
        return decisions, seconds

    def _commit_globals(self, run: RunPaths) -> None:
        """Let each global stage see the final output (e.g. to extend its incremental index)."""
        output = sorted(str(p) for p in run.output.glob("*.parquet"))
        for p in plan_passes(self.pipeline.stages):
            if p.global_stage is not None:
                finished = FinishedRun(
                    run_id=run.root.name,
                    workdir=run.work / p.phase / p.global_stage.name,
                    state_dir=self.workspace.root / "state" / p.global_stage.name,
                    output_shards=output,
                    log=self.log,
                )
                p.global_stage.commit(finished)

    def _run_tasks(self, run: RunPaths, p: Pass, tasks: list[UnitTask]) -> list[dict]:
        ours = {t.unit_id for t in tasks}
        done = {unit: r for unit, r in run.done_units(p.phase).items() if unit in ours}
        todo = [t for t in tasks if t.unit_id not in done]
        if done:
            self.log(f"curate: [{p.phase}] {len(done)} of {len(tasks)} units already done, skipped")
        names = ([p.global_stage.name] if p.global_stage else []) + [s.name for s in p.stages]
        label = f"{p.phase} {' > '.join(names) or 'read > write'}"
        reports = [done[t.unit_id] for t in tasks if t.unit_id in done]
        pending, last_flush = [], time.monotonic()
        results = self.engine.map(
            run_unit, todo, label=label, weight=lambda t: t.weight, docs=lambda r: r["counts"]["input"]
        )
        try:
            for _task, report in results:
                reports.append(report)
                pending.append(report)
                if time.monotonic() - last_flush > 5:
                    self._record_units_soon(run.root.name, p.phase, pending)
                    pending, last_flush = [], time.monotonic()
        finally:
            self._record_units_soon(run.root.name, p.phase, pending)
        return sorted(reports, key=lambda r: r["unit_id"])

    def _record_units_soon(self, run_id: str, phase: str, reports: list[dict]) -> None:
        """Queue per-unit rows for the ledger: a background thread writes them in order while the run goes
        on (a DuckDB commit waits for the disk). Still one writing process: this one."""
        if reports:
            self._unit_writes.append(
                self._ledger_thread.submit(self.ledger.record_units, run_id, phase, list(reports))
            )

    def _stop(self, run: RunPaths, started: float, err: BaseException) -> None:
        """Record why the run stopped, and raise what the user should see (or let `err` go on)."""
        run_id = run.root.name
        resume = (
            f"`curate run {self.config_path or 'CONFIG'} --workspace {self.workspace.root} --resume {run_id}`"
        )
        # a signal can arrive as another library's error (DuckDB: "Query interrupted"): still a stop
        interrupt = interrupts.requested() or (err if isinstance(err, KeyboardInterrupt) else None)
        if interrupt is not None:
            self._record_failure(run, "interrupted", started)
            raise interrupt from None
        if isinstance(err, TaskFailed):
            run.error.write_text(err.trace)
            self._record_failure(run, "failed", started, f"{err}; traceback in {run.error}")
            raise RunFailed(
                f"run {run_id} failed: {err} (traceback in {run.error}); fix the cause and continue "
                f"with {resume}."
            ) from None
        if isinstance(err, WorkerLost):
            run.error.write_text(f"{err}\n\n{err.trace}\n")
            self._record_failure(run, "failed", started, f"{err}; details in {run.error}")
            raise RunFailed(
                f"run {run_id} failed: {err}; then continue with {resume} (details in {run.error})."
            ) from None
        if isinstance(err, SourceLossExceeded):  # recorded `held` by _check_sources
            return
        if isinstance(err, BooksUnbalanced):
            self._record_failure(run, "unbalanced", started, str(err), self._last_counts, False)
            return
        if isinstance(err, Exception):
            run.error.write_text(traceback.format_exc())
            self._record_failure(run, "failed", started, f"{type(err).__name__}: {err}")

    def _record_failure(
        self,
        run: RunPaths,
        state: str,
        started: float,
        message: str | None = None,
        counts: dict | None = None,
        balanced: bool | None = None,
    ) -> None:
        """Record the end of a run that did not finish, with a row for every unit that did.

        The cluster is stopped first: a unit running on a worker when the run stopped may still have
        finished (written its marker) without the driver seeing its report."""
        with contextlib.suppress(Exception):  # the reason the run stopped is what the user needs to see
            self.engine.close()
        self._wait_for_unit_rows(quiet=True)
        run_id = run.root.name
        with self.ledger.session():
            for phase in sorted(p.name for p in (run.root / "markers").glob("p*") if p.is_dir()):
                self.ledger.record_units(run_id, phase, list(run.done_units(phase).values()))
            self.ledger.finish_run(run_id, state, counts, balanced, time.monotonic() - started, message)

    def _wait_for_unit_rows(self, quiet: bool = False) -> None:
        """Wait until the queued unit rows are written; raise a failed write unless `quiet` (when the run
        already failed for another reason, that reason is what the user needs to see)."""
        while self._unit_writes:
            write = self._unit_writes[0]  # dropped once done: a wait cut short by Ctrl-C keeps it queued,
            try:  # so the stop waits for it too (two writers of one ledger row conflict)
                write.result()
            except Exception:
                if not quiet:
                    self._unit_writes.pop(0)
                    raise
            self._unit_writes.pop(0)

    def _sum_counters(self, p: Pass, reports: list[dict]) -> None:
        """Local stages' counters, summed over units, go into the run's metrics."""
        for stage in p.stages:
            total: dict[str, int] = {}
            for r in reports:
                for key, n in r["stages"][stage.name].get("counters", {}).items():
                    total[key] = total.get(key, 0) + n
            if total:
                self.metrics.setdefault(stage.name, {}).update(total)

    @staticmethod
    def _stage_rows(p: Pass, reports: list[dict], plan_seconds: float) -> list[dict]:
        order = ([p.global_stage] if p.global_stage else []) + p.stages
        rows = []
        for stage in order:
            stats = [r["stages"][stage.name] for r in reports]
            docs_in = sum(s["docs_in"] for s in stats)
            docs_out = sum(s["docs_out"] for s in stats)
            seconds = sum(s["seconds"] for s in stats) + (plan_seconds if stage is p.global_stage else 0.0)
            rows.append(
                {
                    "stage": stage.name,
                    "kind": stage.kind,
                    "docs_in": docs_in,
                    "docs_out": docs_out,
                    "removed": docs_in - docs_out,
                    "seconds": seconds,
                }
            )
        return rows

    # --- the books ------------------------------------------------------------------------------------
    def _tally(self, reports: dict[str, list[dict]]) -> dict[str, Any]:
        phases = sorted(reports, key=lambda ph: int(ph[1:]))
        removed: Counter = Counter()
        quarantined: Counter = Counter()
        for phase in phases:
            for r in reports[phase]:
                quarantined.update(r["counts"]["quarantined"])
                for stage, reasons in r["counts"]["removed"].items():
                    removed.update({(stage, reason): n for reason, n in reasons.items()})
        counts = {
            "input": sum(r["counts"]["input"] for r in reports[phases[0]]),
            "kept": sum(r["counts"]["kept"] for r in reports[phases[-1]]),
            "removed_by_stage_reason": dict(removed),
            "quarantined": dict(quarantined),
        }
        # Each pass must read exactly what the pass before it kept.
        for before, after in zip(phases, phases[1:]):
            kept = sum(r["counts"]["kept"] for r in reports[before])
            read = sum(r["counts"]["input"] for r in reports[after])
            if kept != read:
                counts["pass_mismatch"] = f"{before} kept {kept} but {after} read {read}"
        self._last_counts = counts
        return counts

    def _output_totals(self, reports: dict[str, list[dict]], counts: dict[str, Any]) -> dict[str, Any]:
        """The kept documents, their text bytes and, when a stage counted them, their tokens."""
        last = reports[max(reports, key=lambda ph: int(ph[1:]))]
        out = {"documents": counts["kept"], "text_bytes": sum(r.get("kept_text_bytes", 0) for r in last)}
        tokens = [r.get("kept_tokens") for r in last]
        if any(t is not None for t in tokens):
            out["tokens"] = sum(t or 0 for t in tokens)
            out["tokenizer"] = self.metrics.get("token_count", {}).get("tokenizer")
        return out

    def _check_books(self, run: RunPaths, counts: dict[str, Any]) -> bool:
        removed = sum(counts["removed_by_stage_reason"].values())
        quarantined = sum(counts["quarantined"].values())
        on_disk = sum(pq.read_metadata(p).num_rows for p in sorted(run.output.glob("*.parquet")))
        problems = []
        if counts["input"] != counts["kept"] + removed + quarantined:
            problems.append(
                f"input {counts['input']} != kept {counts['kept']} + removed {removed} "
                f"+ quarantined {quarantined}"
            )
        if on_disk != counts["kept"]:
            problems.append(f"the output shards hold {on_disk} rows but {counts['kept']} were reported kept")
        if "pass_mismatch" in counts:
            problems.append(counts["pass_mismatch"])
        if problems:
            raise BooksUnbalanced(
                f"run {run.root.name}: the books do not balance: {'; '.join(problems)}. "
                "This is a bug in curate; please report it with the run's manifest.json."
            )
        return True

    def _check_sources(
        self,
        run: RunPaths,
        reports: dict[str, list[dict]],
        stage_rows: list[dict],
        counts: dict,
        started: float,
    ) -> SourceCheck:
        """The run's books per source. A source that lost more than `sources.max_loss` holds the run
        before anything is published: it is recorded `held` with its books, `latest`, the lineage and the
        dedup indexes stay as they were, its files stay for `--resume`, and SourceLossExceeded is raised."""
        check = check_sources(reports, self.pipeline.config.sources)
        self.metrics["sources"] = check.settings()
        for source in check.flagged:
            self.log(f"curate: warning: source '{source}' lost {describe_loss(check.books[source])}")
        if not check.exceeded:
            return check
        run_id = run.root.name
        limit = check.cfg.max_loss
        message = (
            f"run {run_id} held before publishing: {check.describe_exceeded()}, above the limit {limit:g} "
            "(--max-source-loss, sources.max_loss); nothing was published. Look at `curate status "
            f"--workspace {self.workspace.root} --run {run_id}` (sources); then fix the cause, or rerun with "
            "a higher --max-source-loss (with `curate run`, `--resume "
            f"{run_id} --max-source-loss 1` publishes this run as it is, without redoing its work)."
        )
        self._wait_for_unit_rows()
        with self.ledger.session():
            self._record_books(run_id, reports, stage_rows, check)
            self.ledger.finish_run(run_id, "held", counts, True, time.monotonic() - started, message)
        raise SourceLossExceeded(message, run_id)

    def _record_books(
        self, run_id: str, reports: dict[str, list[dict]], stage_rows: list[dict], sources: SourceCheck
    ) -> None:
        """A run's books at its end (finished or held), in the caller's ledger session: every unit's row
        again, from the reports (a resumed run skipped the units that finished before the crash, whose
        queued rows may never have reached the ledger), the stages, the metrics and the books per source."""
        for phase, phase_reports in reports.items():
            self.ledger.record_units(run_id, phase, phase_reports)
        self.ledger.record_stages(run_id, stage_rows)
        self.ledger.record_metrics(run_id, self.metrics)
        record_sources(self.ledger, run_id, sources)

    def _point_latest(self, run: RunPaths) -> None:
        self.workspace.point_latest(run.root.name)
