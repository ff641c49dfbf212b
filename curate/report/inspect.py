"""`curate inspect`: documents of a run with their signals, scores and decision, in the terminal.

Everything shown is read from the run's views (`curate.report.views`): the columns the stages wrote, the
reason and the failing value (`detail`) of a removal, the kept member of a duplicate cluster. Nothing is
recomputed; the one computation is the word-level comparison of two cluster members, for display.
"""

from __future__ import annotations

import json
import math
from typing import Any

from curate.errors import UserError
from curate.report.textdiff import DIFF_WORDS, Painter, cut, side_by_side, word_diff, words, wrap
from curate.report.views import RunCatalog

# Columns that are not signals: the record contract, the decision, the dedup columns, the scores.
_NOT_SIGNALS = {
    "decision",
    "id",
    "text",
    "source",
    "meta",
    "reason",
    "stage",
    "detail",
    "duplicate_of",
    "dup_cluster_id",
    "dup_cluster_size",
    "offset",
    "raw",
    "lang",
    "lang_score",
    "quality_model",
}
_LABEL = 13  # width of a field's label ("  duplicate  ")


class Inspector:
    """Renders one kind of inspection of a run as text for a terminal."""

    def __init__(self, catalog: RunCatalog, limit: int = 5, chars: int = 600, color: bool = False, width=110):
        self.cat = catalog
        self.limit = limit
        self.chars = chars
        self.paint = Painter(color)
        self.width = max(60, width)

    # --- the five inspections --------------------------------------------------------------------
    def overview(self) -> str:
        """The run's books, the reasons, the largest clusters and the sources that lost most: where to
        look next, with the option that looks there."""
        lines = [self._header()]
        reasons = self.cat.rows(
            "SELECT reason, stage, count(*) AS n, arg_min(detail, hash(id)) AS example FROM removed "
            "GROUP BY reason, stage ORDER BY n DESC, reason"
        )
        lines += self._section("removed, by reason", "--reason REASON")
        lines += [
            f"  {r['reason']:<28} {r['n']:>8,}  {r['stage'] or '':<16} {self._short(r['example'], 40)}"
            for r in reasons
        ] or ["  (none)"]
        quarantined = self.cat.rows(
            "SELECT reason, count(*) AS n, arg_min(detail, hash(id)) AS example FROM quarantine "
            "GROUP BY reason ORDER BY n DESC, reason"
        )
        lines += self._section("quarantined, by reason", "--reason REASON")
        lines += [
            f"  {r['reason']:<28} {r['n']:>8,}  {self._short(r['example'], 57)}" for r in quarantined
        ] or ["  (none)"]
        clusters = self.cat.rows("SELECT * FROM clusters LIMIT ?", [self.limit])
        lines += self._section("duplicate clusters, largest first", "--cluster ID")
        lines += [
            f"  {c['size']:>6,} documents, {c['removed']:,} removed here  {c['cluster_id']}" for c in clusters
        ] or ["  (none)"]
        sources = self.cat.rows(
            "SELECT * FROM sources WHERE removed + quarantined > 0 "
            "ORDER BY removed + quarantined DESC, source LIMIT ?",
            [self.limit],
        )
        lines += self._section("sources that lost the most", "--source SOURCE")
        lines += [
            f"  {s['input']:>8,} in {s['kept']:>8,} kept {s['removed']:>6,} removed {s['quarantined']:>4,} "
            f"quarantined ({s['lost_share']:.0%})  {s['source']}"
            for s in sources
        ] or ["  (none)"]
        lines.append("\none document: curate inspect --id ID; any question: curate sql (see its --help)")
        return "\n".join(lines)

    def reason(self, reason: str) -> str:
        """A sample of the documents removed (or records quarantined) for `reason`."""
        removed = self.cat.value("SELECT count(*) FROM removed WHERE reason = ?", [reason])
        quarantined = self.cat.value("SELECT count(*) FROM quarantine WHERE reason = ?", [reason])
        if not removed and not quarantined:
            raise UserError(self._unknown("reason", reason, self._reasons()))
        lines = [self._header()]
        if removed:
            rows = self.cat.rows(
                "SELECT 'removed' AS decision, * FROM removed WHERE reason = ? ORDER BY hash(id), id LIMIT ?",
                [reason, self.limit],
            )
            found = self.cat.con.execute(
                "SELECT DISTINCT stage FROM removed WHERE reason = ? AND stage IS NOT NULL ORDER BY stage",
                [reason],
            ).fetchall()
            stages = [r[0] for r in found]
            lines.append(
                f"{removed:,} document{'s' if removed != 1 else ''} removed as {reason}{self._by(stages)}; "
                f"{len(rows)} shown (--limit)"
            )
            lines += [f"  rule  {rule}" for rule in (self._rule(s) for s in stages) if rule]
            for row in rows:
                lines += ["", *self._document(row, signals="named")]
        if quarantined:
            rows = self.cat.rows(
                "SELECT 'quarantined' AS decision, * FROM quarantine WHERE reason = ? "
                "ORDER BY hash(id), id LIMIT ?",
                [reason, self.limit],
            )
            gap = "\n" if removed else ""
            plural = "s" if quarantined != 1 else ""
            lines.append(
                f"{gap}{quarantined:,} record{plural} quarantined as {reason}; {len(rows)} shown (--limit)"
            )
            for row in rows:
                lines += ["", *self._document(row, signals="named")]
        return "\n".join(lines)

    def document(self, doc_id: str) -> str:
        """Every record of the run with this id (kept, removed, quarantined), or the lineage's."""
        rows = self.cat.rows("SELECT * FROM documents WHERE id = ?", [doc_id])
        rows += self.cat.rows("SELECT 'quarantined' AS decision, * FROM quarantine WHERE id = ?", [doc_id])
        if not rows:
            rows = self._lineage_kept(doc_id)
        if not rows:
            near = self.cat.value(
                "SELECT id FROM documents ORDER BY jaro_winkler_similarity(id, ?) DESC, id LIMIT 1", [doc_id]
            )
            hint = f" (the closest id is '{near}')" if near else ""
            raise UserError(
                f"no document '{doc_id}' in run {self.cat.run_id}: it was neither kept, removed nor "
                f'quarantined{hint}; ids are listed by `curate sql "SELECT id FROM documents"`.'
            )
        lines = [self._header()]
        for row in rows:
            lines += ["", *self._document(row, signals="all", hints=True)]
        return "\n".join(lines)

    def cluster(self, name: str) -> str:
        """The kept member of a duplicate cluster beside each removed member, differences highlighted.
        A cluster is named by its kept document's id; any member's id names it too."""
        member = self.cat.rows("SELECT duplicate_of FROM documents WHERE id = ?", [name])
        cluster = member[0]["duplicate_of"] or name if member else name
        rows = self.cat.rows(
            """
            WITH direct AS (SELECT * FROM documents WHERE id = $c OR duplicate_of = $c OR dup_cluster_id = $c)
            SELECT * FROM direct UNION ALL BY NAME
            SELECT * FROM documents
            WHERE duplicate_of IN (SELECT id FROM direct) AND id NOT IN (SELECT id FROM direct)""",
            {"c": cluster},
        )
        others = sorted((r for r in rows if r["id"] != cluster), key=lambda r: (r["decision"], r["id"]))
        if not others:
            largest = self.cat.value("SELECT cluster_id FROM clusters LIMIT 1")
            example = f" (the largest is '{largest}')" if largest else ""
            raise UserError(
                f"'{name}' names no duplicate cluster of run {self.cat.run_id}: no document was removed as "
                f"a duplicate of it; a cluster is named by its kept document's id{example}, and "
                "`curate inspect` lists the largest."
            )
        keeper = next((r for r in rows if r["id"] == cluster), None)
        keeper = keeper or next(iter(self._lineage_kept(cluster)), None)
        lines = [self._header()]
        if cluster != name:
            lines.append(f"{name} was removed as a duplicate of {cluster}; its cluster:")
        lines += [
            line.text
            for line in wrap(words(self._cluster_line(cluster, keeper, others)), self.width, self.paint)
        ]
        if keeper is None:
            lines.append(f"  the kept document '{cluster}' is in neither this run nor its lineage's output")
            for row in others[: self.limit]:
                lines += ["", *self._document(row, signals="named")]
            return "\n".join(lines)
        lines += ["", *self._document(keeper, signals="named", text=False)]
        for row in others[: self.limit]:
            lines += ["", *self._pair(keeper, row)]
        return "\n".join(lines)

    def source(self, source: str) -> str:
        """The books of one source (a file, or a folder of them) and a sample of its documents, the
        removed first."""
        match = "(source = $s OR starts_with(source, rtrim($s, '/') || '/'))"
        books = self.cat.rows(
            f"SELECT count(*) AS sources, sum(input) AS input, sum(kept) AS kept, sum(removed) AS removed, "
            f"sum(quarantined) AS quarantined FROM sources WHERE {match}",
            {"s": source},
        )[0]
        if not books["sources"]:
            near = self.cat.con.execute(
                "SELECT source FROM sources ORDER BY jaro_winkler_similarity(source, ?) DESC, source LIMIT 3",
                [source],
            ).fetchall()
            raise UserError(self._unknown("source", source, [r[0] for r in near], closest=True))
        lines = [self._header()]
        files = f" ({books['sources']:,} sources)" if books["sources"] > 1 else ""
        lines.append(
            f"source {source}{files}: input {books['input']:,}, kept {books['kept']:,}, removed "
            f"{books['removed']:,}, quarantined {books['quarantined']:,}"
        )
        for kind, view in (("removed", "removed"), ("quarantined", "quarantine")):
            by = self.cat.rows(
                f"SELECT reason, count(*) AS n FROM {view} WHERE {match} "
                "GROUP BY reason ORDER BY n DESC, reason",
                {"s": source},
            )
            if by:
                lines.append(f"  {kind:<11} " + ", ".join(f"{r['reason']} {r['n']:,}" for r in by))
        rows = self.cat.rows(
            f"SELECT * FROM documents WHERE {match} ORDER BY decision = 'kept', hash(id), id LIMIT $n",
            {"s": source, "n": self.limit},
        )
        rows += self.cat.rows(
            f"SELECT 'quarantined' AS decision, * FROM quarantine WHERE {match} "
            "ORDER BY hash(id), id LIMIT $n",
            {"s": source, "n": max(0, self.limit - len(rows))},
        )
        lines.append(f"{len(rows)} records shown, the removed first (--limit)")
        for row in rows:
            lines += ["", *self._document(row, signals="named", hints=True)]
        return "\n".join(lines)

    # --- pieces ----------------------------------------------------------------------------------
    def _header(self) -> str:
        run = self.cat.run
        books = dict.fromkeys(("input", "kept", "removed", "quarantined"), 0)
        for kind, n in self.cat.con.execute("SELECT kind, sum(n) FROM counts GROUP BY kind").fetchall():
            books[kind] = int(n)
        counts = ", ".join(f"{k} {v:,}" for k, v in books.items())
        gone = (
            " (its outputs were removed by `curate gc`)"
            if run.get("deleted_at") and run["state"] != "finished"
            else ""
        )
        return self.paint.style(
            f"run {self.cat.run_id}  {run['state']}  pipeline {run['pipeline']}: {counts}{gone}", bold=True
        )

    def _section(self, title: str, option: str) -> list[str]:
        return ["", f"{self.paint.style(title, bold=True)}  (curate inspect {option})"]

    def _document(
        self, row: dict[str, Any], signals: str, hints: bool = False, text: bool = True
    ) -> list[str]:
        """A record as labelled fields: decision, source, duplicates, scores, signals, meta, text."""
        lines = [self.paint.style(str(row["id"]), bold=True)]
        lines += self._field("decision", self._decision(row))
        source = row.get("source") or ""
        if row.get("offset") is not None:
            source += f" (byte or row {row['offset']:,})"
        lines += self._field("source", source)
        lines += self._field("duplicate", self._duplicate(row))
        lines += self._field("scores", *self._scores(row))
        lines += self._field("signals", *self._signals(row, signals))
        if hints and self._cluster_of(row):
            lines += self._field("see", f"curate inspect --cluster {self._cluster_of(row)}")
        if row.get("meta") not in (None, "", "{}"):
            lines += self._field("meta", self._short(row["meta"], self.width - _LABEL - 2))
        if row.get("raw") is not None:
            raw, was_cut = cut(bytes(row["raw"]).decode("utf-8", "backslashreplace"), self.chars)
            lines += self._field("raw", repr(raw)[1:-1] + (" ..." if was_cut else ""))
        if text and row.get("text") is not None:
            lines += self._text(row["text"])
        return lines

    def _field(self, label: str, *items: str) -> list[str]:
        """A labelled field of items (`a, b, c`), wrapped between items (inside one only when it is
        longer than a line)."""
        room = self.width - _LABEL
        lines: list[str] = []
        for item in filter(None, items):
            if lines and len(lines[-1]) + 2 + len(item) <= room:
                lines[-1] += ", " + item
                continue
            if lines:
                lines[-1] += ","
            lines += [line.text for line in wrap(words(item), room, Painter(False))]
        return [f"  {label if k == 0 else '':<{_LABEL - 2}}{line}" for k, line in enumerate(lines)]

    def _text(self, text: str) -> list[str]:
        shown, was_cut = cut(text, self.chars)
        lines = [f"    | {line.text}".rstrip() for line in wrap(words(shown), self.width - 6, self.paint)]
        if was_cut:
            lines.append(f"    ... ({len(text):,} characters in all; --chars shows more)")
        return lines

    def _lineage_kept(self, doc_id: str) -> list[dict[str, Any]]:
        return self.cat.rows("SELECT 'earlier run' AS decision, * FROM lineage_kept WHERE id = ?", [doc_id])

    def _decision(self, row: dict[str, Any]) -> str:
        decision = row["decision"]
        if decision == "kept":
            return "kept"
        if decision == "earlier run":
            return "kept by an earlier run of the run's lineage (lineage_kept)"
        detail = f" ({row['detail']})" if row.get("detail") else ""
        if decision == "quarantined":
            return f"quarantined: {row['reason']}{detail}"
        return f"removed by {row.get('stage') or 'a stage'}: {row['reason']}{detail}"

    def _duplicate(self, row: dict[str, Any]) -> str:
        """The cluster a kept document stands for (a removed one's detail names its kept document)."""
        size = row.get("dup_cluster_size")
        if row["decision"] not in ("kept", "earlier run") or not size or size < 2:
            return ""
        return f"kept for a cluster of {size:,} near duplicates"

    @staticmethod
    def _cluster_of(row: dict[str, Any]) -> str | None:
        """The cluster the record belongs to, by its kept document's id (None: not in one)."""
        if row.get("duplicate_of"):
            return row["duplicate_of"]
        size = row.get("dup_cluster_size")
        return row.get("dup_cluster_id") if size and size > 1 else None

    def _scores(self, row: dict[str, Any]) -> list[str]:
        parts = []
        if row.get("lang") is not None:
            parts.append(f"lang {row['lang']}" + _number(row.get("lang_score"), " ({})"))
        for name in sorted(k for k in row if k.endswith("_score") and k != "lang_score"):
            if row[name] is not None:
                model = row.get("quality_model") if name == "quality_score" else None
                parts.append(f"{name} {_number(row[name])}" + (f" ({model})" if model else ""))
        return parts

    def _signals(self, row: dict[str, Any], which: str) -> list[str]:
        """The numeric columns stages wrote; `named`: only those the removal's detail names (the failing
        value) and the document's length."""
        names = [
            k for k, v in row.items() if k not in _NOT_SIGNALS and not k.endswith("_score") and _is_number(v)
        ]
        if which == "named":
            detail = row.get("detail") or ""
            names = [k for k in names if k in ("n_words", "n_chars") or f"{k}=" in detail]
        return [f"{k} {_number(row[k])}" for k in names]

    def _rule(self, stage: str) -> str:
        """The stage's parameters in the run's config: the thresholds its removals failed."""
        for entry in self.cat.config.get("stages", []):
            if entry.get("stage") == stage:
                entry = {k: v for k, v in entry.items() if k != "stage"}
                params = [f"{k}={json.dumps(v)}" for k, v in entry.items() if v not in (None, [], {})]
                return f"{stage}: " + ", ".join(params)
        return ""

    def _pair(self, keeper: dict[str, Any], other: dict[str, Any]) -> list[str]:
        """The kept text beside a removed one, the words only one of them has highlighted."""
        column = (self.width - 3) // 2
        left, right, only_left, only_right = word_diff(keeper["text"] or "", other["text"] or "")
        titles = [
            (f"{keeper['decision']}: {keeper['id']}", f"{other['decision']}: {other['id']}"),
            (self._brief(keeper), self._brief(other)),
        ]
        lines = [self.paint.style(t, bold=True) if k == 0 else t for k, t in enumerate(self._columns(titles))]
        if not only_left and not only_right and len(left) == len(right):
            lines.append("  the same words in the same order (they differ at most in spaces and line breaks)")
            return lines
        lines += side_by_side(
            wrap(left, column, self.paint),
            wrap(right, column, self.paint),
            self.width,
            max(6, self.chars // column + 4),
        )
        marks = "" if self.paint.color else " ([-marked-] in the kept text, {+marked+} in the removed)"
        compared = ""
        if max(len(left), len(right)) >= DIFF_WORDS:
            compared = f" of the first {len(left):,} and {len(right):,}"
        lines.append(
            f"  words only in the kept text: {only_left:,}, only in the removed one: {only_right:,}"
            f"{compared}{marks}"
        )
        return lines

    def _columns(self, pairs: list[tuple[str, str]]) -> list[str]:
        column = (self.width - 3) // 2
        return [f"{self._short(a, column):<{column}} | {self._short(b, column)}".rstrip() for a, b in pairs]

    def _brief(self, row: dict[str, Any]) -> str:
        parts = [row.get("reason"), *self._scores(row)]
        if row.get("n_words") is not None:
            parts.append(f"{row['n_words']:,} words")
        return ", ".join(p for p in parts if p)

    def _cluster_line(self, cluster: str, keeper: dict | None, others: list[dict]) -> str:
        reasons: dict[str, int] = {}
        for r in others:
            key = r["reason"] or r["decision"]
            reasons[key] = reasons.get(key, 0) + 1
        by = ", ".join(f"{k} {n:,}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        shown = min(self.limit, len(others))
        where = (keeper or {}).get("decision", "missing")
        return (
            f"cluster {cluster} (its kept document: {where}): {len(others) + 1:,} documents in this run, "
            f"the others {by}; {shown} shown beside it (--limit)"
        )

    def _reasons(self) -> list[str]:
        rows = self.cat.con.execute(
            "SELECT reason FROM removed UNION SELECT reason FROM quarantine ORDER BY reason"
        ).fetchall()
        return [r[0] for r in rows if r[0]]

    def _unknown(self, what: str, value: str, known: list[str], closest: bool = False) -> str:
        listed = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
        name = "the closest are" if closest else f"its {what}s are"
        if not known:
            return f"run {self.cat.run_id} has no {what} '{value}' (it removed and quarantined nothing)."
        return f"run {self.cat.run_id} has no {what} '{value}'; {name} {listed}."

    @staticmethod
    def _by(stages: list[str]) -> str:
        return f" by {', '.join(stages)}" if stages else ""

    @staticmethod
    def _short(text: Any, chars: int) -> str:
        text = " ".join(str(text or "").split())
        return text if len(text) <= chars else text[: chars - 3] + "..."


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
    )


def _number(value: Any, form: str = "{}") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:,.0f}" if value.is_integer() and abs(value) >= 1 else f"{value:.4g}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return form.format(text)
