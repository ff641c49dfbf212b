"""What a stage is: a pure function of one partition (a pandas frame of documents).

A *local* stage sees one partition at a time. It may add columns (`annotate`: signals, scores, normalized
text) and may remove rows (`removals`: a reason per removed row). The engine maps it over partitions; the
stage never sees Dask, argv or a client, so the same object runs in a unit test, a notebook and a cluster.

A *global* stage (exact or near dedup) must see the whole corpus before it can decide about one document.
It implements `plan` instead: the runner calls it between two passes over the data, and it returns, per
shard of the previous pass, a decisions table (`id`, `reason`, `detail`, plus the columns it adds) that the
runner joins onto each shard in the next pass.

Stages are registered under a stable name (`@register`); an output column keeps its meaning across
releases, so a changed definition gets a new column name (`..._v2`), not a silent change.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from curate.config import suggest
from curate.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from curate.stages.context import FinishedRun, GlobalContext, PrepareContext


@dataclass
class NoParams:
    """This stage takes no parameters."""


@dataclass
class StageResult:
    kept: pd.DataFrame  # the rows that go on, with the stage's columns added
    removed: pd.DataFrame  # removed rows, with the stage's columns and `reason`, `detail`
    counters: dict[str, int] = dataclasses.field(default_factory=dict)  # summed over partitions -> ledger


class Stage:
    """Base of every stage. Subclasses set `name`, `Params`, `reads` and override one or both hooks."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "local"  # "local" or "global"
    Params: ClassVar[type] = NoParams
    reads: ClassVar[tuple[str, ...]] = ("text",)
    summary: ClassVar[str] = ""  # one line for `curate stages`
    # bytes a worker process keeps for this stage beyond its batch (tables, models): sizes batches under
    # engine.memory_limit (curate.memory)
    worker_memory: ClassVar[int] = 0

    def __init__(self, params: Any = None):
        self.params = params if params is not None else self.Params()

    # --- declared schema ----------------------------------------------------------------------------
    def adds(self) -> dict[str, pa.DataType]:
        """Columns this stage adds (name -> Arrow type); the runner builds shard schemas from these."""
        return {}

    # --- driver hook --------------------------------------------------------------------------------
    def prepare(self, ctx: PrepareContext) -> dict[str, Any]:
        """Once per run, in the driver, before any data is read: build what every worker shares (e.g. an
        index file in `ctx.workdir`, which workers map lazily, once per process) and keep its path on the
        stage, never the object itself (the stage is pickled into every task). Returns numbers for the
        run's metrics. Called again by a resumed run. Default: nothing to build."""
        return {}

    # --- local hooks --------------------------------------------------------------------------------
    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return `df` with this stage's columns added (or `text` rewritten). Default: unchanged."""
        return df

    def removals(self, df: pd.DataFrame) -> pd.Series | None:
        """Per row, the removal reason (a string) or None to keep; None for a stage that never removes."""
        return None

    def details(self, df: pd.DataFrame, removed: pd.Series) -> pd.Series | None:
        """Optional detail per removed row (e.g. the signal value that failed). Indexed like `df[removed]`."""
        return None

    def counters(self, df: pd.DataFrame) -> dict[str, int]:
        """Optional counts over the annotated partition (e.g. documents each rule flags); the runner sums
        them over partitions and stores them with the run's metrics."""
        return {}

    def apply(self, df: pd.DataFrame) -> StageResult:
        """Annotate, then split rows into kept and removed. Pure: the same frame gives the same result."""
        import pandas as pd

        if self.kind != "local":
            raise TypeError(f"stage '{self.name}' is global; the runner applies its plan, not apply()")
        df = self.annotate(df)
        counters = self.counters(df)
        reasons = self.removals(df)
        if reasons is None:
            return StageResult(df, _empty_removed(df), counters)
        mask = reasons.notna().to_numpy()
        removed = df[mask].copy()
        removed["reason"] = reasons[mask].astype(str).to_numpy()
        detail = self.details(df, pd.Series(mask, index=df.index)) if mask.any() else None
        removed["detail"] = pd.Series(None, index=removed.index, dtype=object) if detail is None else detail
        return StageResult(df[~mask], removed, counters)

    # --- global hooks -------------------------------------------------------------------------------
    def plan(self, ctx: GlobalContext) -> dict[str, str]:
        """Global stages: decide over the whole corpus; return {shard path: decisions Parquet path}.

        A decisions table has `id`, `reason` (null: kept), `detail` and the columns of `adds()`, for the
        documents the stage has something to say about; the others go through `fill_undecided`.
        """
        raise NotImplementedError

    def fill_undecided(self, table: pa.Table, undecided: pa.BooleanArray) -> pa.Table:
        """Global stages: set this stage's columns for the rows of a batch without a decision."""
        return table

    def commit(self, run: FinishedRun) -> None:
        """Global stages: called once the run's output is final (e.g. to extend an incremental index)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"

    def config(self) -> dict[str, Any]:
        """The stage as it appears in a resolved pipeline config."""
        return {"stage": self.name, **dataclasses.asdict(self.params)}


def _empty_removed(df: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    removed = df.iloc[:0].copy()
    removed["reason"] = pd.Series([], dtype=object)
    removed["detail"] = pd.Series([], dtype=object)
    return removed


_REGISTRY: dict[str, type[Stage]] = {}


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available to pipeline configs under `cls.name`."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a `name`")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise TypeError(f"two stages are registered as '{cls.name}'")
    _REGISTRY[cls.name] = cls
    return cls


# The modules of the built-in stages, imported (which registers them) when a config or `curate stages`
# asks for the registry; not before, so a worker that unpickles one stage imports only that stage's module.
BUILTIN_STAGE_MODULES = (
    "curate.decontam.stage",
    "curate.dedup.exact",
    "curate.dedup.near",
    "curate.pii.stage",
    "curate.quality.perplexity",
    "curate.quality.stages",
    "curate.stages.length",
    "curate.stages.normalize",
    "curate.tokens.stage",
)


def registry() -> dict[str, type[Stage]]:
    for module in BUILTIN_STAGE_MODULES:
        importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))


def stage_class(name: str, path: str = "stage") -> type[Stage]:
    stages = registry()
    if name not in stages:
        raise ConfigError(
            f"{path}: unknown stage '{name}'.{suggest(name, stages)} Run `curate stages` to list them."
        )
    return stages[name]
