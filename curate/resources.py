"""Files curate ships beside its code: pipeline configs and models."""

from __future__ import annotations

from pathlib import Path

from curate.errors import UserError

_PACKAGE = Path(__file__).resolve().parent


def pipelines_dir() -> Path:
    """The shipped pipeline configs: `curate/_pipelines` links to the top-level `pipelines/` folder of the
    source tree, and a wheel carries a copy under that name."""
    folder = _PACKAGE / "_pipelines"
    if not folder.is_dir():
        raise UserError("curate's pipeline configs are missing from this installation; reinstall curate.")
    return folder


def pipeline_path(name: str) -> Path:
    path = pipelines_dir() / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in pipelines_dir().glob("*.yaml")))
        raise UserError(f"no shipped pipeline '{name}'; shipped pipelines are: {known}.")
    return path
