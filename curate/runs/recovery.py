"""Put the workspace's books straight after a run that ended without recording its end.

Every command that reads a workspace (`status`, `runs`, `run`, `run --resume`) calls `recover` first:

- a run still marked `running` whose driver process is gone (killed, crashed) is marked `failed`, with
  the reason and the command that continues it;
- a driver killed just after it recorded its run finished left the rest of finishing undone: `latest`
  is pointed at the run that finished last, and finished runs' intermediate files (`work/`) are deleted.

These steps are idempotent and safe beside a live run: they touch only runs that have ended.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from curate.runs.ledger import Ledger
from curate.runs.workspace import Workspace


def recover(workspace: Workspace, ledger: Ledger, log: Callable[[str], None] = lambda _m: None) -> None:
    for run_id, driver in ledger.running():
        if driver is None or not driver.is_gone():
            continue
        config = (ledger.run_row(run_id) or {}).get("config_path") or "CONFIG"
        ledger.mark_gone(
            run_id,
            f"process gone: the driver ({driver.describe()}) stopped without recording an end (killed or "
            f"crashed); continue with `curate run {config} --workspace {workspace.root} --resume {run_id}`",
        )
        log(
            f"curate: run {run_id} was left running by a process that is gone ({driver.describe()}); "
            "marked failed"
        )

    finished = ledger.finished_run_ids()
    if finished and workspace.latest_run_id() != finished[0]:
        workspace.point_latest(finished[0])
        log(f"curate: latest -> runs/{finished[0]} (the run that finished last)")
    done = set(finished)
    for work in workspace.root.glob("runs/*/work"):
        if work.parent.name in done:
            shutil.rmtree(work, ignore_errors=True)
