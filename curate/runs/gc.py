"""Retention: remove what no later run needs, never what a lineage published.

What `curate gc` keeps and removes (its --help says the same):

- the newest `keep` runs are kept whole, whatever their state, and so is a run still `running`;
- every finished run keeps its published output (`output/`, with `removed/`, `quarantine/`, its manifest
  and config): it is part of its lineage's dataset, the lineage's next run deduplicates against it
  (incremental index) and reads its text to verify near duplicates, and the ledger's `files` rows say
  which inputs it read. This covers the run `latest` points to and every lineage's last finished run.
  Older finished runs lose only their intermediate files (`work/`, `markers/`);
- older runs that never finished (failed, interrupted, unbalanced, held: beyond the newest `keep` they
  are not resumed) are removed whole, with their entries in the dedup stages' incremental index;
- `drop_lineages` removes every run of those lineages (not the lineage of `latest`), with their index
  entries: for a config that was changed for good;
- run folders the ledger does not know (a run killed before it was recorded) are removed.

Removed runs keep their ledger rows, marked with `deleted_at`. gc holds the workspace lock, so it never
runs beside a run.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.errors import UserError
from curate.runs.ledger import Ledger
from curate.runs.recovery import recover
from curate.runs.workspace import Workspace

INTERMEDIATE = ("work", "markers")


@dataclass
class Removal:
    path: Path
    bytes: int
    run_id: str
    reason: str
    whole_run: bool = False

    def to_json(self, root: Path) -> dict[str, Any]:
        path = str(self.path.relative_to(root))
        return {"path": path, "bytes": self.bytes, "run_id": self.run_id, "reason": self.reason}


@dataclass
class GcPlan:
    keep: int
    removals: list[Removal] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # run id -> why it stays whole (or its output)
    retired: dict[str, list[str]] = field(default_factory=dict)  # lineage without a newest run -> its runs

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.removals)

    def to_json(self, root: Path, dry_run: bool) -> dict[str, Any]:
        return {
            "dry_run": dry_run,
            "removed": [r.to_json(root) for r in self.removals],
            "bytes_freed": self.bytes,
            "kept": self.kept,
            "retired_lineages": self.retired,
        }


def plan_gc(workspace: Workspace, ledger: Ledger, keep: int, drop_lineages: tuple[str, ...] = ()) -> GcPlan:
    """What `collect` would remove, and why the rest stays."""
    runs = [r for r in _runs(ledger) if r["deleted_at"] is None]  # newest first
    latest = workspace.latest_run_id()
    by_id = {r["run_id"]: r for r in runs}
    if latest in by_id and by_id[latest]["lineage"] in drop_lineages:
        raise UserError(
            f"lineage {by_id[latest]['lineage']} holds the latest run ({latest}); gc never drops it: run "
            "the new config first, then drop the old lineage."
        )
    plan = GcPlan(keep)
    newest = {r["run_id"] for r in runs[:keep]}
    for r in runs:
        _plan_run(workspace, plan, r, newest, latest, drop_lineages)
    _plan_unknown_folders(workspace, plan, {r["run_id"] for r in _runs(ledger)})
    removed_runs = {x.run_id for x in plan.removals if x.whole_run}
    plan.removals += _index_entries(workspace, removed_runs)
    live = {r["lineage"] for r in runs if r["run_id"] in newest or r["run_id"] == latest}
    for r in runs:
        if r["lineage"] and r["lineage"] not in live and r["run_id"] not in removed_runs:
            plan.retired.setdefault(r["lineage"], []).append(r["run_id"])
    return plan


def _plan_run(
    workspace: Workspace,
    plan: GcPlan,
    r: dict[str, Any],
    newest: set[str],
    latest: str | None,
    drop_lineages: tuple[str, ...],
) -> None:
    run_id, folder = r["run_id"], workspace.run(r["run_id"]).root
    if r["lineage"] in drop_lineages and r["state"] != "running":
        plan.removals.append(_removal(folder, run_id, f"a run of dropped lineage {r['lineage']}", True))
    elif run_id in newest:
        plan.kept[run_id] = f"one of the newest {plan.keep} runs"
    elif r["state"] == "running":
        plan.kept[run_id] = "running"
    elif r["state"] == "finished":
        why = "the latest run" if run_id == latest else f"published output of lineage {r['lineage']}"
        plan.kept[run_id] = why
        for name in INTERMEDIATE:
            if (folder / name).exists():
                plan.removals.append(_removal(folder / name, run_id, "intermediate files of a finished run"))
    else:
        reason = f"a {r['state']} run older than the newest {plan.keep}"
        plan.removals.append(_removal(folder, run_id, reason, True))


def _plan_unknown_folders(workspace: Workspace, plan: GcPlan, known: set[str]) -> None:
    runs = workspace.root / "runs"
    for folder in sorted(runs.iterdir()) if runs.is_dir() else []:
        if folder.is_dir() and folder.name not in known:
            reason = "a run folder the ledger never recorded"
            plan.removals.append(_removal(folder, folder.name, reason, True))


def _index_entries(workspace: Workspace, run_ids: set[str]) -> list[Removal]:
    """The incremental index entries of these runs (state/STAGE/index-*/RUN[.parquet], and temporaries)."""
    found = []
    for entry in sorted(workspace.root.glob("state/*/index-*/*")):
        run_id = entry.name.lstrip(".").split(".")[0]
        if run_id in run_ids:
            found.append(_removal(entry, run_id, "incremental index of a removed run"))
    return found


def _removal(path: Path, run_id: str, reason: str, whole_run: bool = False) -> Removal:
    return Removal(path, _size(path), run_id, reason, whole_run)


def _size(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def collect(workspace: Workspace, ledger: Ledger, plan: GcPlan) -> None:
    """Remove what `plan` lists, and mark the removed runs in the ledger (this process holds the lock)."""
    for r in plan.removals:
        if not r.path.exists() and not r.path.is_symlink():
            continue
        if r.path.is_dir() and not r.path.is_symlink():
            shutil.rmtree(r.path)
        else:
            r.path.unlink(missing_ok=True)
    removed = sorted({r.run_id for r in plan.removals if r.whole_run})
    if removed:
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with ledger.connect() as con:
            con.executemany("UPDATE runs SET deleted_at = ? WHERE run_id = ?", [[now, x] for x in removed])


def gc(workspace: Workspace, keep: int, dry_run: bool, drop_lineages: tuple[str, ...] = ()) -> GcPlan:
    """Plan and (unless `dry_run`) carry out a collection of the workspace, holding its lock."""
    workspace.require_existing()
    ledger = Ledger(workspace.ledger_path)
    with workspace:
        ledger.init()  # an older ledger gets its lineages and deleted_at first
        recover(workspace, ledger)
        plan = plan_gc(workspace, ledger, keep, drop_lineages)
        if not dry_run:
            collect(workspace, ledger, plan)
    return plan


def _runs(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.connect(read_only=True) as con:
        cur = con.execute(
            "SELECT run_id, lineage, state, deleted_at FROM runs ORDER BY started_at DESC, run_id DESC"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def render_gc(plan: GcPlan, root: Path, dry_run: bool) -> str:
    from curate.progress import human_bytes

    verb = "would remove" if dry_run else "removed"
    lines = [
        f"{verb} {r.path.relative_to(root)}  ({r.reason}, {human_bytes(r.bytes)})" for r in plan.removals
    ]
    reasons: dict[str, int] = {}
    for why in plan.kept.values():
        reasons[why] = reasons.get(why, 0) + 1
    if reasons:
        counted = [f"{n} run{'s' * (n > 1)}: {why}" for why, n in sorted(reasons.items())]
        lines.append("kept: " + "; ".join(counted))
    for lineage, run_ids in sorted(plan.retired.items()):
        lines.append(
            f"lineage {lineage} has no run among the newest {plan.keep} ({len(run_ids)} runs kept for their "
            f"output); `--drop-lineage {lineage}` removes them"
        )
    lines.append(f"{'would free' if dry_run else 'freed'} {human_bytes(plan.bytes)}")
    return "\n".join(lines)
