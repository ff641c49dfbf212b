"""What a global stage gets to see when it plans, and when its run has finished."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curate.engine import Engine


@dataclass
class PrepareContext:
    """Given to a stage's `prepare`, once per run, in the driver."""

    workdir: Path  # this stage's folder in the run's work folder (deleted once the run finishes)
    config_dir: Path | None  # the pipeline config file's folder (None: a config not read from a file)

    def path(self, name: str) -> str:
        """A path a stage's parameters name: a relative one is looked up beside the config file first,
        then in the current folder (as input paths are)."""
        if self.config_dir is not None and not Path(name).is_absolute():
            beside = self.config_dir / name
            if beside.exists() or any(beside.parent.glob(beside.name)):
                return str(beside)
        return name


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
