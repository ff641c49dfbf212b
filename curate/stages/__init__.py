"""Pipeline stages: the base class and the registry (`base.py`); the built-in stages live beside their
capability (`curate.dedup`, `curate.quality`) or here (`length`, `normalize`), and register when
`registry()` first imports them (see `base.BUILTIN_STAGE_MODULES`)."""

from curate.stages.base import Stage, StageResult, register, registry, stage_class

__all__ = ["Stage", "StageResult", "register", "registry", "stage_class"]
