"""fastText, loaded once per worker process and called on whole batches.

With numpy 2, `fasttext` 0.9.3's `model.predict(str)` fails ("Unable to avoid copy"); predicting a *list*
of strings works, and is what every caller here does. fastText reads one line per example, so newlines
are folded into spaces before prediction and training.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from curate.errors import UserError
from curate.quality.fasttext_format import check_model_file


def prepare(text: str, lowercase: bool = False, max_chars: int | None = None) -> str:
    """One line of text as fastText expects it: newlines folded, optionally lower case and truncated."""
    if max_chars is not None:
        text = text[:max_chars]
    text = " ".join(text.split())  # newlines, tabs and runs of spaces become one space
    return text.lower() if lowercase else text


@lru_cache(maxsize=8)
def load(path: str):
    """The fastText model at `path`, loaded once per process (workers keep it between tasks)."""
    import fasttext

    if not os.path.isfile(path):
        raise UserError(
            f"fastText model '{path}' not found; train one with `curate train-classifier` or use a "
            "shipped model name (see `curate models`)."
        )
    check_model_file(path)  # fastText's loader spins or crashes on a truncated file instead of failing
    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its load_model deprecation notice
    try:
        return fasttext.load_model(path)
    except ValueError as err:
        raise UserError(f"'{path}' is not a fastText model ({err}).") from None


def predict_top(model, lines: list[str]) -> tuple[list[str], np.ndarray]:
    """The most likely label (without `__label__`) and its probability for each line."""
    if not lines:
        return [], np.empty(0)
    labels, probs = model.predict(lines, k=1)
    return [lab[0].removeprefix("__label__") if lab else "" for lab in labels], np.array(
        [p[0] if len(p) else 0.0 for p in probs], dtype=np.float64
    )


def predict_label_probability(model, lines: list[str], label: str) -> np.ndarray:
    """P(label) for each line (labels of a binary classifier sum to 1)."""
    if not lines:
        return np.empty(0)
    target = f"__label__{label}"
    labels, probs = model.predict(lines, k=-1)
    return np.array(
        [float(p[list(lab).index(target)]) if target in lab else 0.0 for lab, p in zip(labels, probs)],
        dtype=np.float64,
    )
