"""What a global stage gets to see when it plans: the shards of the previous pass and where to work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curate.engine import Engine


@dataclass
class GlobalContext:
    engine: Engine
    shards: list[str]  # Parquet shards of the previous pass: every document still kept, with its columns
    workdir: Path  # this stage's scratch folder inside the run (deleted after a finished run)
    state_dir: Path  # this stage's folder in the workspace that outlives runs (e.g. an incremental index)
    batch_rows: int  # documents per batch, to bound memory
    log: Callable[[str], None]
