"""Quality models by versioned name. A shipped model is a fastText file in `quality_models/` with a model
card beside it (`NAME.json`); its name (e.g. `curate-web-quality-v1`) never changes meaning: a retrained
model gets a new version. A model given as a path needs its card (written by `curate train-classifier`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from curate.config import suggest
from curate.errors import UserError
from curate.quality.fasttext_format import check_model_file

_MODELS = Path(__file__).resolve().parents[1] / "_quality_models"  # links to the top-level quality_models/


@dataclass(frozen=True)
class ModelInfo:
    name: str  # versioned, e.g. curate-web-quality-v1
    path: str  # the fastText file
    positive_label: str  # P(this label) is the quality score
    lowercase: bool  # preprocessing the model was trained with
    max_chars: int | None
    card: dict


def card_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


def _from_card(model_path: Path, card: dict) -> ModelInfo:
    pre = card.get("preprocess", {})
    return ModelInfo(
        name=card["name"],
        path=str(model_path),
        positive_label=card["labels"]["positive"],
        lowercase=bool(pre.get("lowercase", False)),
        max_chars=pre.get("max_chars"),
        card=card,
    )


def shipped() -> dict[str, ModelInfo]:
    found = {}
    for card_file in sorted(_MODELS.glob("*.json")) if _MODELS.is_dir() else []:
        card = json.loads(card_file.read_text())
        if "model_file" in card:
            found[card["name"]] = _from_card(card_file.parent / card["model_file"], card)
    return found


def resolve(name_or_path: str) -> ModelInfo:
    """A shipped model by name, or a trained model file with its card; its file is checked here, when the
    pipeline is built, so a damaged model stops the run before it starts (see `fasttext_format`)."""
    info = _find(name_or_path)
    check_model_file(info.path)
    return info


def _find(name_or_path: str) -> ModelInfo:
    models = shipped()
    if name_or_path in models:
        return models[name_or_path]
    path = Path(name_or_path)
    if path.suffix in (".bin", ".ftz") or path.exists():
        if not path.is_file():
            raise UserError(
                f"quality model file '{path}' not found; check the path or train one with "
                "`curate train-classifier`."
            )
        card = card_path(path)
        if not card.is_file():
            raise UserError(
                f"quality model '{path}' has no model card ({card.name}); models trained with "
                "`curate train-classifier` have one, and it says which label is high quality."
            )
        return _from_card(path, json.loads(card.read_text()))
    hint = suggest(name_or_path, models)
    known = ", ".join(models) or "none"
    raise UserError(
        f"unknown quality model '{name_or_path}'.{hint} Shipped models: {known}; or pass a .bin/.ftz path."
    )
