"""Drift: how a run's data differs from the previous run of its lineage, and limits that make it fail.

At the end of a run its *profile* is taken from its books and its output shards: the share of the input
removed as duplicates, the share removed by each rule and quarantined for each reason, the share kept,
the language mix of the kept documents (`lang`), and the quantiles of their `quality_score` and of their
length in characters. `compare` sets it against the profile of the lineage's previous finished run and
checks the changes against the config's `drift:` limits. The run's outputs are published either way; an
exceeded limit gives `curate run` exit code 5 (`DriftExceeded`) so that a scheduler looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.config import option

DUPLICATE_REASONS = ("exact_duplicate", "near_duplicate")
QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class DriftConfig:
    max_duplicate_rate_change: float | None = option(
        None, help="Limit on the change of the share of input removed as duplicates (0.1 = 10 points).", min=0
    )
    max_removal_rate_change: dict[str, float] = option(
        default_factory=dict,
        help="Per removal reason (e.g. too_few_words), a limit on the change of its share of input; "
        "'*' applies to every reason not named.",
    )
    max_quarantine_rate_change: float | None = option(
        None, help="Limit on the change of the share of input quarantined (all reasons).", min=0
    )
    max_kept_rate_change: float | None = option(None, help="Limit on the change of the share kept.", min=0)
    max_language_share_change: float | None = option(
        None, help="Limit on the change of any language's share of the kept documents.", min=0
    )
    max_quality_median_change: float | None = option(
        None, help="Limit on the change of the kept documents' median quality_score.", min=0
    )
    max_length_median_change: float | None = option(
        None, help="Limit on the relative change of the kept documents' median length (0.5 = 50%).", min=0
    )


# --- the profile of one run ---------------------------------------------------------------------------
def profile_run(counts: dict[str, Any], output_shards: list[Path]) -> dict[str, Any]:
    """The profile of a run from its books (`Runner._tally`'s counts) and its output shards."""
    n = counts["input"]
    removed: dict[str, int] = {}
    for (_stage, reason), k in counts["removed_by_stage_reason"].items():
        removed[reason] = removed.get(reason, 0) + k
    quarantined = sum(counts["quarantined"].values())
    profile: dict[str, Any] = {
        "input": n,
        "kept": counts["kept"],
        "kept_rate": _share(counts["kept"], n),
        "duplicate_rate": _share(sum(removed.get(r, 0) for r in DUPLICATE_REASONS), n),
        "removal_rates": {reason: _share(k, n) for reason, k in sorted(removed.items())},
        "quarantine_rate": _share(quarantined, n),
    }
    profile.update(_output_profile(output_shards))
    return profile


def _share(k: int, n: int) -> float:
    return round(k / n, 6) if n else 0.0


def _output_profile(shards: list[Path]) -> dict[str, Any]:
    """Language mix, quality-score and length quantiles of the kept documents (DuckDB over the shards)."""
    import duckdb

    from curate.dedup import db

    if not shards:
        return {}
    con = duckdb.connect(":memory:")
    # a view takes no parameters: the files go in as quoted literals
    con.execute(f"CREATE VIEW kept AS SELECT * FROM {db.read_parquet(db.sql_list(shards))}")
    columns = {r[0] for r in con.execute("DESCRIBE kept").fetchall()}
    out: dict[str, Any] = {"length_chars": _quantiles(con, "length(text)")}
    if "lang" in columns:
        rows = con.execute(
            "SELECT coalesce(lang, 'unknown'), count(*) / sum(count(*)) OVER () FROM kept "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        out["language_mix"] = {lang: round(share, 6) for lang, share in rows}
    if "quality_score" in columns:
        out["quality_score"] = _quantiles(con, "quality_score")
    con.close()
    return out


def _quantiles(con, expression: str) -> dict[str, float | None]:
    qs = ", ".join(f"quantile_cont({expression}, {q})" for q in QUANTILES)
    row = con.execute(f"SELECT avg({expression}), {qs} FROM kept").fetchone()
    names = ["mean"] + [f"p{round(q * 100)}" for q in QUANTILES]
    return {k: (round(float(v), 6) if v is not None else None) for k, v in zip(names, row)}


# --- the change from the previous run -----------------------------------------------------------------
def compare(
    previous: dict[str, Any] | None, current: dict[str, Any], limits: DriftConfig, previous_run: str | None
) -> dict[str, Any]:
    """{"previous_run", "changes": {metric: {before, after, change}}, "exceeded": [...]}"""
    if previous is None:
        return {"previous_run": None, "changes": {}, "exceeded": []}
    changes = _changes(previous, current)
    exceeded = [
        {"metric": metric, "change": changes[metric]["change"], "limit": limit}
        for metric, limit in _limits(changes, limits)
        if abs(changes[metric]["change"]) > limit
    ]
    return {"previous_run": previous_run, "changes": changes, "exceeded": exceeded}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, float]]:
    pairs: dict[str, tuple[float | None, float | None]] = {}
    for key in ("duplicate_rate", "kept_rate", "quarantine_rate"):
        pairs[key] = (before.get(key), after.get(key))
    for group, prefix in (("removal_rates", "removal_rate"), ("language_mix", "language_share")):
        b, a = before.get(group) or {}, after.get(group) or {}
        for name in sorted(b.keys() | a.keys()):
            pairs[f"{prefix}.{name}"] = (b.get(name, 0.0), a.get(name, 0.0))
    for group in ("quality_score", "length_chars"):
        b, a = before.get(group) or {}, after.get(group) or {}
        for stat in ("mean", "p10", "p50", "p90"):
            if b.get(stat) is not None and a.get(stat) is not None:
                pairs[f"{group}.{stat}"] = (b[stat], a[stat])
    changes = {}
    for metric, (b, a) in pairs.items():
        if b is None or a is None:
            continue
        change = {"before": b, "after": a, "change": round(a - b, 6)}
        if metric.startswith("length_chars."):  # lengths change relative to their size
            change["change"] = round((a - b) / b, 6) if b else 0.0
        changes[metric] = change
    return changes


def _limits(changes: dict[str, Any], limits: DriftConfig) -> list[tuple[str, float]]:
    """(metric, limit) for every limit that applies to a metric present in `changes`."""
    found = []
    fixed = {
        "duplicate_rate": limits.max_duplicate_rate_change,
        "quarantine_rate": limits.max_quarantine_rate_change,
        "kept_rate": limits.max_kept_rate_change,
        "quality_score.p50": limits.max_quality_median_change,
        "length_chars.p50": limits.max_length_median_change,
    }
    found += [(m, v) for m, v in fixed.items() if v is not None and m in changes]
    for metric in changes:
        if metric.startswith("removal_rate."):
            reason = metric.split(".", 1)[1]
            limit = limits.max_removal_rate_change.get(reason, limits.max_removal_rate_change.get("*"))
            if limit is not None:
                found.append((metric, limit))
        if metric.startswith("language_share.") and limits.max_language_share_change is not None:
            found.append((metric, limits.max_language_share_change))
    return found


def describe_exceeded(drift: dict[str, Any]) -> str:
    """One clause per exceeded limit, e.g. "duplicate_rate changed by +0.25 (limit 0.1)"."""
    return "; ".join(
        f"{e['metric']} changed by {e['change']:+.3g} (limit {e['limit']:g})" for e in drift["exceeded"]
    )
