"""The `curate` command line: a thin layer over the library.

Each command's docstring is its --help and ends with an example. Library errors (`CurateError`) become one
line on stderr and a documented exit code (see `curate.errors`); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from curate import __version__, interrupts
from curate.errors import CurateError, DriftExceeded, SourceLossExceeded

EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2
EXIT_TERMINATED = 143  # SIGTERM (a scheduler or systemd stopping the run): 128 + 15


class _Stopped(Exception):
    """Carries a KeyboardInterrupt past click, which would print a blank line and turn it into Abort."""

    def __init__(self, interrupt: KeyboardInterrupt):
        super().__init__()
        self.interrupt = interrupt


class CurateGroup(click.Group):
    """A click group that reports user mistakes as one sentence and exits with curate's codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BaseException as err:
            # a signal may reach the command as another library's error (DuckDB: "Query interrupted")
            interrupt = interrupts.requested() or (err if isinstance(err, KeyboardInterrupt) else None)
            if interrupt is not None:
                raise _Stopped(interrupt) from None
            raise

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        code = 0
        try:
            with interrupts.handled():
                super().main(args, prog_name or "curate", complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as done:
            code = done.exit_code
        except click.UsageError as err:
            command = err.ctx.command_path if err.ctx else "curate"
            click.echo(
                f"curate: error: {err.format_message().rstrip('.')}; see `{command} --help`.", err=True
            )
            code = 2
        except CurateError as err:
            click.echo(f"curate: error: {err}", err=True)
            code = err.exit_code
        except (_Stopped, KeyboardInterrupt, click.Abort) as stopped:
            interrupt = stopped.interrupt if isinstance(stopped, _Stopped) else stopped
            terminated = isinstance(interrupt, interrupts.Terminated)
            how = "terminated (SIGTERM)" if terminated else "interrupted"
            click.echo(f"curate: {how}; finished units are kept, continue with --resume last.", err=True)
            code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(
    cls=CurateGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.version_option(__version__, "--version", prog_name="curate")
def main():
    """Curate text corpora for language-model pretraining, and measure what curation buys.

    Exit codes: 0 success (also a run with nothing new to do); 1 the run failed; 2 a user mistake (bad
    option, missing file, invalid config); 3 the books do not balance (a bug); 4 a trained classifier is
    weak (train-classifier); 5 the run finished but drifted beyond a limit of the config's `drift:`
    section; 6 the run was held before publishing: a source lost more than --max-source-loss of its
    documents; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).

    \b
    Example:
      curate demo --workspace ws
    """


def _workspace_option(f):
    return click.option(
        "--workspace",
        "-w",
        required=True,
        type=click.Path(file_okay=False),
        help="Folder holding the ledger and every run's outputs.",
    )(f)


# the input format of commands that read training text (train-classifier, train-lm)
_input_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "parquet", "text"]),
    default="auto",
    show_default=True,
    help="Input format (auto: from the file names).",
)


def _engine_options(f):
    f = click.option(
        "--dashboard",
        is_flag=True,
        default=None,
        expose_value=False,  # read by _make_engine from the context, as every engine option could be
        callback=lambda ctx, _param, value: ctx.meta.__setitem__("curate.dashboard", value),
        help="Serve Dask's dashboard for the local cluster (needs bokeh); its address is printed.",
    )(f)
    f = click.option(
        "--scheduler", metavar="ADDRESS", help="Run on a running Dask scheduler, e.g. tcp://10.0.0.5:8786."
    )(f)
    f = click.option(
        "--workers",
        type=click.IntRange(min=0),
        help="Local Dask worker processes (0: run in this process). Default: the config's.",
    )(f)
    return f


def _max_source_loss_option(f):
    return click.option(
        "--max-source-loss",
        type=click.FloatRange(0, 1),
        metavar="SHARE",
        help="Hold the run before it publishes (exit 6) when stages removed more than this share of a "
        "source's documents (sources.max_loss; a source: sources.key, else the top input file or folder).",
    )(f)


def _with_max_source_loss(data: dict, share: float | None) -> None:
    if share is not None:
        data.setdefault("sources", {})["max_loss"] = share


def _make_engine(engine_cfg, workers: int | None, scheduler: str | None, quiet: bool = False):
    from curate.engine import Engine

    dashboard = click.get_current_context().meta.get("curate.dashboard")
    return Engine(
        workers=engine_cfg.workers if workers is None else workers,
        scheduler=scheduler or engine_cfg.scheduler,
        threads_per_worker=engine_cfg.threads_per_worker,
        memory_limit=engine_cfg.memory_limit,
        progress=not quiet,
        dashboard=getattr(engine_cfg, "dashboard", False) if dashboard is None else dashboard,
    )


def _run_shipped(name: str, edit, workspace: str, workers, scheduler, quiet: bool):
    """Run the shipped pipeline `name` after `edit(data)` changed its parsed YAML; return its status."""
    from curate.pipeline.runner import Runner
    from curate.pipeline.spec import load_yaml, pipeline_from_mapping
    from curate.resources import pipeline_path
    from curate.runs.summary import run_status
    from curate.runs.workspace import Workspace

    config = pipeline_path(name)
    data = load_yaml(config)
    edit(data)
    pipeline = pipeline_from_mapping(data, str(config))
    ws = Workspace(workspace)
    engine = _make_engine(pipeline.config.engine, workers, scheduler, quiet)
    result = Runner(pipeline, ws, engine, config_path=str(config)).run()
    if result.nothing_new:
        click.echo(result.nothing_new, err=True)
    return {**run_status(ws, result.run_id), "nothing_new": result.nothing_new is not None}


def _stage_entry(data: dict, stage: str) -> dict:
    return next(s for s in data["stages"] if s["stage"] == stage)


def _print_result(workspace, run_id: str, as_json: bool) -> None:
    from curate.runs.summary import run_status

    _echo_status(run_status(workspace, run_id), as_json)


