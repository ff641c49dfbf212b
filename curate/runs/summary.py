"""What `curate status` and `curate runs` show: a run's state and books, as JSON or as text for people."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from curate.progress import human_bytes
from curate.runs import lineage as lineages
from curate.runs.ledger import Ledger
from curate.runs.recovery import recover
from curate.runs.sources import render_sources, sources_status
from curate.runs.workspace import Workspace


def run_status(workspace: Workspace, run_id: str | None = None) -> dict[str, Any]:
    """The status of one run (the last one by default), as plain JSON-able data."""
    workspace.require_existing()
    ledger = Ledger(workspace.ledger_path)
    recover(workspace, ledger)
    with ledger.session(read_only=True):  # one connection for the five reads
        return _status(workspace, ledger, run_id)


def _status(workspace: Workspace, ledger: Ledger, run_id: str | None) -> dict[str, Any]:
    from curate.errors import UserError

    run_id = run_id or ledger.last_run_id()
    if run_id is None:
        raise UserError(f"workspace {workspace.root} has no runs yet; start one with `curate run`.")
    row = ledger.run_row(run_id)
    if row is None:
        raise UserError(f"no run '{run_id}' in workspace {workspace.root}; see `curate runs`.")
    counts = ledger.counts(run_id)
    by_stage = counts.pop("removed_by_stage")
    output = Path(row["run_dir"]) / "output"
    shards = sorted(output.glob("*.parquet")) if output.is_dir() else []
    metrics = ledger.metrics(run_id)
    sources = sources_status(ledger, run_id, metrics.pop("sources", None))
    return {
        "run_id": run_id,
        "pipeline": row["pipeline"],
        "state": row["state"],
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "seconds": row["seconds"],
        "engine": row["engine"],
        "curate_version": row["curate_version"],
        "balanced": row["balanced"],
        "error": row["error"],
        "counts": counts,
        "removed_by_stage": by_stage,
        "stages": [
            {k: s[k] for k in ("stage", "kind", "docs_in", "docs_out", "removed", "seconds")}
            for s in ledger.table("stages", run_id)
        ],
        "metrics": metrics,
        "run_dir": row["run_dir"],
        "output": {
            "dir": str(output),
            "shards": len(shards),
            "bytes": sum(p.stat().st_size for p in shards),
            **{k: v for k, v in metrics.get("output", {}).items() if k != "documents"},
        },
        "deleted_at": _iso(row.get("deleted_at")),
        "lineage": _lineage(ledger, row.get("lineage")),
        "drift": lineages.run_drift(ledger, run_id),
        "sources": sources,
    }


def _lineage(ledger: Ledger, lineage: str | None) -> dict[str, Any] | None:
    """The run's lineage: its finished runs and every shard they published, with the run that wrote it."""
    if lineage is None:
        return None
    return {
        "id": lineage,
        "runs": lineages.lineage_runs(ledger, lineage),
        "shards": lineages.lineage_shards(ledger, lineage),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else value


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n:,}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _kept_size(output: dict[str, Any]) -> str:
    """`   1.9 MB of text, 512,345 tokens (cl100k_base)` for runs that recorded them."""
    if output.get("text_bytes") is None:
        return ""
    text = f"   {human_bytes(output['text_bytes'])} of text"
    if output.get("tokens") is not None:
        text += f", {output['tokens']:,} tokens ({output.get('tokenizer') or 'n_tokens'})"
    return text


def render_status(status: dict[str, Any]) -> str:
    c = status["counts"]
    removed, quarantined = sum(c["removed"].values()), sum(c["quarantined"].values())
    if status["seconds"] is not None:
        seconds = f"{status['seconds']:.1f} s"
    else:
        seconds = "running" if status["state"] == "running" else "-"
    lines = [
        f"run {status['run_id']}  {status['state']}  pipeline {status['pipeline']}  {seconds}",
        f"  input        {c['input']:>10,}",
        f"  kept         {c['kept']:>10,}{_kept_size(status['output'])}",
        f"  removed      {removed:>10,}   {_reasons(c['removed'])}",
        f"  quarantined  {quarantined:>10,}   {_reasons(c['quarantined'])}",
    ]
    if status["balanced"] is not None:
        lines.append(f"  books        {'balanced' if status['balanced'] else 'NOT balanced'}")
    if status["stages"]:
        lines.append("  stages:")
        for s in status["stages"]:
            lines.append(
                f"    {s['stage']:<22} {s['docs_in']:>10,} in {s['docs_out']:>10,} out  {s['seconds']:8.2f} s"
            )
    for stage, metrics in status.get("metrics", {}).items():
        numbers = [
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:.3g}"
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if numbers:
            lines.append(f"  {stage}: " + ", ".join(numbers[:12]) + (" ..." if len(numbers) > 12 else ""))
    out = status["output"]
    lines.append(f"  output       {out['dir']}  ({out['shards']} shards, {human_bytes(out['bytes'])})")
    lines += _render_lineage(status.get("lineage"), status.get("drift"))
    lines += render_sources(status.get("sources"))
    if status["error"]:
        lines.append(f"  error        {status['error']}")
    return "\n".join(lines)


def _render_lineage(lineage: dict[str, Any] | None, drift: dict[str, Any] | None) -> list[str]:
    lines = []
    if lineage:
        shards = lineage["shards"]
        size = human_bytes(sum(s["bytes"] or 0 for s in shards))
        lines.append(
            f"  lineage      {lineage['id']}  ({len(lineage['runs'])} finished runs, {len(shards)} shards, "
            f"{size}, {sum(s['rows'] or 0 for s in shards):,} documents)"
        )
    if drift and drift["previous_run"]:
        moved = sorted(drift["changes"].items(), key=lambda kv: -abs(kv[1]["change"]))[:5]
        lines.append(
            f"  drift        from run {drift['previous_run']}: "
            + ", ".join(f"{k} {v['change']:+.3g}" for k, v in moved)
        )
        for e in drift["exceeded"]:
            lines.append(f"    EXCEEDED   {e['metric']} changed by {e['change']:+.3g} (limit {e['limit']:g})")
    return lines


def render_runs(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'run_id':<24} {'pipeline':<16} {'lineage':<12} {'state':<11} {'started':<19} {'seconds':>8} "
        f"{'input':>9} {'kept':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        started = r["started_at"].strftime("%Y-%m-%d %H:%M:%S") if r["started_at"] else ""
        seconds = f"{r['seconds']:.1f}" if r["seconds"] is not None else ""
        state = r["state"] + ("*" if r.get("deleted_at") else "")
        lines.append(
            f"{r['run_id']:<24} {(r['pipeline'] or '')[:16]:<16} {r.get('lineage') or '':<12} {state:<11} "
            f"{started:<19} {seconds:>8} {r['counts']['input']:>9,} {r['counts']['kept']:>9,}"
        )
    if any(r.get("deleted_at") for r in rows):
        lines.append("* removed by `curate gc` (its ledger rows stay)")
    return "\n".join(lines)
