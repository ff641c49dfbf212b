"""Shared test fixtures: small corpora built in the test, and the real data beside the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real corpora of ../shared/data; tests that need them skip where the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (it sits beside the repository in CI)")
    return SHARED_DATA


def write_jsonl(path: Path, records: list, raw_lines: list[bytes] | None = None) -> Path:
    """Write records as JSON lines, then any raw (possibly broken) lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records] + list(raw_lines or [])
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


PROSE = [
    "The committee met on Tuesday to discuss the budget for the coming year and agreed on most items.",
    "Rivers carry sediment from the mountains to the sea, building deltas over thousands of years.",
    "A good library catalogue lets readers find books by author, title, subject and year of publication.",
    "The recipe calls for two cups of flour, one egg, a pinch of salt and enough milk to make a batter.",
    "Astronomers measured the distance to the galaxy using variable stars whose brightness is known.",
    "In the winter the village road is often closed, so the school bus takes the longer valley route.",
]


@pytest.fixture
def prose_records() -> list[dict]:
    return [{"id": f"doc-{i}", "text": t, "lang": "en"} for i, t in enumerate(PROSE)]
