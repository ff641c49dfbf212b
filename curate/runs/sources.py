"""Per-source books: what each source of a run lost, and limits that stop a run before it publishes.

A template over-merge in near dedup can delete most of one source while the run's totals look ordinary
(a peer's production run: one cluster of 743,779 documents; 15 of 113 sources lost over 95%). So every
run keeps its books per source as well: input, kept, removed by reason and quarantined by reason.

A record's *source* is a field of the input records when `sources.key` names one (read from `meta`, or
from a kept column: `source` in Dolma or RedPajama records, say), else its input path, relative to the
common folder of the inputs, cut to its first `sources.path_parts` parts (1: the top file or folder, as
the sweep's source strata). A record without the field, or a quarantined record whose fields could not
be read, counts under `(none)`.

A source's *loss* is the share of its documents (input less quarantined) that stages removed, for the
reasons in `sources.reasons` (all by default). A source with at least `min_docs` documents is *flagged*
when its loss is above `flag_loss` (0.95), and, when it is above `max_loss` (`--max-source-loss`), the run
stops before it publishes: it is recorded `held`, with its books, and `latest`, the lineage and the
dedup index stay as they were (exit 6, `SourceLossExceeded`). `--resume RUN_ID` with a higher limit (or
none) publishes it without redoing any work; a new run reads the same inputs again.

The counts are taken in the units (each report carries its `sources`), summed by the driver, stored in
the ledger's `sources` table, and shown by `curate status` (`sources` in the JSON).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.config import option

if TYPE_CHECKING:
    from curate.runs.ledger import Ledger

NONE = "(none)"  # the source of a record without the configured field
# Settings that judge the books and do not change them: a held run may resume with other values.
JUDGING = ("flag_loss", "max_loss", "min_docs", "reasons")


@dataclass
class SourcesConfig:
    key: str | None = option(
        None,
        help="A field of the input records that names their source (from meta or a kept column, e.g. "
        "`source`); none: the input path.",
    )
    path_parts: int = option(
        1,
        help="Without a key: the first this many parts of the input path (1: the top file or folder).",
        min=1,
    )
    flag_loss: float = option(
        0.95, help="Flag a source whose loss (share of its documents removed) is above this.", min=0, max=1
    )
    max_loss: float | None = option(
        None,
        help="Stop the run before it publishes when a source's loss is above this (exit 6; "
        "--max-source-loss); none: never.",
        min=0,
        max=1,
    )
    min_docs: int = option(10, help="Sources with fewer documents are counted, never flagged or held.", min=1)
    reasons: list[str] | None = option(
        None,
        help="The removal reasons that count as loss, e.g. [near_duplicate, exact_duplicate]; none: all.",
    )

    def describe(self) -> str:
        if self.key:
            return f"the record field '{self.key}'"
        return (
            "the top file or folder of the input path"
            if self.path_parts == 1
            else (f"the first {self.path_parts} parts of the input path")
        )


# --- in the units: counting ---------------------------------------------------------------------------
def source_labels(table: pa.Table, cfg: SourcesConfig) -> list[str]:
    """The source of each row of a batch of documents (or of removed documents)."""
    if cfg.key is None:
        return _path_labels(table.column("source"), cfg.path_parts)
    if cfg.key in table.column_names and cfg.key not in ("id", "text", "source", "meta"):
        return [_label(v) for v in table.column(cfg.key).to_pylist()]
    if "meta" not in table.column_names:
        return [NONE] * table.num_rows
    return [_label(_field(m, cfg.key)) for m in table.column("meta").to_pylist()]


def quarantine_labels(table: pa.Table, cfg: SourcesConfig) -> list[str]:
    """The source of each quarantined record: its path, or the field read from its raw bytes if it can be."""
    if cfg.key is None:
        return _path_labels(table.column("source"), cfg.path_parts)
    return [_label(_field(raw, cfg.key)) for raw in table.column("raw").to_pylist()]


def _path_labels(paths: pa.ChunkedArray | pa.Array, parts: int) -> list[str]:
    pieces = pc.split_pattern(paths, "/", max_splits=parts)
    return pc.binary_join(pc.list_slice(pieces, 0, parts), "/").to_pylist()


def _field(record: str | bytes | None, key: str) -> Any:
    if record is None:
        return None
    from curate.io.json_values import loads

    try:
        value = loads(record.decode("utf-8") if isinstance(record, bytes) else record)
    except (ValueError, UnicodeDecodeError):
        return None
    return value.get(key) if isinstance(value, dict) else None


def _label(value: Any) -> str:
    if value is None or value == "":
        return NONE
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@dataclass
class SourceCounter:
    """One unit's books per source: {source: {"input", "kept", "removed": {reason: n}, "quarantined"}}."""

    cfg: SourcesConfig
    books: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _book(self, source: str) -> dict[str, Any]:
        if source not in self.books:
            self.books[source] = {"input": 0, "kept": 0, "removed": {}, "quarantined": {}}
        return self.books[source]

    def count_input(self, docs: pa.Table, bad: pa.Table) -> None:
        for source, n in Counter(source_labels(docs, self.cfg)).items():
            self._book(source)["input"] += n
        if bad.num_rows:
            labels = quarantine_labels(bad, self.cfg)
            for (source, reason), n in Counter(zip(labels, bad.column("reason").to_pylist())).items():
                book = self._book(source)
                book["input"] += n
                book["quarantined"][reason] = book["quarantined"].get(reason, 0) + n

    def count_removed(self, rows: pa.Table) -> None:
        labels = source_labels(rows, self.cfg)
        for (source, reason), n in Counter(zip(labels, rows.column("reason").to_pylist())).items():
            removed = self._book(source)["removed"]
            removed[reason] = removed.get(reason, 0) + n

    def count_kept(self, docs: pa.Table) -> None:
        for source, n in Counter(source_labels(docs, self.cfg)).items():
            self._book(source)["kept"] += n


