"""A damaged fastText model file is refused in a second or two with one sentence, never loaded.

fastText's loader reads a truncated file past its end without stopping (a word is read up to a NUL byte
that never comes): 100% CPU for minutes. Every case runs in a subprocess with a timeout, so a hang fails.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curate.errors import ConfigError, UserError
from curate.pipeline.spec import pipeline_from_mapping
from curate.quality.fasttext_format import check_model_file
from curate.quality.stages import lid_model_path
from tests.conftest import REPO, write_jsonl

SHIPPED = REPO / "quality_models" / "curate-web-quality-v1.ftz"
CURATE = Path(sys.executable).parent / "curate"


def damaged(kind: str) -> bytes:
    good = SHIPPED.read_bytes()
    rng = random.Random(kind)
    return {
        "truncated-in-header": good[:30],
        "truncated-in-dictionary": good[:100],
        "truncated-half": good[: len(good) // 2],
        "truncated-last-byte": good[:-1],
        "random": bytes(rng.randrange(256) for _ in range(4096)),
        "random-after-a-good-header": good[:8] + bytes(rng.randrange(256) for _ in range(4096)),
        "empty": b"",
        "text": b"__label__hq this is a text file renamed to .ftz\n",
        "trailing-garbage": good + b"\0" * 16,
    }[kind]


KINDS = [
    "truncated-in-header",
    "truncated-in-dictionary",
    "truncated-half",
    "truncated-last-byte",
    "random",
    "random-after-a-good-header",
    "empty",
    "text",
    "trailing-garbage",
]


def bad_model(tmp_path: Path, kind: str, suffix: str = ".ftz") -> Path:
    """A damaged copy of the shipped model with the shipped model card beside it: only the file is bad."""
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(damaged(kind))
    shutil.copy(SHIPPED.with_suffix(".json"), path.with_suffix(".json"))
    return path


def run_curate(*args, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    t0 = time.monotonic()
    done = subprocess.run(
        [str(CURATE), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )
    return done, time.monotonic() - t0


@pytest.mark.parametrize("kind", KINDS)
def test_curate_score_refuses_a_damaged_model_quickly_with_one_sentence(tmp_path, kind):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "A short page about rivers and the sea."}])
    model = bad_model(tmp_path, kind)
    done, seconds = run_curate(
        "score", tmp_path / "in", "--output", tmp_path / "ws", "--classifier", model,
        "--no-langid", "--groups", "none", "--workers", "0", "-q",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curate: error: "), done.stderr
    assert str(model) in lines[0] and "not a valid fastText model" in lines[0]
    assert "train-classifier" in lines[0]  # the fix
    assert seconds < 15  # interpreter start-up included; the check itself is below


@pytest.mark.parametrize("kind", KINDS)
def test_the_check_takes_well_under_a_second(tmp_path, kind):
    path = bad_model(tmp_path, kind)
    t0 = time.monotonic()
    with pytest.raises(UserError, match="not a valid fastText model"):
        check_model_file(str(path))
    assert time.monotonic() - t0 < 1


def test_the_shipped_and_language_id_models_pass_the_check():
    for path in (SHIPPED, lid_model_path()):
        t0 = time.monotonic()
        check_model_file(str(path))
        assert time.monotonic() - t0 < 1


def test_the_quality_classifier_stage_refuses_a_damaged_bin_at_config_time(tmp_path):
    model = bad_model(tmp_path, "truncated-half", ".bin")
    mapping = {
        "name": "q",
        "input": {"paths": [str(tmp_path)]},
        "stages": [{"stage": "quality_classifier", "model": str(model)}],
    }
    with pytest.raises((ConfigError, UserError), match="not a valid fastText model"):
        pipeline_from_mapping(mapping)


def test_a_worker_loading_a_model_that_was_damaged_after_the_check_gets_one_sentence_too(tmp_path):
    """`fasttext_util.load` (each worker, and the language-ID model) checks the file as well."""
    model = bad_model(tmp_path, "truncated-in-dictionary")
    code = "import sys; from curate.quality.fasttext_util import load; load(sys.argv[1])"
    done = subprocess.run(
        [sys.executable, "-c", code, str(model)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "UserError" in done.stderr
    assert "not a valid fastText model (dictionary entry" in done.stderr