def _echo_status(status: dict, as_json: bool) -> None:
    from curate.runs.summary import render_status

    click.echo(json.dumps(status, indent=2, default=str) if as_json else render_status(status))


@main.command()
@click.argument("config", type=click.Path())
@_workspace_option
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="PATH",
    help="Read these files, folders or globs instead of the config's input.paths (repeatable).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set output.shard_mb=64 or --set stages.1.min_words=50.",
)
@_engine_options
@click.option("--resume", metavar="RUN_ID", help="Continue an unfinished run ('last': the latest one).")
@_max_source_loss_option
@click.option("--dry-run", is_flag=True, help="Validate the config, print it resolved, and stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's status as JSON at the end.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def run(
    config, workspace, inputs, overrides, workers, scheduler, resume, max_source_loss, dry_run, as_json, quiet
):
    """Run the pipeline CONFIG (a YAML file) and write its outputs into a new run of the workspace.

    Every input record ends as kept (output/), removed with a reason (removed/) or quarantined as bad input
    (quarantine/); the counts go into the workspace ledger and must balance. Finished units are kept when a
    run stops, so `--resume last` continues where it stopped.

    Runs of one config on a workspace form a lineage: a run reads only the input files that are new or
    changed since the lineage's finished runs read them, and deduplicates them against what the lineage
    published. With nothing new it starts no run, prints one line and exits 0. Exit 5: the run finished
    but drifted beyond a limit of the config's `drift:` section.

    Every run keeps its books per source too (`curate status`). Exit 6: with --max-source-loss (or
    sources.max_loss), a source lost more than that share of its documents, and the run was held before
    publishing anything; `--resume RUN_ID --max-source-loss 1` publishes it as it is.

    \b
    Example:
      curate run pipelines/web.yaml --workspace ws --input 'data/*.jsonl.gz' --set stages.1.min_words=50
    """
    from curate.pipeline.runner import Runner
    from curate.pipeline.spec import dump_yaml, load_pipeline
    from curate.runs.workspace import Workspace

    if max_source_loss is not None:
        overrides = [*overrides, f"sources.max_loss={max_source_loss}"]
    pipeline = load_pipeline(config, list(overrides), list(inputs))
    engine = _make_engine(pipeline.config.engine, workers, scheduler, quiet)
    if dry_run:
        click.echo(dump_yaml(pipeline.resolved()), nl=False)
        click.echo(_plan_line(pipeline, engine))
        return
    ws = Workspace(workspace)
    try:
        result = Runner(pipeline, ws, engine, config_path=str(config)).run(resume=resume)
    except SourceLossExceeded as held:
        if as_json:
            _print_result(ws, held.run_id, True)
        raise
    _report_run(ws, result, as_json)


def _plan_line(pipeline, engine) -> str:
    """`# plan: ...` (a YAML comment): how the inputs would be cut into units for the engine's workers."""
    from curate.io.discover import discover, plan_for_workers

    cfg = pipeline.config.input
    if not cfg.paths:
        return "# plan: no inputs given (--input PATH)"
    try:
        files = discover(cfg.paths, cfg.format)
        plan = plan_for_workers(
            files, int(cfg.partition_mb * (1 << 20)), engine.planned_workers(), cfg.text_unit
        )
    finally:
        engine.close()
    size = sum(f.size for f in files) / (1 << 20)
    whole = plan.unsplittable
    note = f"; {len(whole)} compressed files are one unit each" if whole else ""
    return (
        f"# plan: {len(files)} input files ({size:.1f} MB) in {len(plan.units)} units of up to "
        f"{plan.unit_bytes / (1 << 20):.1f} MB for {plan.workers} workers{note}"
    )


def _report_run(ws, result, as_json: bool) -> None:
    """Print a run's status (or the one line of a no-op); exit 5 when it drifted beyond a limit."""
    from curate.runs.summary import run_status

    if result.nothing_new and not as_json:
        click.echo(result.nothing_new)
        return
    status = run_status(ws, result.run_id)
    if as_json:
        extra = {"nothing_new": result.nothing_new is not None, "message": result.nothing_new}
        click.echo(json.dumps({**status, **extra}, indent=2, default=str))
    else:
        _echo_status(status, False)
    if result.drift_exceeded and not result.nothing_new:
        raise DriftExceeded(
            f"run {result.run_id} drifted from run {result.drift['previous_run']} beyond the config's "
            f"limits ({result.drift_exceeded}); its outputs are published: look at `curate status "
            f"--workspace {ws.root} --json` (drift), then raise the limits or fix the input."
        )


@main.command()
@_workspace_option
@_engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the run's status as JSON at the end.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def demo(workspace, workers, scheduler, as_json, quiet):
    """Build a corpus from text this machine already has, curate it, and measure what ranking it buys.

    1. The corpus (standard-library documentation, pydoc help topics, the METADATA and licence files of
       the installed packages, and a few deliberately damaged records) is written to
       WORKSPACE/demo-corpus; no download is needed.
    2. pipelines/demo.yaml curates it: normalization, exact and near dedup, length filter, benchmark
       decontamination, PII redaction, heuristic signals, language ID, the shipped quality classifier,
       perplexity, a language filter and token counts.
    3. pipelines/demo_sweep.yaml keeps the top f of the result by quality_score and, beside every top f,
       a random subset and a composition-matched random subset of the same size; a byte n-gram proxy is
       trained on each, and the summary gives the gain of the top f over random, with intervals, per
       budget and evaluation set (results and plots in WORKSPACE/sweeps/).

    \b
    Example:
      curate demo --workspace ws && curate status --workspace ws
    """
    from curate.demo import build_demo_corpus
    from curate.resources import pipeline_path
    from curate.runs.summary import render_status
    from curate.sweep.load import load_sweep
    from curate.sweep.report import render_sweep
    from curate.sweep.run import SweepRunner

    corpus = Path(workspace).resolve() / "demo-corpus"
    counts = build_demo_corpus(corpus)
    click.echo(
        f"curate: demo corpus in {corpus}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), err=True
    )

    def edit(data: dict) -> None:
        data["input"]["paths"] = [str(corpus)]

    status = _run_shipped("demo", edit, workspace, workers, scheduler, quiet)
    # the pool: everything the demo's lineage published (a rerun adds only what changed in the corpus)
    shards = [s["path"] for s in (status["lineage"] or {}).get("shards", [])] or [status["output"]["dir"]]
    cfg = load_sweep(pipeline_path("demo_sweep"), [f"pool.paths={json.dumps(shards)}"])
    engine = _make_engine(cfg.engine, workers, scheduler, quiet)
    swept = SweepRunner(cfg, Path(workspace), engine, log=lambda m: click.echo(m, err=True)).run()
    if as_json:
        sweep = {"folder": str(swept.folder), "pool": swept.pool, "summary": _records(swept.summary)}
        click.echo(json.dumps({"run": status, "sweep": sweep}, indent=2, default=str))
        return
    click.echo(render_status(status))
    click.echo("\n" + render_sweep(swept))