# --- in the driver: the run's books and their check ---------------------------------------------------
@dataclass
class SourceCheck:
    """The books of every source of a run, judged by the config."""

    cfg: SourcesConfig
    books: dict[str, dict[str, Any]]  # source -> input, documents, kept, removed, quarantined, loss
    flagged: list[str]  # loss above flag_loss, largest loss first
    exceeded: list[str]  # loss above max_loss: the run is held

    def settings(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "by": c.describe(),
            "flag_loss": c.flag_loss,
            "max_loss": c.max_loss,
            "min_docs": c.min_docs,
            "reasons": c.reasons,
        }

    def describe_exceeded(self) -> str:
        """E.g. "source 'a.jsonl' lost 97.0% of its 1,000 documents (near_duplicate 970)"."""
        first = self.exceeded[0]
        more = f" and {len(self.exceeded) - 1} more sources" if len(self.exceeded) > 1 else ""
        return f"source '{first}' lost {describe_loss(self.books[first])}{more}"


def check_sources(reports: dict[str, list[dict]], cfg: SourcesConfig) -> SourceCheck:
    """Sum the units' per-source books over every pass and judge them."""
    books: dict[str, dict[str, Any]] = {}
    for phase_reports in reports.values():
        for report in phase_reports:
            for source, unit in report.get("sources", {}).items():
                book = books.setdefault(source, {"input": 0, "kept": 0, "removed": {}, "quarantined": {}})
                book["input"] += unit["input"]
                book["kept"] += unit["kept"]
                for kind in ("removed", "quarantined"):
                    for reason, n in unit[kind].items():
                        book[kind][reason] = book[kind].get(reason, 0) + n
    for book in books.values():
        book["documents"] = book["input"] - sum(book["quarantined"].values())
        lost = sum(n for r, n in book["removed"].items() if cfg.reasons is None or r in cfg.reasons)
        book["loss"] = round(lost / book["documents"], 6) if book["documents"] else 0.0
    judged = sorted(
        (s for s, b in books.items() if b["documents"] >= cfg.min_docs), key=lambda s: (-books[s]["loss"], s)
    )
    flagged = [s for s in judged if books[s]["loss"] > cfg.flag_loss]
    exceeded = [s for s in judged if cfg.max_loss is not None and books[s]["loss"] > cfg.max_loss]
    return SourceCheck(cfg, dict(sorted(books.items())), flagged, exceeded)


