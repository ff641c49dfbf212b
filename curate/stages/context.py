"""What a global stage gets to see when it plans, and when its run has finished."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curate.engine import Engine


@dataclass
class GlobalContext:
    engine: Engine
    shards: list[str]  # Parquet shards of the previous pass: every document still kept, with its columns
    workdir: Path  # this stage's scratch folder inside the run (deleted after a finished run)
    state_dir: Path  # this stage's folder in the workspace that outlives runs (e.g. an incremental index)
    workspace: Path  # the workspace root (earlier runs live in workspace/runs/RUN_ID)
    run_id: str
    batch_rows: int  # documents per batch, to bound memory
    log: Callable[[str], None]
    metrics: dict[str, Any] = field(default_factory=dict)  # numbers worth keeping: go to the ledger
    # the runs whose published documents count as earlier ones (the lineage's finished runs); None: all
    published_runs: frozenset[str] | None = None

    def is_published(self, run_id: str) -> bool:
        """Whether an incremental index entry of `run_id` belongs to what this run deduplicates against."""
        return self.published_runs is None or run_id in self.published_runs


@dataclass
class FinishedRun:
    """Given to a global stage's `commit` once the run's output is final."""

    run_id: str
    workdir: Path  # the stage's scratch folder, still present
    state_dir: Path
    output_shards: list[str]  # the run's kept documents
    log: Callable[[str], None]