def _records(frame) -> list[dict]:
    """A data frame as JSON records (NaN as null)."""
    return json.loads(frame.to_json(orient="records"))


@main.command()
@_workspace_option
@click.option("--run", "run_id", metavar="RUN_ID", help="Which run (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: run_id, state, counts, stages, output.")
def status(workspace, run_id, as_json):
    """Show the state and the books of the latest run (or --run RUN_ID).

    The JSON form has run_id, state, counts {input, kept, removed {reason: n}, quarantined {reason: n}},
    balanced, removed_by_stage, stages (docs in/out, seconds), output (folder, shards, bytes) and sources
    (the books per source: input, kept, removed and quarantined by reason, loss; flagged and exceeded).

    \b
    Example:
      curate status --workspace ws --json
    """
    from curate.runs.workspace import Workspace

    _print_result(Workspace(workspace), run_id, as_json)


@main.command()
@_workspace_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs(workspace, limit, as_json):
    """List the runs of a workspace, newest first, with their state and counts.

    \b
    Example:
      curate runs --workspace ws --limit 5
    """
    from curate.runs.ledger import Ledger
    from curate.runs.recovery import recover
    from curate.runs.summary import render_runs
    from curate.runs.workspace import Workspace

    ws = Workspace(workspace)
    ws.require_existing()
    ledger = Ledger(ws.ledger_path)
    recover(ws, ledger)
    rows = ledger.runs(limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        click.echo(render_runs(rows))


@main.command()
@_workspace_option
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Keep this many of the newest runs whole, whatever their state.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be removed, and remove nothing.")
@click.option(
    "--drop-lineage",
    "drop_lineages",
    multiple=True,
    metavar="LINEAGE",
    help="Also remove every run of this lineage, published output included (not the latest run's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: removed paths with reasons, bytes freed.")
def gc(workspace, keep, dry_run, drop_lineages, as_json):
    """Remove old runs' intermediate files and unfinished runs; never a lineage's published output.

    
    Kept:
      - the newest KEEP runs, whole, whatever their state, and any run still running;
      - every finished run's published output (output/, removed/, quarantine/, manifest): it is part of
        its lineage's dataset, the lineage's next run deduplicates against it (the incremental index in
        state/) and reads its text; this covers the latest run and every lineage's last finished run.
    Removed:
      - older finished runs' intermediate files (work/, markers/);
      - older runs that never finished (failed, interrupted, unbalanced, held), whole, with their incremental
        index entries, and run folders the ledger never recorded;
      - with --drop-lineage, every run of that lineage (never the latest run's lineage).

    Removed runs keep their ledger rows, marked deleted_at. Prints each path removed, why, and the bytes
    freed.

    
    Example:
      curate gc --workspace ws --keep 7 --dry-run
    """
    from curate.runs.gc import gc as collect
    from curate.runs.gc import render_gc
    from curate.runs.workspace import Workspace

    ws = Workspace(workspace)
    plan = collect(ws, keep, dry_run, tuple(drop_lineages))
    if as_json:
        click.echo(json.dumps(plan.to_json(ws.root, dry_run), indent=2))
    else:
        click.echo(render_gc(plan, ws.root, dry_run))


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--output",
    "-o",
    "workspace",
    required=True,
    type=click.Path(file_okay=False),
    help="Workspace folder; the deduplicated shards land in OUTPUT/latest/output.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.01, 0.99),
    default=0.8,
    show_default=True,
    help="Jaccard similarity at which two documents are near duplicates.",
)
@click.option(
    "--num-perm", type=click.IntRange(1, 4096), default=128, show_default=True, help="MinHash permutations."
)
@click.option("--ngram", type=click.IntRange(min=1), default=5, show_default=True, help="Words per shingle.")
@click.option(
    "--bands", type=click.IntRange(min=1), help="LSH bands (with --rows); default: from the threshold."
)
@click.option(
    "--rows", type=click.IntRange(min=1), help="Rows per band (with --bands), e.g. --bands 14 --rows 8."
)
@click.option("--no-verify", is_flag=True, help="Trust LSH candidates without checking their exact Jaccard.")
@click.option(
    "--cluster",
    type=click.Choice(["components", "star"]),
    default="components",
    show_default=True,
    help="components: a chain A~B~C removes C for resembling B; star: a document goes only when it is "
    "near its cluster's kept document (needs verification).",
)
@click.option("--no-exact", is_flag=True, help="Skip the exact (content hash) pass.")
@click.option(
    "--incremental/--no-incremental",
    default=True,
    show_default=True,
    help="Also remove copies of documents that earlier runs in OUTPUT published.",
)
@click.option("--text-key", default="text", show_default=True, help="Field or column holding the text.")
@click.option("--id-key", help="Field holding unique ids (default: derived from file and offset).")
@click.option("--source-key", help="Field naming each record's source, for the per-source books.")
@_max_source_loss_option
@_engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the run's status as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def dedup(
    inputs,
    workspace,
    threshold,
    num_perm,
    ngram,
    bands,
    rows,
    no_verify,
    cluster,
    no_exact,
    incremental,
    text_key,
    id_key,
    source_key,
    max_source_loss,
    workers,
    scheduler,
    as_json,
    quiet,
):
    """Remove exact and near-duplicate documents from INPUT (files, folders or globs).

    Runs pipelines/dedup.yaml: exact dedup by content hash, then MinHash LSH near dedup with exact-Jaccard
    verification and connected components (`--cluster star`: a document is removed only when it is near
    its cluster's kept document). Prints documents in, duplicates removed, clusters, the LSH S-curve and
    the time per phase. Run it again on a new batch with the same OUTPUT to deduplicate the batch against
    what earlier runs kept. With --max-source-loss, a source (--source-key, else the top input file or
    folder) that loses more than that share holds the run before it publishes (exit 6).

    \b
    Example:
      curate dedup 'crawl/*.jsonl.gz' --output dedup-ws --threshold 0.8 --bands 14 --rows 8
    """
    from curate.dedup.report import render_dedup_summary

    if (bands is None) != (rows is None):
        raise click.UsageError("give --bands and --rows together, or neither")
    if cluster == "star" and no_verify:
        raise click.UsageError("--cluster star checks documents by exact Jaccard; drop --no-verify")

    def edit(data: dict) -> None:
        data["input"].update(paths=list(inputs), text_key=text_key, id_key=id_key)
        if source_key:
            data.setdefault("sources", {})["key"] = source_key
        _with_max_source_loss(data, max_source_loss)
        if no_exact:
            data["stages"] = [s for s in data["stages"] if s["stage"] != "exact_dedup"]
        else:
            _stage_entry(data, "exact_dedup")["incremental"] = incremental
        _stage_entry(data, "minhash_dedup").update(
            threshold=threshold,
            num_perm=num_perm,
            ngram=ngram,
            bands=bands,
            rows=rows,
            verify=not no_verify,
            cluster=cluster,
            incremental=incremental,
        )

    status = _run_shipped("dedup", edit, workspace, workers, scheduler, quiet)
    click.echo(json.dumps(status, indent=2, default=str) if as_json else render_dedup_summary(status))


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--output",
    "-o",
    "workspace",
    required=True,
    type=click.Path(file_okay=False),
    help="Workspace folder; the scored shards land in OUTPUT/latest/output.",
)
@click.option(
    "--groups",
    default="gopher_quality,gopher_repetition,c4,fineweb",
    show_default=True,
    help="Heuristic signal groups, comma separated ('none': no heuristic signals).",
)
@click.option("--no-langid", is_flag=True, help="Skip language identification.")
@click.option(
    "--classifier",
    "classifier",
    default="curate-web-quality-v2",
    show_default=True,
    help="Quality model: a shipped name (`curate models`), a .bin/.ftz file, or 'none'.",
)
@click.option("--text-key", default="text", show_default=True, help="Field or column holding the text.")
@click.option("--id-key", help="Field holding unique ids (default: derived from file and offset).")
@_engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the run's status as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def score(
    inputs, workspace, groups, no_langid, classifier, text_key, id_key, workers, scheduler, as_json, quiet
):
    """Score every document of INPUT without removing any: heuristic signals, language, quality.

    Runs pipelines/score.yaml. The output shards hold one column per signal (gopher_word_count,
    c4_sentence_count, fineweb_short_line_fraction, ...), lang and lang_score, and quality_score with the
    model's name in quality_model. Threshold them with `curate filter`, as often as you like.

    \b
    Example:
      curate score 'crawl/*.jsonl.gz' --output scored --classifier curate-web-quality-v2
    """
    chosen = [] if groups.strip() == "none" else [g.strip() for g in groups.split(",") if g.strip()]

    def edit(data: dict) -> None:
        data["input"].update(paths=list(inputs), text_key=text_key, id_key=id_key)
        keep = []
        for entry in data["stages"]:
            if entry["stage"] == "heuristic_signals":
                if not chosen:
                    continue
                entry["groups"] = chosen
            if entry["stage"] == "langid" and no_langid:
                continue
            if entry["stage"] == "quality_classifier":
                if classifier == "none":
                    continue
                entry["model"] = classifier
            keep.append(entry)
        data["stages"] = keep

    status = _run_shipped("score", edit, workspace, workers, scheduler, quiet)
    _echo_status(status, as_json)