def describe_loss(book: dict[str, Any]) -> str:
    removed = sorted(book["removed"].items(), key=lambda kv: -kv[1])
    reasons = ", ".join(f"{r} {n:,}" for r, n in removed[:3])
    return f"{book['loss']:.1%} of its {book['documents']:,} documents ({reasons or 'nothing removed'})"


def comparable(resolved: dict[str, Any]) -> dict[str, Any]:
    """A resolved config without the settings that only judge the books (a held run resumes under other
    limits)."""
    sources = {k: v for k, v in (resolved.get("sources") or {}).items() if k not in JUDGING}
    return {**resolved, "sources": sources}


# --- the ledger ---------------------------------------------------------------------------------------
def record_sources(ledger: Ledger, run_id: str, check: SourceCheck) -> None:
    """Write a run's per-source books (driver only); its settings go to the run's metrics (`sources`)."""
    flagged, exceeded = set(check.flagged), set(check.exceeded)
    rows = [
        [
            run_id,
            source,
            b["input"],
            b["kept"],
            sum(b["removed"].values()),
            sum(b["quarantined"].values()),
            json.dumps(b["removed"], sort_keys=True),
            json.dumps(b["quarantined"], sort_keys=True),
            b["loss"],
            source in flagged,
            source in exceeded,
        ]
        for source, b in check.books.items()
    ]
    with ledger.connect() as con:
        con.execute("DELETE FROM sources WHERE run_id = ?", [run_id])
        if rows:
            con.executemany(f"INSERT INTO sources VALUES ({', '.join('?' * len(rows[0]))})", rows)


def sources_status(ledger: Ledger, run_id: str, settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """The `sources` part of `curate status --json`, or None for a run that recorded none."""
    with ledger.connect(read_only=True) as con:
        known = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'sources'"
        ).fetchone()[0]
        rows = (
            con.execute(
                "SELECT source, input, kept, removed_by_reason, quarantined_by_reason, loss, flagged, "
                "exceeded FROM sources WHERE run_id = ? ORDER BY loss DESC, source",
                [run_id],
            ).fetchall()
            if known
            else []
        )
    if not rows and settings is None:
        return None
    counts = {}
    for source, n_in, kept, removed, quarantined, loss, _flagged, _exceeded in rows:
        quarantined = json.loads(quarantined)
        counts[source] = {
            "input": n_in,
            "documents": n_in - sum(quarantined.values()),
            "kept": kept,
            "removed": json.loads(removed),
            "quarantined": quarantined,
            "loss": loss,
        }
    return {
        **(settings or {}),
        "flagged": [r[0] for r in rows if r[6]],
        "exceeded": [r[0] for r in rows if r[7]],
        "counts": counts,
    }


def render_sources(sources: dict[str, Any] | None, top: int = 5) -> list[str]:
    """Status lines: how many sources, the flagged ones, and the largest losses."""
    if not sources or not sources["counts"]:
        return []
    counts = sources["counts"]
    flagged = f"; {len(sources['flagged'])} flagged (loss above {sources.get('flag_loss', 0):g})"
    lines = [f"  sources      {len(counts):,} by {sources.get('by', 'source')}{flagged}"]
    losers = [s for s in counts if counts[s]["loss"] > 0][:top]  # counts come largest loss first
    held = set(sources["exceeded"])
    for s in losers:
        mark = "HELD   " if s in held else "FLAGGED" if s in sources["flagged"] else "       "
        lines.append(f"    {mark} {s[:40]:<40} lost {describe_loss(counts[s])}")
    return lines
