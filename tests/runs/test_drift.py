"""Drift: profiles of a run's books and output, and which changes exceed which limits."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.config import build
from curate.errors import ConfigError
from curate.runs.drift import DriftConfig, compare, describe_exceeded, profile_run


def counts(input_: int, kept: int, removed: dict, quarantined: dict | None = None) -> dict:
    return {
        "input": input_,
        "kept": kept,
        "removed_by_stage_reason": {(stage, reason): n for (stage, reason), n in removed.items()},
        "quarantined": quarantined or {},
    }


def shard(tmp_path, name: str, texts: list[str], langs: list[str], scores: list[float]):
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table({"id": [str(i) for i in range(len(texts))], "text": texts, "lang": langs,
                             "quality_score": scores}), path)  # fmt: skip
    return path


def test_a_profile_holds_rates_language_mix_and_quantiles(tmp_path):
    path = shard(
        tmp_path,
        "a",
        ["a" * 10, "b" * 20, "c" * 30, "d" * 40],
        ["en", "en", "en", "de"],
        [0.1, 0.2, 0.3, 0.4],
    )
    books = counts(
        10,
        4,
        {("exact_dedup", "exact_duplicate"): 2, ("length_filter", "too_few_words"): 3},
        {"empty_text": 1},
    )
    p = profile_run(books, [path])
    assert p["duplicate_rate"] == 0.2 and p["kept_rate"] == 0.4 and p["quarantine_rate"] == 0.1
    assert p["removal_rates"] == {"exact_duplicate": 0.2, "too_few_words": 0.3}
    assert p["language_mix"] == {"de": 0.25, "en": 0.75}
    assert p["length_chars"]["p50"] == 25.0 and p["length_chars"]["mean"] == 25.0
    assert p["quality_score"]["p50"] == pytest.approx(0.25)


def test_limits_per_rule_with_a_wildcard_languages_and_relative_lengths():
    before = {"duplicate_rate": 0.1, "kept_rate": 0.5, "quarantine_rate": 0.0,
              "removal_rates": {"too_few_words": 0.2, "c4_curly_bracket": 0.01},
              "language_mix": {"en": 0.9, "de": 0.1}, "length_chars": {"mean": 100, "p50": 100}}  # fmt: skip
    after = {"duplicate_rate": 0.15, "kept_rate": 0.5, "quarantine_rate": 0.0,
             "removal_rates": {"too_few_words": 0.2, "c4_curly_bracket": 0.2},
             "language_mix": {"en": 0.6, "fr": 0.4}, "length_chars": {"mean": 100, "p50": 40}}  # fmt: skip
    limits = build(
        DriftConfig,
        {
            "max_duplicate_rate_change": 0.1,
            "max_removal_rate_change": {"too_few_words": 0.05, "*": 0.1},
            "max_language_share_change": 0.2,
            "max_length_median_change": 0.5,
        },
    )
    drift = compare(before, after, limits, "r1")
    assert drift["changes"]["language_share.fr"] == {"before": 0.0, "after": 0.4, "change": 0.4}
    assert drift["changes"]["length_chars.p50"]["change"] == -0.6  # relative to the length before
    exceeded = {e["metric"]: e["limit"] for e in drift["exceeded"]}
    assert exceeded == {
        "removal_rate.c4_curly_bracket": 0.1,  # the wildcard
        "language_share.en": 0.2,
        "language_share.fr": 0.2,
        "length_chars.p50": 0.5,
    }
    assert "length_chars.p50 changed by -0.6 (limit 0.5)" in describe_exceeded(drift)
    assert compare(None, after, limits, None) == {"previous_run": None, "changes": {}, "exceeded": []}
    assert compare(before, before, limits, "r1")["exceeded"] == []


def test_a_drift_limit_is_validated_like_every_config_key():
    with pytest.raises(ConfigError, match="max_duplicate_rate_chnage: unknown key"):
        build(DriftConfig, {"max_duplicate_rate_chnage": 0.1})
    with pytest.raises(ConfigError, match="below the minimum"):
        build(DriftConfig, {"max_kept_rate_change": -1})
