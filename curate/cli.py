"""The `curate` command line: a thin layer over the library.

Each command's docstring is its --help and ends with an example. Library errors (`CurateError`) become one
line on stderr and a documented exit code (see `curate.errors`); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import json
import sys

import click

from curate import __version__
from curate.errors import CurateError

EXIT_INTERRUPTED = 130


class CurateGroup(click.Group):
    """A click group that reports user mistakes as one sentence and exits with curate's codes."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        code = 0
        try:
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
        except (KeyboardInterrupt, click.Abort):
            click.echo("curate: interrupted; finished units are kept, continue with --resume last.", err=True)
            code = EXIT_INTERRUPTED
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(
    cls=CurateGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.version_option(__version__, "--version", prog_name="curate")
def main():
    """Curate text corpora for language-model pretraining, and measure what curation buys.

    Exit codes: 0 success; 1 the run failed; 2 a user mistake (bad option, missing file, invalid config);
    3 the books do not balance (a bug); 130 interrupted.

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


def _engine_options(f):
    f = click.option(
        "--scheduler", metavar="ADDRESS", help="Run on a running Dask scheduler, e.g. tcp://10.0.0.5:8786."
    )(f)
    f = click.option(
        "--workers",
        type=click.IntRange(min=0),
        help="Local Dask worker processes (0: run in this process). Default: the config's.",
    )(f)
    return f


def _make_engine(engine_cfg, workers: int | None, scheduler: str | None, quiet: bool = False):
    from curate.engine import Engine

    return Engine(
        workers=engine_cfg.workers if workers is None else workers,
        scheduler=scheduler or engine_cfg.scheduler,
        threads_per_worker=engine_cfg.threads_per_worker,
        memory_limit=engine_cfg.memory_limit,
        progress=not quiet,
    )


def _print_result(workspace, run_id: str, as_json: bool) -> None:
    from curate.runs.summary import render_status, run_status

    status = run_status(workspace, run_id)
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
@click.option("--dry-run", is_flag=True, help="Validate the config, print it resolved, and stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's status as JSON at the end.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def run(config, workspace, inputs, overrides, workers, scheduler, resume, dry_run, as_json, quiet):
    """Run the pipeline CONFIG (a YAML file) and write its outputs into a new run of the workspace.

    Every input record ends as kept (output/), removed with a reason (removed/) or quarantined as bad input
    (quarantine/); the counts go into the workspace ledger and must balance. Finished units are kept when a
    run stops, so `--resume last` continues where it stopped.

    \b
    Example:
      curate run pipelines/web.yaml --workspace ws --input 'data/*.jsonl.gz' --set stages.1.min_words=50
    """
    from curate.pipeline.runner import Runner
    from curate.pipeline.spec import dump_yaml, load_pipeline
    from curate.runs.workspace import Workspace

    pipeline = load_pipeline(config, list(overrides), list(inputs))
    if dry_run:
        click.echo(dump_yaml(pipeline.resolved()), nl=False)
        return
    ws = Workspace(workspace)
    engine = _make_engine(pipeline.config.engine, workers, scheduler, quiet)
    result = Runner(pipeline, ws, engine, config_path=str(config)).run(resume=resume)
    _print_result(ws, result.run_id, as_json)


@main.command()
@_workspace_option
@_engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the run's status as JSON at the end.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def demo(workspace, workers, scheduler, as_json, quiet):
    """Build a corpus from text this machine already has, and run the demo pipeline on it.

    The corpus (standard-library documentation, pydoc help topics, the METADATA and licence files of the
    installed packages, and a few deliberately damaged records) is written to WORKSPACE/demo-corpus; no
    download is needed. The pipeline is pipelines/demo.yaml.

    \b
    Example:
      curate demo --workspace ws && curate status --workspace ws
    """
    from curate.demo import build_demo_corpus
    from curate.pipeline.runner import Runner
    from curate.pipeline.spec import load_pipeline
    from curate.resources import pipeline_path
    from curate.runs.workspace import Workspace

    ws = Workspace(workspace)
    corpus = ws.root / "demo-corpus"
    counts = build_demo_corpus(corpus)
    click.echo(
        "curate: demo corpus in " + str(corpus) + ": " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        err=True,
    )
    config = pipeline_path("demo")
    pipeline = load_pipeline(config, inputs=[str(corpus)])
    engine = _make_engine(pipeline.config.engine, workers, scheduler, quiet)
    result = Runner(pipeline, ws, engine, config_path=str(config)).run()
    _print_result(ws, result.run_id, as_json)


@main.command()
@_workspace_option
@click.option("--run", "run_id", metavar="RUN_ID", help="Which run (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: run_id, state, counts, stages, output.")
def status(workspace, run_id, as_json):
    """Show the state and the books of the latest run (or --run RUN_ID).

    The JSON form has run_id, state, counts {input, kept, removed {reason: n}, quarantined {reason: n}},
    balanced, removed_by_stage, stages (docs in/out, seconds) and output (folder, shards, bytes).

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
    from curate.runs.summary import render_runs
    from curate.runs.workspace import Workspace

    ws = Workspace(workspace)
    ws.require_existing()
    rows = Ledger(ws.ledger_path).runs(limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        click.echo(render_runs(rows))


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
@click.option("--no-exact", is_flag=True, help="Skip the exact (content hash) pass.")
@click.option(
    "--incremental/--no-incremental",
    default=True,
    show_default=True,
    help="Also remove copies of documents that earlier runs in OUTPUT published.",
)
@click.option("--text-key", default="text", show_default=True, help="Field or column holding the text.")
@click.option("--id-key", help="Field holding unique ids (default: derived from file and offset).")
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
    no_exact,
    incremental,
    text_key,
    id_key,
    workers,
    scheduler,
    as_json,
    quiet,
):
    """Remove exact and near-duplicate documents from INPUT (files, folders or globs).

    Runs pipelines/dedup.yaml: exact dedup by content hash, then MinHash LSH near dedup with exact-Jaccard
    verification and connected components. Prints documents in, duplicates removed, clusters, the LSH
    S-curve and the time per phase. Run it again on a new batch with the same OUTPUT to deduplicate the
    batch against what earlier runs kept.

    \b
    Example:
      curate dedup 'crawl/*.jsonl.gz' --output dedup-ws --threshold 0.8 --bands 14 --rows 8
    """
    from curate.dedup.report import render_dedup_summary
    from curate.pipeline.runner import Runner
    from curate.pipeline.spec import load_yaml, pipeline_from_mapping
    from curate.resources import pipeline_path
    from curate.runs.summary import run_status
    from curate.runs.workspace import Workspace

    if (bands is None) != (rows is None):
        raise click.UsageError("give --bands and --rows together, or neither")
    config = pipeline_path("dedup")
    data = load_yaml(config)
    data["input"].update(paths=list(inputs), text_key=text_key, id_key=id_key)
    stages = [s for s in data["stages"] if not (no_exact and s["stage"] == "exact_dedup")]
    for s in stages:
        if s["stage"] == "exact_dedup":
            s["incremental"] = incremental
        if s["stage"] == "minhash_dedup":
            s.update(
                threshold=threshold,
                num_perm=num_perm,
                ngram=ngram,
                bands=bands,
                rows=rows,
                verify=not no_verify,
                incremental=incremental,
            )
    data["stages"] = stages
    pipeline = pipeline_from_mapping(data, str(config))
    ws = Workspace(workspace)
    engine = _make_engine(pipeline.config.engine, workers, scheduler, quiet)
    result = Runner(pipeline, ws, engine, config_path=str(config)).run()
    status = run_status(ws, result.run_id)
    click.echo(json.dumps(status, indent=2, default=str) if as_json else render_dedup_summary(status))


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


if __name__ == "__main__":  # pragma: no cover
    main()