@main.command(name="filter")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--output",
    "-o",
    "workspace",
    required=True,
    type=click.Path(file_okay=False),
    help="Workspace folder; the kept shards land in OUTPUT/latest/output.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML with quality_filter parameters (see `curate stages quality_filter`); flags override it.",
)
@click.option("--heuristics", help="Rule groups to apply, comma separated, or 'none' (default: all four).")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="RULE=VALUE",
    help="Override a rule's threshold, e.g. --threshold gopher.min_words=100 (repeatable).",
)
@click.option("--disable", multiple=True, metavar="RULE", help="Do not apply this rule (repeatable).")
@click.option("--languages", help="Keep only these languages, comma separated ('any': no language rule).")
@click.option("--min-language-score", type=click.FloatRange(0, 1), help="Minimum language ID probability.")
@click.option("--min-quality", type=click.FloatRange(0, 1), help="Minimum quality_score.")
@_max_source_loss_option
@_engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the run's status as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def filter_(
    inputs,
    workspace,
    config_file,
    heuristics,
    thresholds,
    disable,
    languages,
    min_language_score,
    min_quality,
    max_source_loss,
    workers,
    scheduler,
    as_json,
    quiet,
):
    """Remove documents of scored INPUT (the output of `curate score`) by thresholds.

    Runs pipelines/filter.yaml: the published Gopher, C4 and FineWeb rules, English with language score
    ≥ 0.65, and optionally a minimum quality score. Each removed document carries the rule that removed
    it; the number of documents each rule flags is in `curate status --json` (metrics). Nothing is
    rescored, so trying other thresholds is cheap.

    \b
    Example:
      curate filter scored/latest/output --output filtered --min-quality 0.3 --threshold gopher.min_words=100
    """
    from curate.pipeline.spec import load_yaml

    overrides: dict = dict(load_yaml(config_file)) if config_file else {}
    if heuristics is not None:
        overrides["heuristics"] = [] if heuristics == "none" else [h.strip() for h in heuristics.split(",")]
    if thresholds:
        parsed = {}
        for item in thresholds:
            rule, sep, value = item.partition("=")
            try:
                parsed[rule] = float(value)
            except ValueError:
                sep = ""
            if not sep:
                raise click.UsageError(f"--threshold '{item}' is not RULE=NUMBER, e.g. gopher.min_words=100")
        overrides["thresholds"] = {**overrides.get("thresholds", {}), **parsed}
    if disable:
        overrides["disable"] = list(disable)
    if languages is not None:
        overrides["languages"] = None if languages == "any" else [x.strip() for x in languages.split(",")]
    if min_language_score is not None:
        overrides["min_language_score"] = min_language_score
    if min_quality is not None:
        overrides["min_quality"] = min_quality

    def edit(data: dict) -> None:
        data["input"]["paths"] = list(inputs)
        _with_max_source_loss(data, max_source_loss)
        _stage_entry(data, "quality_filter").update(overrides)

    status = _run_shipped("filter", edit, workspace, workers, scheduler, quiet)
    _echo_status(status, as_json)


