"""Fixtures for the scaling tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scaling.synthetic import CHINCHILLA_CSV, MLFOUNDATIONS_CSV


@pytest.fixture
def chinchilla_csv() -> Path:
    if not CHINCHILLA_CSV.is_file():
        pytest.skip(
            f"shared reference data not found at {CHINCHILLA_CSV} (the repo's sibling folder `shared`)"
        )
    return CHINCHILLA_CSV


@pytest.fixture
def mlfoundations_csv() -> Path:
    if not MLFOUNDATIONS_CSV.is_file():
        pytest.skip(
            f"shared scaling data not found at {MLFOUNDATIONS_CSV} (the repo's sibling folder `shared`)"
        )
    return MLFOUNDATIONS_CSV
