"""Pipeline stages. Importing this package registers the built-in stages (see `base.register`)."""

from curate.dedup import exact, near  # noqa: F401  (registers the dedup stages)
from curate.quality import stages as quality_stages  # noqa: F401  (registers the quality stages)
from curate.stages import length, normalize  # noqa: F401  (registers the local stages)
from curate.stages.base import Stage, StageResult, register, registry, stage_class

__all__ = ["Stage", "StageResult", "register", "registry", "stage_class"]