@main.command(name="train-classifier")
@click.option(
    "--positive",
    "-p",
    multiple=True,
    required=True,
    metavar="PATH",
    help="High-quality documents: files, folders or globs (repeatable).",
)
@click.option(
    "--negative",
    "-n",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Low-quality documents (repeatable).",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="The model file (.ftz when quantized, else .bin); the model card is written beside it (.json).",
)
@click.option("--name", help="Versioned model name for the card (default: the file name).")
@click.option("--text-key", default="text", show_default=True, help="Field or column holding the text.")
@_input_format_option
@click.option(
    "--text-unit",
    type=click.Choice(["auto", "file", "paragraph", "line"]),
    help="Training units: whole documents (file), paragraphs, or lines (a text file is then a document "
    "per line). Default auto: paragraphs of text files, whole JSONL/Parquet records.",
)
@click.option(
    "--allow-weak",
    is_flag=True,
    help="Keep a model that is not clearly better than chance or than document length (else exit 4).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A training parameter, e.g. --set epoch=10 --set chunk_words=128 --set language=en "
    "(see the list below).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the model card as JSON.")
def train_classifier(
    positive, negative, output, name, text_key, fmt, text_unit, allow_weak, settings, as_json
):
    """Train a fastText quality classifier on your positives and negatives (DCLM-style: word bigrams).

    Reads any corpora curate reads and cuts them into training units: paragraphs of text files (a book
    per file trains), whole JSONL/Parquet records, or what --text-unit says. Optionally keeps one
    language, holds out a stratified share of each class's documents (the units of one document stay on
    one side), balances the classes on the 128-word windows it trains on, quantizes, and writes the model
    with a model card: data and counts, hyper-parameters, held-out ROC AUC with a 95% bootstrap interval,
    a document-length baseline on the same units, the AUC within length quartiles, threshold and
    accuracy, and the fingerprints of the training documents. A model that is not clearly above chance or
    above length alone is refused (exit 4, nothing written) unless --allow-weak. Use it with
    `curate score --classifier MODEL` or the quality_classifier stage. Parameters (--set KEY=VALUE):
    dim, epoch, lr, word_ngrams, min_count, bucket, quantize, cutoff, text_unit, min_unit_words,
    chunk_words, lowercase, max_chars, language, min_language_score, min_chars, holdout, group_key,
    max_docs_per_class, balance, seed, threads.

    \b
    Example:
      curate train-classifier -p books/ -n 'crawl/*.jsonl.gz' -o models/mine-v1.ftz --set language=en
    """
    import yaml

    from curate.config import build
    from curate.quality.train import TrainParams
    from curate.quality.train import train_classifier as train

    values = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set '{item}' is not KEY=VALUE, e.g. --set epoch=10")
        values[key] = yaml.safe_load(raw)
    if text_unit:
        values["text_unit"] = text_unit
    params = build(TrainParams, values, "train-classifier")
    card = train(
        list(positive),
        list(negative),
        output,
        params,
        text_key=text_key,
        name=name,
        log=lambda m: click.echo(m, err=True),
        fmt=fmt,
        allow_weak=allow_weak,
    )
    if as_json:
        click.echo(json.dumps(card, indent=2))
        return
    _echo_card_summary(card, output)


@main.command(name="train-lm")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="The model file (.npz); its card is written beside it (.json).",
)
@click.option("--name", help="Versioned model name for the card (default: the file name).")
@click.option("--order", type=click.IntRange(1, 8), default=4, show_default=True, help="Bytes per n-gram.")
@click.option(
    "--calibrate",
    multiple=True,
    metavar="PATH",
    help="Text like what will be filtered (repeatable): its 30th and 60th perplexity percentiles become "
    "the default head / tail cutoffs (default: the held-out training documents).",
)
@click.option(
    "--holdout", type=click.FloatRange(0, 0.5), default=0.05, show_default=True, help="Held-out share."
)
@click.option("--max-mb", type=click.FloatRange(min=0.001), help="Train on at most this many MB of text.")
@click.option("--text-key", default="text", show_default=True, help="Field or column holding the text.")
@_input_format_option
@click.option(
    "--text-unit",
    type=click.Choice(["file", "line"]),
    default="file",
    show_default=True,
    help="Text files: a document per file or per line.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the model card as JSON.")
