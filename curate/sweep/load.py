"""Read and validate a sweep config."""

from __future__ import annotations

from pathlib import Path

from curate.config import build
from curate.errors import ConfigError
from curate.pipeline.spec import apply_overrides, load_yaml
from curate.sweep.config import SweepConfig


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    data = apply_overrides(load_yaml(path), overrides or [])
    try:
        cfg = build(SweepConfig, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    if not cfg.pool.paths:
        raise ConfigError(
            f"{path}: pool.paths is empty; give the scored documents (e.g. the output of `curate score`)."
        )
    return cfg
