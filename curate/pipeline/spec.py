"""The pipeline config: what a YAML file in `pipelines/` may say, validated before anything runs.

    name: web-recipe
    input:
      paths: [data/*.jsonl.gz]
      text_key: text
    stages:
      - stage: unicode_normalize
      - stage: length_filter
        min_words: 50
    output:
      shard_mb: 128
    engine:
      workers: 2

Each stage entry names a registered stage (`curate stages` lists them) and gives its parameters beside it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from curate.config import build, option, to_dict
from curate.errors import ConfigError
from curate.runs.drift import DriftConfig
from curate.runs.sources import SourcesConfig
from curate.stages.base import Stage, stage_class


@dataclass
class InputConfig:
    paths: list[str] = option(
        default_factory=list, help="Files, folders or globs to read (.jsonl, .parquet, .txt; .gz/.zst ok)."
    )
    format: Literal["auto", "jsonl", "parquet", "text"] = option(
        "auto", help="Input format; auto: from names."
    )
    text_key: str = option("text", help="Field or column holding the document text.")
    id_key: str | None = option(None, help="Field holding a unique id; none: derive `{source}#{offset}`.")
    duplicate_ids: Literal["quarantine", "rekey"] = option(
        "quarantine",
        help="A record whose id an earlier record has: quarantine it (duplicate_id), or rekey it to "
        "`{id}@{source}#{offset}`.",
    )
    text_unit: Literal["file", "line"] = option("file", help="Text inputs: a document per file or per line.")
    columns: Literal["meta", "keep"] = option(
        "meta",
        help="Other fields: 'meta' folds them into the meta JSON column; 'keep' (Parquet inputs, e.g. scored "
        "output of an earlier run) keeps them as typed columns.",
    )
    partition_mb: float = option(
        64.0,
        help="Split plain inputs into units of at most this size (smaller on several workers: about "
        "three units per worker, not under 1 MB).",
        min=1e-6,
    )
    batch_rows: int = option(2000, help="Documents per in-memory batch (bounds memory per worker).", min=1)
    batch_mb: float = option(
        32.0,
        help="Or this much text per batch, whichever comes first; lowered to fit engine.memory_limit.",
        min=0.01,
    )
    fallback_encoding: str | None = option(
        None,
        help="Decode with this encoding (e.g. cp1252) where UTF-8 fails; none: quarantine as invalid_utf8.",
    )

    def __post_init__(self):
        if self.fallback_encoding is not None:
            import codecs

            try:
                codecs.lookup(self.fallback_encoding)
            except LookupError:
                raise ValueError(
                    f"fallback_encoding: unknown encoding '{self.fallback_encoding}'; use a Python codec "
                    "name such as cp1252 or latin-1."
                ) from None


@dataclass
class OutputConfig:
    shard_mb: float = option(128.0, help="Target size of an output Parquet shard.", min=0.001)
    compression: Literal["zstd", "snappy", "gzip", "none"] = option("zstd", help="Parquet compression codec.")
    compression_level: int = option(3, help="Codec level (zstd 1-22, gzip 1-9).", min=1, max=22)
    write_removed: bool = option(True, help="Keep removed documents, with their reason, under removed/.")


@dataclass
class EngineConfig:
    workers: int = option(2, help="Local Dask worker processes; 0 runs everything in this process.", min=0)
    scheduler: str | None = option(None, help="Address of a running Dask scheduler, e.g. tcp://host:8786.")
    threads_per_worker: int = option(1, help="Threads per local worker process.", min=1)
    memory_limit: str = option("auto", help="Memory limit per local worker, e.g. '4GiB'; auto: RAM/workers.")
    dashboard: bool = option(False, help="Serve Dask's dashboard for a local cluster (needs bokeh).")


@dataclass
class PipelineConfig:
    name: str = option(help="Name of the pipeline, shown in the run ledger.")
    description: str = option("", help="One line on what the pipeline is for.")
    input: InputConfig = option(default_factory=InputConfig, help="What to read.")
    stages: list[dict[str, Any]] = option(default_factory=list, help="The stages, in order.")
    output: OutputConfig = option(default_factory=OutputConfig, help="How kept data is written.")
    engine: EngineConfig = option(default_factory=EngineConfig, help="Where the work runs.")
    drift: DriftConfig = option(
        default_factory=DriftConfig,
        help="Limits on the change from the previous run of the lineage; beyond one, exit code 5.",
    )
    sources: SourcesConfig = option(
        default_factory=SourcesConfig,
        help="Books per source: what a source is, and the loss that flags it or holds the run (exit 6).",
    )


@dataclass
class Pipeline:
    config: PipelineConfig
    stages: list[Stage] = field(default_factory=list)
    source: str = "<config>"

    def resolved(self) -> dict[str, Any]:
        """The config with every default filled in (what `--dry-run` prints and the manifest stores)."""
        data = to_dict(self.config)
        data["stages"] = [s.config() for s in self.stages]
        return data


def build_stages(entries: list[Any], path: str = "stages") -> list[Stage]:
    stages: list[Stage] = []
    for i, entry in enumerate(entries):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict) or "stage" not in entry:
            raise ConfigError(
                f"{where}: a stage entry needs a 'stage' key naming the stage, e.g. '- stage: length_filter'."
            )
        params = dict(entry)
        cls = stage_class(str(params.pop("stage")), f"{where}.stage")
        if any(s.name == cls.name for s in stages):
            raise ConfigError(
                f"{where}.stage: '{cls.name}' appears twice; a pipeline runs each stage once "
                "(combine their parameters into one entry)."
            )
        stages.append(cls(build(cls.Params, params, where)))
    return stages


def pipeline_from_mapping(data: Any, source: str = "<config>") -> Pipeline:
    try:
        config = build(PipelineConfig, data)
        stages = build_stages(config.stages)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    return Pipeline(config, stages, source)


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pipeline config '{path}' not found; pass a YAML file, e.g. pipelines/demo.yaml.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}; check indentation and quoting.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top (name:, input:, stages:, ...).")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `--set key.path=value` overrides (value parsed as YAML) to a config mapping."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set '{item}': expected KEY=VALUE, e.g. --set output.shard_mb=64.")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = _child(node, part, key)
        last = parts[-1]
        value = yaml.safe_load(raw)
        if isinstance(node, list):
            node[_index(last, node, key)] = value
        else:
            node[last] = value
    return data


def _index(part: str, node: list, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set '{key}': '{part}' is not an index of a list of {len(node)} items.")
    return int(part)


def _child(node: Any, part: str, key: str) -> Any:
    if isinstance(node, list):
        return node[_index(part, node, key)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set '{key}': '{part}' is inside a value that is not a mapping.")
    return node.setdefault(part, {})


def load_pipeline(
    path: str | Path, overrides: list[str] | None = None, inputs: list[str] | None = None
) -> Pipeline:
    """Read, override and validate a pipeline config. `inputs` replaces `input.paths`."""
    data = apply_overrides(load_yaml(path), overrides or [])
    if inputs:
        data.setdefault("input", {})
        if not isinstance(data["input"], dict):
            raise ConfigError(f"{path}: input: expected a mapping.")
        data["input"]["paths"] = list(inputs)
    pipeline = pipeline_from_mapping(data, str(path))
    if not pipeline.config.input.paths:
        raise ConfigError(f"{path}: input.paths is empty; list the files to read, or pass --input PATH.")
    return pipeline


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