def train_lm(inputs, output, name, order, calibrate, holdout, max_mb, text_key, fmt, text_unit, as_json):
    """Train a byte n-gram language model (interpolated Kneser-Ney) for perplexity scores.

    Reads any corpora curate reads (INPUT: files, folders or globs), holds out a share of the documents
    for the card's bits per byte, and writes the model (the highest order's n-gram counts, .npz) with a
    card: data, order, held-out bits per byte, and the head / tail perplexity cutoffs of the
    `perplexity` stage (percentiles of --calibrate text). Train it on reference text (books, news,
    encyclopedia articles), never on evaluation data.

    \b
    Example:
      curate train-lm 'wiki/*.jsonl.gz' books/ -o models/ref-lm-v1.npz --calibrate 'crawl/sample.jsonl'
    """
    from curate.quality.train_lm import LmTrainParams
    from curate.quality.train_lm import train_lm as train

    params = LmTrainParams(order=order, holdout=holdout, max_mb=max_mb)
    card = train(
        list(inputs),
        output,
        params,
        name=name,
        calibrate=list(calibrate),
        text_key=text_key,
        fmt=fmt,
        text_unit=text_unit,
        log=lambda m: click.echo(m, err=True),
    )
    if as_json:
        click.echo(json.dumps(card, indent=2))
        return
    held, cut = card.get("holdout", {}), card.get("cutoffs", {})
    size, trained = card["file"]["bytes"] / 1e6, card["data"]["trained_bytes"] / 1e6
    click.echo(
        f"{card['name']}: byte {card['order']}-gram, {card['ngrams']:,} n-grams, {size:.2f} MB, "
        f"trained on {trained:.1f} MB"
    )
    if held:
        click.echo(f"  held out: {held['documents']:,} documents, {held['bits_per_byte']:.3f} bits per byte")
    if cut:
        click.echo(f"  buckets: head <= {cut['head_max']:.2f} < middle <= {cut['tail_min']:.2f} < tail")
    click.echo(f"  card: {Path(output).with_suffix('.json')}")


def _echo_card_summary(card: dict, output: str) -> None:
    h, d = card["holdout"], card["data"]
    base = h["length_baseline"]
    click.echo(
        f"model {card['name']}: {output} ({card['file']['bytes'] / 1e6:.2f} MB), trained in "
        f"{card['train_seconds']:.1f} s on {d['train_examples']:,} examples from "
        f"{d['train'].get('hq', 0):,} + {d['train'].get('lq', 0):,} documents"
    )
    within = h["length_controlled"]["mean"]
    click.echo(
        f"  held out: {h['docs']:,} {h['unit']} units of {h['groups']:,} documents, ROC AUC "
        f"{h['roc_auc']:.3f} [{h['roc_auc_interval'][0]:.3f}, {h['roc_auc_interval'][1]:.3f}]; length alone "
        f"{base['roc_auc']:.3f}; within length quartiles {'n/a' if within is None else f'{within:.3f}'}; "
        f"accuracy {h['accuracy_at_threshold']:.3f} at threshold {h['threshold']:.3f} "
        f"({h['accuracy_at_0.5']:.3f} at 0.5)"
    )
    if h["weak"]:
        click.echo(f"curate: warning: the classifier is weak: {h['weak']} (kept: --allow-weak).", err=True)
    click.echo(f"  card: {Path(output).with_suffix('.json')}")


@main.command()
def models():
    """List the shipped quality classifiers and language models with what their cards say.

    \b
    Example:
      curate models
    """
    from curate.quality import byte_lm
    from curate.quality.registry import shipped

    found, language_models = shipped(), byte_lm.shipped()
    if not found and not language_models:
        click.echo("no shipped models in this installation")
    for name in language_models:
        _, card = byte_lm.resolve(name)
        held = card.get("holdout", {}).get("bits_per_byte")
        line = f"{name:<26} {card['file']['bytes'] / 1e6:5.2f} MB  byte {card['order']}-gram language model"
        click.echo(line + (f", held-out {held:.3f} bits/byte" if held is not None else ""))
    for name, info in found.items():
        card = info.card
        line = (
            f"{name:<26} {card['file']['bytes'] / 1e6:5.2f} MB  held-out AUC {card['holdout']['roc_auc']:.3f}"
        )
        for eval_name, result in card.get("evaluations", {}).items():
            line += f"\n  {eval_name}: ROC AUC {result['roc_auc']:.3f}"
            if "length_baseline" in result:  # cards written since issue 18
                low, high = result["roc_auc_interval"]
                line += (
                    f" [{low:.3f}, {high:.3f}], length alone {result['length_baseline']['roc_auc']:.3f}, "
                    f"within length quartiles {result['length_controlled']['mean']:.3f}"
                )
        click.echo(line)


@main.command()
@click.argument("name", required=False)
def stages(name):
    """List the stages a pipeline config can use, or show one stage's parameters.

    \b
    Example:
      curate stages length_filter
    """
    from curate.config import describe_fields
    from curate.stages.base import registry, stage_class

    if name is None:
        for stage_name, cls in registry().items():
            click.echo(f"{stage_name:<24} {cls.kind:<7} {cls.summary}")
        return
    cls = stage_class(name, "stage")
    click.echo(f"{cls.name} ({cls.kind}): {cls.summary}\n")
    for field_name, type_name, default, help_text in describe_fields(cls.Params):
        click.echo(f"  {field_name:<22} {type_name:<28} default {default!r}\n      {help_text}")
    if not describe_fields(cls.Params):
        click.echo("  (no parameters)")


@main.command()
@click.argument("config", type=click.Path())
@_workspace_option
@click.option(
    "--pool",
    "pools",
    multiple=True,
    metavar="PATH",
    help="Scored documents to sweep (replaces pool.paths; repeatable).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set seeds=[0] --set models.ngram.order=4.",
)
@click.option(
    "--allow-in-sample",
    is_flag=True,
    help="Sweep even when the ranking model was trained on more than pool.max_in_sample of the pool.",
)
@_engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the pool's checks and the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def sweep(config, workspace, pools, overrides, allow_in_sample, workers, scheduler, as_json, quiet):
    """Sweep pruning fractions: keep the top f of a scored pool, train proxy LMs, compare with random.

    The pool is any input curate reads (`pool.where` restricts it first). For every seed, pool size and
    fraction f, the top f by score is written as Parquet shards with a manifest (documents, tokens,
    threshold, composition, dataset quality Q by both estimators), and so are two controls of the same
    size: a random subset of the pool and a random subset with the top f's language and source mix. A
    byte n-gram model (and optionally a tiny transformer) is trained on each under one pass and several
    fixed-compute budgets, and evaluated on every evaluation set. The headline is the gain of the top f
    over random at equal kept data, with intervals. A pool that holds the ranking model's training
    documents is refused (--allow-in-sample overrides). Results: WORKSPACE/sweeps/NAME-HASH/
    (results.parquet, summary.parquet, composition.parquet, plots/). Rerun to resume a killed sweep.

    \b
    Example:
      curate sweep pipelines/sweep.yaml -w ws --pool scored/latest/output --set "pool.where=lang = 'en'"
    """
    from curate.sweep.load import load_sweep
    from curate.sweep.report import render_sweep
    from curate.sweep.run import SweepRunner

    extra = list(overrides) + ([f"pool.paths={json.dumps(list(pools))}"] if pools else [])
    if allow_in_sample:
        extra.append("pool.allow_in_sample=true")
    cfg = load_sweep(config, extra)
    engine = _make_engine(cfg.engine, workers, scheduler, quiet)
    result = SweepRunner(cfg, Path(workspace), engine, log=lambda m: click.echo(m, err=True)).run()
    if as_json:
        out = {"folder": str(result.folder), "pool": result.pool, "summary": _records(result.summary)}
        click.echo(json.dumps(out, indent=2, default=str))
        return
    click.echo(render_sweep(result))


@main.command()
@click.argument("sweep_dir", type=click.Path(file_okay=False))
@click.option("--model", "models", multiple=True, help="Only this model (e.g. ngram, transformer-2x64).")
@click.option("--eval-set", "eval_sets", multiple=True, help="Only this evaluation set (repeatable).")
@click.option(
    "--params", type=click.FloatRange(min=1), help="At a target scale: N (non-embedding parameters)."
)
@click.option("--tokens", type=click.FloatRange(min=1), help="... and the top f's training tokens D.")
@click.option("--compute", type=click.FloatRange(min=1), help="... or its training FLOPs C (D = C / 6N).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=200, show_default=True, help="Resamples.")
@click.option("--plot/--no-plot", default=True, show_default=True, help="Plots into SWEEP_DIR/plots.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def worth(sweep_dir, models, eval_sets, params, tokens, compute, bootstrap, plot, as_json):
    """What the top f is worth in compute: the tokens random data needs for the loss the top f reaches.

    Reads the learning curves of a finished sweep (SWEEP_DIR/curves.parquet). For every model, evaluation
    set, budget, pool size and f, the multiplier m = (tokens random data of the pool needs for the top
    f's loss) / (tokens the top f trained on), read off a curve fitted to the random controls and the whole
    pool, with a 95% interval over seeds; FLOPs ≈ 6·N·D for transformers. With --params and --tokens (or
    --compute), the multiplier law is fitted to the curves of each model family and evaluated at that
    scale, with bootstrap intervals.

    \b
    Example:
      curate worth ws/sweeps/web-sweep-1a2b3c4d --eval-set gutenberg_prose
      curate worth ws/sweeps/ladder-5e6f7a8b --params 1e8 --tokens 2e9
    """
    from curate.sweep.worth import (
        at_scale,
        law_multipliers,
        multipliers,
        plot_worth,
        read_curves,
        render_worth,
    )

    if (tokens or compute) and not params:
        raise click.UsageError("--tokens and --compute need --params (the model size N at that scale).")
    if params and not (tokens or compute):
        raise click.UsageError("--params needs --tokens or --compute (the top f's training budget).")
    folder = Path(sweep_dir)
    curves = read_curves(folder)
    if models:
        curves = curves[curves["model"].isin(models)]
    if eval_sets:
        curves = curves[curves["eval_set"].isin(eval_sets)]
    if curves.empty:
        raise click.UsageError(
            "no learning curves match --model / --eval-set; `curate worth DIR` lists them."
        )
    table = multipliers(curves)
    out = {"sweep": str(folder), "multipliers": _records(table)}
    if params:
        d = tokens or compute / (6.0 * params)
        family_of = curves["model"].str.split("-").str[0]
        out["at_scale"] = []
        for family in sorted(set(family_of)):  # each family over the budgets it was trained under
            for (eval_set, budget), _ in curves[family_of == family].groupby(["eval_set", "budget"]):
                fit = law_multipliers(curves, family, eval_set, budget, bootstrap=bootstrap)
                out["at_scale"].append(
                    {"model": family, "eval_set": eval_set, "budget": budget, "params": params, "tokens": d,
                     "fit": fit.to_dict(), "fractions": at_scale(fit, params, d)}
                )  # fmt: skip
    plots = plot_worth(curves, table, folder / "plots") if plot else []
    if as_json:
        click.echo(json.dumps({**out, "plots": [str(p) for p in plots]}, indent=2, default=str))
        return
    click.echo(render_worth(table))
    for item in out.get("at_scale", []):
        click.echo(
            f"\nat N = {params:.3g}, D = {item['tokens']:.3g} ({item['model']} / {item['eval_set']} / "
            f"{item['budget']}; {item['fit']['formula']}):"
        )
        for warning in item["fit"].get("warnings", []):
            click.echo(f"  warning: {warning}")
        for r in item["fractions"]:
            click.echo(
                f"  f = {r['fraction']:g}: random data needs {r['multiplier']:.2f}× "
                f"[{r['multiplier_lo']:.2f}, {r['multiplier_hi']:.2f}] the tokens: {r['tokens_random']:.3g} "
                f"tokens, {r['flops_random']:.3g} FLOPs against {r['flops_top']:.3g}"
            )
    if plots:
        click.echo(f"plots    {folder / 'plots'} (worth-*.png)")


@main.command(name="inspect")
@_workspace_option
@click.option(
    "--run", "run_id", metavar="RUN_ID", help="Which run (default: the latest, as `curate status`)."
)
@click.option(
    "--reason", metavar="REASON", help="A sample of the documents removed or quarantined for REASON."
)
@click.option(
    "--cluster",
    metavar="ID",
    help="A duplicate cluster (its kept document's id, or any member's): the kept "
    "document beside each removed one.",
)
@click.option("--id", "doc_id", metavar="ID", help="One document: its decision, reason, signals and scores.")
@click.option("--source", metavar="SOURCE", help="The books of a source (a file or a folder) and a sample.")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True, help="Documents shown.")
@click.option(
    "--chars",
    type=click.IntRange(min=40),
    default=600,
    show_default=True,
    help="Characters of each text shown.",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Highlight differences in colour (default: on a terminal, unless NO_COLOR is set); without colour "
    "they are marked [-only in the kept text-] and {+only in the removed one+}.",
)
def inspect_(workspace, run_id, reason, cluster, doc_id, source, limit, chars, color):
    """Show documents of a run with their signals, scores and decision, read from the workspace.

    Without a selector: the books, the removal and quarantine reasons (with an example of the failing
    value), the largest duplicate clusters and the sources that lost the most, each with the option that
    looks closer. --reason shows a sample of what a reason removed, with the rule's parameters and the
    failing value; --cluster the kept member of a duplicate cluster beside each removed one, the words
    that differ highlighted; --id one document; --source the books and a sample of one source (a file,
    or a folder of them). Nothing is recomputed.

    \b
    Example:
      curate inspect --workspace ws --reason too_few_words --limit 3
      curate inspect --workspace ws --cluster 'licenses/click/LICENSE.txt'
    """
    import os
    import shutil

    from curate.report.inspect import Inspector
    from curate.report.views import open_run

    selectors = {"--reason": reason, "--cluster": cluster, "--id": doc_id, "--source": source}
    chosen = [option for option, value in selectors.items() if value]
    if len(chosen) > 1:
        raise click.UsageError(
            f"give at most one of --reason, --cluster, --id and --source, not {' and '.join(chosen)}"
        )
    if color is None:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = min(max(shutil.get_terminal_size((110, 24)).columns, 80), 200)
    with open_run(workspace, run_id) as catalog:
        inspector = Inspector(catalog, limit=limit, chars=chars, color=color, width=width)
        if reason:
            text = inspector.reason(reason)
        elif cluster:
            text = inspector.cluster(cluster)
        elif doc_id:
            text = inspector.document(doc_id)
        elif source:
            text = inspector.source(source)
        else:
            text = inspector.overview()
    click.echo(text, color=color)


@main.command(name="sql")
@_workspace_option
@click.argument("query")
@click.option(
    "--run", "run_id", metavar="RUN_ID", help="Which run (default: the latest, as `curate status`)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), help="Output format [default: table]."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON records (the same as --format json).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="At most this many rows (default: 100 in a table, all in CSV or JSON).",
)
def sql_(workspace, query, run_id, fmt, as_json, limit):
    """Run one read-only SELECT (DuckDB SQL) over named views of a run.

    \b
    Views of the run (--run, default: the latest):
      kept          the kept documents (output/): id, text, source, meta and the columns its stages
                    added (signals, lang, lang_score, quality_score, dup_cluster_id, dup_cluster_size)
      removed       the removed documents (removed/): the same, with reason, stage, detail (the
                    failing value) and duplicate_of (the kept document's id)
      quarantine    bad input records: id, source, offset, reason, detail, raw (bytes)
      documents     kept and removed together, with decision ('kept' or 'removed')
      clusters      duplicate clusters with a removed member: cluster_id (the kept document's id),
                    size, removed, exact_duplicates, near_duplicates, keeper
      sources       per input file: input, kept, removed, quarantined, lost_share
      lineage_kept  every document the run's lineage published up to this run
    \b
    From the ledger:
      runs          every run of the workspace: run_id, pipeline, state, started_at, seconds, ...
      counts        the run's books: kind (input, kept, removed, quarantined), stage, reason, n
      stages        per stage: stage, kind, docs_in, docs_out, removed, seconds
      metrics       numbers the stages reported: stage, name, value (JSON text)
      shards        the run's units: phase, unit_id, input, status, docs_in, kept, removed, ...
      files         the input files the run read: path, source, format, bytes, fingerprint, status
      source_books  the run's books per source as `curate status` judges them: source, input, kept,
                    removed, quarantined, removed_by_reason, loss, flagged, exceeded
      published     the shards the run's lineage published: run_id, path, rows, bytes, checksum

    `DESCRIBE kept` lists a view's columns. Writes, COPY ... TO, ATTACH, INSTALL, LOAD, SET and every
    statement but one SELECT are refused, and the query reads no file but the run's.

    \b
    Example:
      curate sql --workspace ws "SELECT reason, count(*) AS n FROM removed GROUP BY reason ORDER BY n DESC"
      curate sql -w ws "SELECT source, lost_share FROM sources ORDER BY lost_share DESC" --format csv
    """
    from curate.report.query import TABLE_ROWS, render, run_query
    from curate.report.views import open_run

    fmt = "json" if as_json else (fmt or "table")
    with open_run(workspace, run_id) as catalog:
        result = run_query(catalog, query, limit or (TABLE_ROWS if fmt == "table" else None))
    click.echo(render(result, fmt))
    if result.more and fmt != "table":
        click.echo(f"curate: the first {len(result.rows):,} rows; raise --limit for more.", err=True)


def _register_capability_commands() -> None:
    from curate.scaling.cli import fit

    main.add_command(fit)


_register_capability_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
