"""Heuristic quality signals: Gopher quality, Gopher repetition, C4 and FineWeb rules.

Score first, filter second. `compute_signals` turns a document into numbers (word count, duplicate-line
fraction, ...); `evaluate_rules` compares those numbers with thresholds later, so a threshold can change
without rescoring the corpus. Each published rule is a `Rule` whose default threshold is the published one.

Definitions follow datatrove (GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter,
FineWebQualityFilter, v0.10), which is what users compare with; where datatrove differs from the paper the
comment at the signal says so. Two things are ours:

- Words. datatrove tokenizes English with spaCy's blank "en" tokenizer. `split_words` approximates it with
  one regex split (token counts within 0.2% on real web text; see benchmarks/HEURISTICS_NOTES.md), and
  every signal is computed from one split of the text into words, lines and paragraphs.
- C4 edits text (drops lines); curate only scores. Line rules become fractions of lines that C4 would drop,
  and the page-level drops ("lorem ipsum", "{", fewer than 5 sentences) become signals with rules.

Signal names are stable column names: a signal whose definition changes gets a new name (`...v2`).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain, compress, repeat
from operator import itemgetter, mul

import numpy as np

from curate.errors import ConfigError
from curate.quality.stopwords import (
    ABBREVIATIONS,
    C4_LINE_END,
    C4_POLICY_PHRASES,
    CONTRACTION_SPLITS,
    GOPHER_STOP_WORDS,
    PUNCTUATION,
    TERMINAL_PUNCTUATION,
)

# --- rules ----------------------------------------------------------------------------------------

OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


@dataclass(frozen=True)
class Rule:
    """A document passes the rule when `signals[signal] <op> threshold` holds."""

    name: str  # stable; reported as the reason a document fails
    group: str  # the signal group that produces `signal`
    signal: str
    op: str  # one of < <= > >= == !=
    threshold: float
    description: str  # one line, with the source

    def __post_init__(self):
        if self.op not in OPS:
            raise ConfigError(f"rule {self.name!r}: op {self.op!r} is not one of {' '.join(OPS)}")
        if self.group not in SIGNAL_GROUPS:
            raise ConfigError(f"rule {self.name!r}: {_unknown_group_message(self.group)}")
        if self.signal not in SIGNAL_GROUPS[self.group]:
            raise ConfigError(
                f"rule {self.name!r}: group {self.group!r} has no signal {self.signal!r}; "
                f"it has {', '.join(SIGNAL_GROUPS[self.group])}"
            )


# --- words: an approximation of spaCy's English tokenizer, as datatrove uses it -----------------------------
#
# spaCy splits on whitespace, then peels punctuation off each chunk's start and end (prefixes, suffixes) and
# splits a few infixes (well-known -> well - known). We insert spaces around every such piece with one regex
# and split on whitespace. The pattern first consumes one character from a single class and each alternative
# then checks, with a look-behind, which character it was: a pattern that starts with a character class lets
# the regex engine scan quickly to the next candidate instead of trying every alternative at every position.

_ICONS = (
    "\u00a6\u00a9\u00ae\u00b0\u2100-\u214f\u2190-\u21ff\u2300-\u23ff\u2400-\u24ff\u2500-\u27bf\u2800-\u28ff"
    "\u2b00-\u2bff\U0001f000-\U0001faff"
)
# characters spaCy splits off the start or end of a chunk: punctuation, quotes, currency, symbols
_EDGE = (
    re.escape("…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪—–§%=")
    + re.escape("'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧")
    + "$£€¥฿₽﷼₠-₿"
    + _ICONS
)
_LOWER, _UPPER = "a-zß-öø-ÿ", "A-ZÀ-ÖØ-Þ"
_ALPHA, _ALNUM = r"[^\W\d_]", r"[^\W_]"
_CHUNK_END = rf"(?=[\s.{_EDGE}]|$)"  # only suffix punctuation is left in this chunk


def _not_abbreviation() -> str:
    """Look-behinds that reject "Mr." "e.g." "J." as sentence-final periods (one per abbreviation length)."""
    opener = "[\\s(\\[\"'“‘]"
    by_length: dict[int, list[str]] = {}
    for abbreviation in ABBREVIATIONS:
        by_length.setdefault(len(abbreviation), []).append(re.escape(abbreviation))
    lookbehinds = [rf"(?<!{opener}{_ALPHA}\.)"]
    lookbehinds += [rf"(?<!{opener}(?:{'|'.join(words)})\.)" for _, words in sorted(by_length.items())]
    return "".join(lookbehinds)


# a "." that spaCy makes its own token: after a lowercase letter, digit or punctuation, or after two capitals
_FINAL_PERIOD = (
    rf"(?:(?<=[\s{_LOWER}\d%²\-+{_EDGE}].)|(?<=[{_UPPER}][{_UPPER}].)){_CHUNK_END}{_not_abbreviation()}"
)
_INFIX_PERIOD = rf"(?<=[{_LOWER}].)(?=[{_UPPER}])"  # end.Next
_SPLIT_RE = re.compile(
    rf"([.…'’{_EDGE}\-–—~+*^:<>=/](?:"
    r"(?<=\.)\.+"  # ellipsis
    rf"|(?<=['’])(?:[sSmMdD]|ll|LL|re|RE|ve|VE){_CHUNK_END}"  # it's I'm we'll
    rf"|(?<=[{_EDGE}])(?:(?<=[\s.{_EDGE}].)|{_CHUNK_END})"  # ("Hi!") at a chunk's start or end
    rf"|(?<=\.){_FINAL_PERIOD}"  # end. (not Mr. e.g. A. U.S.)
    rf"|(?<=\.){_INFIX_PERIOD}"
    rf"|(?<=,)(?<={_ALPHA},)(?={_ALPHA})"  # a,b (not 3,000)
    rf"|(?<=[-–—~])(?<={_ALNUM}.)-*(?={_ALPHA})"  # well-known, 19-year (not COVID-19)
    rf"|(?<=[-+*^])(?<=\d.)(?=[\d-])"  # 2019-2020
    rf"|(?<=[:<>=/])(?<={_ALNUM}.)(?={_ALPHA})"  # a/b a:b (not 10:30 1/2 x=1)
    r"))"
)
_NT_RE = re.compile(r"n(?<=[^\W_]n)(?=['’]t(?![^\W_]))")  # don't -> do n't
_URL_RE = re.compile(r"((?:https?://|www\.)\S*[^\s.,;:!?'\"()\[\]{}<>])")


def _split_chunks(text: str) -> list[str]:
    return " ".join(_SPLIT_RE.split(" " + text)).split()


def split_words(text: str) -> list[str]:
    """Split text into word and punctuation tokens the way datatrove's English tokenizer (spaCy) does.

    >>> split_words("Don't panic, it's well-known (e.g. in the U.S.).")
    ['Do', "n't", 'panic', ',', 'it', "'s", 'well', '-', 'known', '(', 'e.g.', 'in', 'the', 'U.S.', ')', '.']

    Known differences: units stay on numbers ("10km"), emoticons split (":)"), and "and/or" splits.
    """
    if "n't" in text or "n’t" in text:
        text = _NT_RE.sub(" n", text)
    if "://" in text or "www." in text:
        tokens: list[str] = []
        for i, piece in enumerate(_URL_RE.split(text)):
            if i % 2:
                tokens.append(piece)  # a URL stays one token
            else:
                tokens += _split_chunks(piece)
    else:
        tokens = _split_chunks(text)
    distinct = set(tokens)
    if CONTRACTION_SPLITS.keys().isdisjoint(distinct):
        return tokens
    parts = {token: CONTRACTION_SPLITS.get(token, (token,)) for token in distinct}
    return list(chain.from_iterable(map(parts.__getitem__, tokens)))


# --- C4 sentences: an approximation of spaCy's sentencizer on one line ------------------------------------

_SENTENCE_MARKS = "!?。！？｡؟۔।॥"
_CLOSERS = re.escape("\"'”“’‘»«()[]{}…,;:-–—*#&_/\\@%")
# a sentence ends at a "!", "?" or a period token followed, after punctuation, by a non-punctuation token
_SENTENCE_BREAK_RE = re.compile(
    rf"[.{_SENTENCE_MARKS}](?:(?<=[{_SENTENCE_MARKS}])|(?<=\.)(?<!\.\.)(?!\.)(?:{_FINAL_PERIOD}|{_INFIX_PERIOD}))"
    rf"(?=[\s{_CLOSERS}]*[^\s{_CLOSERS}.{_SENTENCE_MARKS}])"
)
_CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")  # C4 removes these before testing a line

# --- the shared views of one document ---------------------------------------------------------------------


class _Views:
    """What the signal groups read, each computed at most once per document."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        return split_words(self.text)

    @cached_property
    def word_counts(self) -> Counter[str]:
        return Counter(self.words)

    @cached_property
    def stripped_lines(self) -> list[str]:
        return list(map(str.strip, self.text.splitlines()))


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(number of items seen before, their characters), counting each repeat after the first occurrence."""
    counts = Counter(items)
    return len(items) - len(counts), sum(map(len, items)) - sum(map(len, counts))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


# --- Gopher quality (Rae et al. 2021, appendix A.1.1; datatrove GopherQualityFilter) -----------------------


def _gopher_quality(v: _Views) -> dict[str, float]:
    text, counts, lines = v.text, v.word_counts, v.stripped_lines
    n_tokens = len(v.words)  # datatrove divides by all tokens, punctuation included
    tokens, token_counts = list(counts), list(counts.values())
    # a "word" has a character outside PUNCTUATION; str.strip(chars) leaves "" only for all-punctuation tokens
    is_word = list(map(bool, map(str.strip, tokens, repeat(PUNCTUATION))))
    word_counts = list(compress(token_counts, is_word))
    n_words = sum(word_counts)
    word_chars = sum(map(mul, word_counts, map(len, compress(tokens, is_word))))
    has_alpha = map(any, map(map, repeat(str.isalpha), tokens))
    n_lines = len(lines)
    return {
        # Words (tokens with a non-punctuation character). The paper counts whitespace-separated words.
        "gopher.word_count": float(n_words),
        "gopher.mean_word_length": _ratio(word_chars, n_words),
        "gopher.hash_word_ratio": _ratio(text.count("#"), n_tokens),
        "gopher.ellipsis_word_ratio": _ratio(text.count("...") + text.count("…"), n_tokens),
        # datatrove counts "-" as a bullet as well as "•"
        "gopher.bullet_line_fraction": _ratio(sum(map(str.startswith, lines, repeat(("•", "-")))), n_lines),
        "gopher.ellipsis_line_fraction": _ratio(sum(map(str.endswith, lines, repeat(("...", "…")))), n_lines),
        # Over all tokens, punctuation tokens included (stricter than the paper's "words"): prose scores
        # about 0.85 against the 0.8 threshold.
        "gopher.alpha_word_fraction": _ratio(sum(compress(token_counts, has_alpha)), n_tokens),
        "gopher.stop_word_count": float(sum(word in counts for word in GOPHER_STOP_WORDS)),
    }


# --- Gopher repetition (Rae et al. 2021, table A1; datatrove GopherRepetitionFilter) -----------------------

_PARAGRAPH_RE = re.compile(r"\n{2,}")
_LINE_RE = re.compile(r"\n+")
TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)  # consecutive: each size's candidates come from the previous size
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _ngram_hashes(word_hashes: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (n, hashes) for n = 2, 3, ...: a 64-bit polynomial hash of the n-gram starting at each word.

    n-grams are identified by this hash: two different n-grams with the same hash would count as one
    (probability about n_words**2 / 2**64 per document, below 1e-9 for 100,000 words).
    """
    hashes = word_hashes
    for n in range(2, DUP_NGRAM_SIZES[-1] + 1):
        hashes = hashes[:-1] * _HASH_MULTIPLIER + word_hashes[n - 1 :]  # (n_words - n + 1,), wraps mod 2**64
        yield n, hashes


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort keys: (order, start of each run of equal keys in sorted order, run lengths)."""
    order = np.argsort(keys)
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    lengths = np.diff(starts, append=len(keys))
    return order, starts, lengths


def _top_ngram_chars(hashes: np.ndarray, n: int, ends: np.ndarray) -> int:
    """Characters covered by the most frequent n-gram: len(" ".join(ngram)) * count.

    As datatrove's Counter.most_common(1), a tie goes to the n-gram seen first, and a document with no
    repeated n-gram still scores its first n-gram (count 1); the paper intends repeated n-grams only.
    """
    order, starts, lengths = _runs(hashes)
    count = int(lengths.max())
    first_seen = np.minimum.reduceat(order, starts)  # (n_distinct,) first position of each n-gram
    first = int(first_seen[lengths == count].min())
    return (int(ends[first + n] - ends[first]) + n - 1) * count


def _repeated(keys: np.ndarray) -> np.ndarray:
    """(len(keys),) bool: the key occurs more than once."""
    order, _, lengths = _runs(keys)
    repeated = np.empty(len(keys), dtype=bool)
    repeated[order] = np.repeat(lengths > 1, lengths)
    return repeated


def _greedy_repeated_chars(positions: list[int], keys: list[int], n: int, ends: np.ndarray) -> int:
    """datatrove's scan: an n-gram seen before adds its characters and the scan jumps past it, else the
    scan moves one word. `positions` are where repeated n-grams start: the only places that can count."""
    repeated_chars, next_free = 0, 0
    seen: set[int] = set()
    for p, key in zip(positions, keys):
        if p < next_free:
            continue  # inside an n-gram already counted
        if key in seen:
            repeated_chars += int(ends[p + n] - ends[p])
            next_free = p + n
        else:
            seen.add(key)
            next_free = p + 1
    return repeated_chars


def _ngram_chars(words: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """Characters of the top n-gram (n in TOP_NGRAM_SIZES) and in repeated n-grams (n in DUP_NGRAM_SIZES).

    An n-gram repeats only where its (n-1)-gram prefix does, so each duplicate size searches only the
    previous size's repeat positions, and stops when there are none.
    """
    top, dup = dict.fromkeys(TOP_NGRAM_SIZES, 0), dict.fromkeys(DUP_NGRAM_SIZES, 0)
    ends = np.zeros(len(words) + 1, dtype=np.int64)  # ends[i]: characters in words[:i], joined without spaces
    ends[1:] = np.cumsum(np.fromiter(map(len, words), dtype=np.int64, count=len(words)))
    word_hashes = np.fromiter(map(hash, words), dtype=np.int64, count=len(words)).view(np.uint64)
    candidates: np.ndarray | None = None  # where the previous size's n-grams repeat
    for n, hashes in _ngram_hashes(word_hashes):
        if len(hashes) == 0:
            break
        if n in top:
            top[n] = _top_ngram_chars(hashes, n, ends)
        if n in dup:
            if candidates is None:
                candidates = np.arange(len(hashes))
            candidates = candidates[candidates < len(hashes)]
            keys = hashes[candidates]
            is_repeated = _repeated(keys)
            candidates, keys = candidates[is_repeated], keys[is_repeated]
            if len(candidates) == 0:
                break
            dup[n] = _greedy_repeated_chars(candidates.tolist(), keys.tolist(), n, ends)
    return top, dup


def _gopher_repetition(v: _Views) -> dict[str, float]:
    text = v.text
    n_chars = len(text)
    if not text:  # datatrove drops empty documents here; we score 0 and leave them to gopher.min_words
        return dict.fromkeys(SIGNAL_GROUPS["gopher_repetition"], 0.0)
    out: dict[str, float] = {}
    paragraphs = _PARAGRAPH_RE.split(text.strip())
    dup_paragraphs, dup_paragraph_chars = _duplicates(paragraphs)
    # Lines are runs between newlines; a text that starts and ends with "\n" has two empty "lines", one of
    # them a duplicate (datatrove splits with re.split("\n+") and we keep that).
    lines = _LINE_RE.split(text)
    dup_lines, dup_line_chars = _duplicates(lines)
    out["gopher.dup_para_fraction"] = dup_paragraphs / len(paragraphs)
    out["gopher.dup_para_char_fraction"] = dup_paragraph_chars / n_chars
    out["gopher.dup_line_fraction"] = dup_lines / len(lines)
    out["gopher.dup_line_char_fraction"] = dup_line_chars / n_chars
    top, dup = _ngram_chars(v.words)
    for n, chars in top.items():
        out[f"gopher.top_{n}gram_char_fraction"] = chars / n_chars
    for n, chars in dup.items():
        # n-grams are compared word by word; datatrove compares them joined without spaces, so it also
        # matches different word splits of the same characters ("ab c" vs "a bc"), which is rare.
        out[f"gopher.dup_{n}gram_char_fraction"] = chars / n_chars
    return out


# --- C4 (Raffel et al. 2020 section 2.2; TFDS c4_utils; datatrove C4QualityFilter) ------------------------


def _c4(v: _Views) -> dict[str, float]:
    """Score the C4 line rules in datatrove's order, as if C4 dropped lines; flag the page-level drops.

    A line is dropped for the first reason that applies: a word over 1000 characters; no terminal punctuation
    (. ? ! " ') or ending in "..."; fewer than 3 words; "javascript"; a policy phrase. "lorem ipsum" and "{"
    drop the page when they appear in a line that survives the earlier tests (for "{", also "javascript").
    The page is also dropped with fewer than 5 sentences in the kept lines (counted by _SENTENCE_BREAK_RE,
    an approximation of the spaCy sentencizer datatrove runs on each kept line). datatrove's defaults
    (3 words, 5 sentences) are swapped relative to the paper and TFDS (5 words per line, 3 sentences).
    """
    lines = v.stripped_lines
    long_word = no_end = few_words = javascript = policy = kept = sentences = 0
    lorem_ipsum = curly_bracket = False
    for line in lines:
        if len(line) > 1000 and any(len(word) > 1000 for word in line.split()):
            long_word += 1
            continue
        original = line  # datatrove counts words before removing citations
        if "[" in line:
            line = _CITATION_RE.sub("", line)
        if not line.endswith(C4_LINE_END) or line.endswith("..."):
            no_end += 1
            continue
        if len(original.split(None, 2)) < 3:
            few_words += 1
            continue
        lower = line.lower()
        if "lorem ipsum" in lower:
            lorem_ipsum = True
        if "javascript" in lower:
            javascript += 1
            continue
        if "{" in line:
            curly_bracket = True
        if ("polic" in lower or "cookie" in lower or "terms of use" in lower) and any(
            phrase in lower for phrase in C4_POLICY_PHRASES
        ):
            policy += 1
            continue
        kept += 1
        sentences += 1 + len(_SENTENCE_BREAK_RE.findall(line))
    n_lines = len(lines)
    return {
        "c4.line_count": float(n_lines),
        "c4.kept_line_fraction": _ratio(kept, n_lines),
        "c4.long_word_line_fraction": _ratio(long_word, n_lines),
        "c4.no_terminal_punct_line_fraction": _ratio(no_end, n_lines),
        "c4.few_words_line_fraction": _ratio(few_words, n_lines),
        "c4.javascript_line_fraction": _ratio(javascript, n_lines),
        "c4.policy_line_fraction": _ratio(policy, n_lines),
        "c4.sentence_count": float(sentences),
        "c4.has_lorem_ipsum": float(lorem_ipsum),
        "c4.has_curly_bracket": float(curly_bracket),
    }


# --- FineWeb (Penedo et al. 2024 section 3.4; datatrove FineWebQualityFilter) -----------------------------

_TERMINAL_SET = frozenset(TERMINAL_PUNCTUATION)


def _fineweb(v: _Views) -> dict[str, float]:
    text = v.text
    # Non-blank lines split on "\n" only, not stripped: "end.\r" does not end in punctuation (datatrove).
    lines = list(filter(str.strip, text.split("\n")))
    if not lines:  # datatrove drops these as "empty": terminal_punct_line_fraction 0 fails its rule
        return dict.fromkeys(SIGNAL_GROUPS["fineweb"], 0.0)
    n_lines = len(lines)
    _, dup_chars = _duplicates(lines)
    n_newlines = text.count("\n")
    n_terminal = sum(map(_TERMINAL_SET.__contains__, map(itemgetter(-1), lines)))
    return {
        "fineweb.terminal_punct_line_fraction": n_terminal / n_lines,
        "fineweb.short_line_fraction": sum(map((30).__ge__, map(len, lines))) / n_lines,  # <= 30 characters
        "fineweb.dup_line_char_fraction": dup_chars / (len(text) - n_newlines),
        "fineweb.newline_word_ratio": _ratio(n_newlines, len(v.words)),
    }


# --- registry ---------------------------------------------------------------------------------------------

_GROUP_FUNCTIONS = {
    "gopher_quality": _gopher_quality,
    "gopher_repetition": _gopher_repetition,
    "c4": _c4,
    "fineweb": _fineweb,
}

SIGNAL_GROUPS: dict[str, tuple[str, ...]] = {
    "gopher_quality": (
        "gopher.word_count",
        "gopher.mean_word_length",
        "gopher.hash_word_ratio",
        "gopher.ellipsis_word_ratio",
        "gopher.bullet_line_fraction",
        "gopher.ellipsis_line_fraction",
        "gopher.alpha_word_fraction",
        "gopher.stop_word_count",
    ),
    "gopher_repetition": (
        "gopher.dup_para_fraction",
        "gopher.dup_para_char_fraction",
        "gopher.dup_line_fraction",
        "gopher.dup_line_char_fraction",
        *(f"gopher.top_{n}gram_char_fraction" for n in TOP_NGRAM_SIZES),
        *(f"gopher.dup_{n}gram_char_fraction" for n in DUP_NGRAM_SIZES),
    ),
    "c4": (
        "c4.line_count",
        "c4.kept_line_fraction",
        "c4.long_word_line_fraction",
        "c4.no_terminal_punct_line_fraction",
        "c4.few_words_line_fraction",
        "c4.javascript_line_fraction",
        "c4.policy_line_fraction",
        "c4.sentence_count",
        "c4.has_lorem_ipsum",
        "c4.has_curly_bracket",
    ),
    "fineweb": (
        "fineweb.terminal_punct_line_fraction",
        "fineweb.short_line_fraction",
        "fineweb.dup_line_char_fraction",
        "fineweb.newline_word_ratio",
    ),
}

_GOPHER = "Rae et al. 2021 (Gopher), datatrove"
_TOP = {2: 0.20, 3: 0.18, 4: 0.16}
_DUP = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
# In each group, the order datatrove tests them: evaluate_rules reports the first rule a document fails.
RULES: tuple[Rule, ...] = (
    Rule("gopher.min_words", "gopher_quality", "gopher.word_count", ">=", 50,
         f"at least 50 words; {_GOPHER}"),
    Rule("gopher.max_words", "gopher_quality", "gopher.word_count", "<=", 100_000,
         f"at most 100,000 words; {_GOPHER}"),
    Rule("gopher.min_mean_word_length", "gopher_quality", "gopher.mean_word_length", ">=", 3,
         f"mean word length >= 3 characters; {_GOPHER}"),
    Rule("gopher.max_mean_word_length", "gopher_quality", "gopher.mean_word_length", "<=", 10,
         f"mean word length <= 10 characters; {_GOPHER}"),
    Rule("gopher.max_hash_ratio", "gopher_quality", "gopher.hash_word_ratio", "<=", 0.1,
         f"'#' per word <= 0.1; {_GOPHER}"),
    Rule("gopher.max_ellipsis_ratio", "gopher_quality", "gopher.ellipsis_word_ratio", "<=", 0.1,
         f"'...' or '…' per word <= 0.1; {_GOPHER}"),
    Rule("gopher.max_bullet_lines", "gopher_quality", "gopher.bullet_line_fraction", "<=", 0.9,
         f"<= 90% of lines start with a bullet ('•' or '-'); {_GOPHER}"),
    Rule("gopher.max_ellipsis_lines", "gopher_quality", "gopher.ellipsis_line_fraction", "<=", 0.3,
         f"<= 30% of lines end with an ellipsis; {_GOPHER}"),
    Rule("gopher.min_alpha_words", "gopher_quality", "gopher.alpha_word_fraction", ">=", 0.8,
         f">= 80% of tokens contain a letter; {_GOPHER}"),
    Rule("gopher.min_stop_words", "gopher_quality", "gopher.stop_word_count", ">=", 2,
         f"at least 2 of the, be, to, of, and, that, have, with; {_GOPHER}"),
    Rule("gopher.max_dup_para_fraction", "gopher_repetition", "gopher.dup_para_fraction", "<=", 0.3,
         f"<= 30% of paragraphs are repeats; {_GOPHER}"),
    Rule("gopher.max_dup_para_chars", "gopher_repetition", "gopher.dup_para_char_fraction", "<=", 0.2,
         f"<= 20% of characters in repeated paragraphs; {_GOPHER}"),
    Rule("gopher.max_dup_line_fraction", "gopher_repetition", "gopher.dup_line_fraction", "<=", 0.3,
         f"<= 30% of lines are repeats; {_GOPHER}"),
    Rule("gopher.max_dup_line_chars", "gopher_repetition", "gopher.dup_line_char_fraction", "<=", 0.2,
         f"<= 20% of characters in repeated lines; {_GOPHER}"),
    *(
        Rule(f"gopher.max_top_{n}gram", "gopher_repetition", f"gopher.top_{n}gram_char_fraction", "<=", t,
             f"most frequent {n}-gram covers <= {t:.0%} of characters; {_GOPHER}")
        for n, t in _TOP.items()
    ),
    *(
        Rule(f"gopher.max_dup_{n}gram", "gopher_repetition", f"gopher.dup_{n}gram_char_fraction", "<=", t,
             f"repeated {n}-grams cover <= {t:.0%} of characters; {_GOPHER}")
        for n, t in _DUP.items()
    ),
    Rule("c4.lorem_ipsum", "c4", "c4.has_lorem_ipsum", "==", 0,
         "no kept line contains 'lorem ipsum'; Raffel et al. 2020 (C4), datatrove"),
    Rule("c4.curly_bracket", "c4", "c4.has_curly_bracket", "==", 0,
         "no kept line contains '{'; Raffel et al. 2020 (C4), datatrove"),
    Rule("c4.min_sentences", "c4", "c4.sentence_count", ">=", 5,
         "at least 5 sentences in kept lines; datatrove default (the C4 paper and TFDS use 3)"),
    Rule("fineweb.min_terminal_punct_lines", "fineweb", "fineweb.terminal_punct_line_fraction", ">=", 0.12,
         "at least 12% of lines end in terminal punctuation; Penedo et al. 2024 (FineWeb), datatrove"),
    Rule("fineweb.max_short_lines", "fineweb", "fineweb.short_line_fraction", "<=", 0.67,
         "at most 67% of lines are 30 characters or shorter; Penedo et al. 2024 (FineWeb), datatrove"),
    Rule("fineweb.max_dup_line_chars", "fineweb", "fineweb.dup_line_char_fraction", "<=", 0.01,
         "<= 1% of characters in repeated lines; datatrove default (FineWeb write-ups also quote 0.1)"),
    Rule("fineweb.max_newline_word_ratio", "fineweb", "fineweb.newline_word_ratio", "<=", 0.3,
         "newlines per word <= 0.3 (list-like pages); Penedo et al. 2024 (FineWeb), datatrove"),
)  # fmt: skip


# --- public API -------------------------------------------------------------------------------------------


def _unknown_group_message(name: object) -> str:
    valid = ", ".join(SIGNAL_GROUPS)
    close = difflib.get_close_matches(str(name), SIGNAL_GROUPS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown heuristic group {name!r}; valid groups are {valid}.{hint}"


def _resolve_groups(groups: Iterable[str]) -> tuple[str, ...]:
    """The requested groups in canonical order; a typo raises ConfigError with the closest valid name."""
    requested = {groups} if isinstance(groups, str) else set(groups)
    for name in requested:
        if name not in SIGNAL_GROUPS:
            raise ConfigError(_unknown_group_message(name))
    return tuple(group for group in SIGNAL_GROUPS if group in requested)


def _signals(text: str, groups: tuple[str, ...]) -> dict[str, float]:
    views = _Views(text)
    out: dict[str, float] = {}
    for group in groups:
        out.update(_GROUP_FUNCTIONS[group](views))
    return out


def compute_signals(text: str, groups: Iterable[str]) -> dict[str, float]:
    """The signals of the given groups for one document, e.g. {"gopher.word_count": 212.0, ...}.

    Empty text is fine: counts are 0 and fractions with nothing to divide by are 0.
    """
    return _signals(text, _resolve_groups(groups))


def compute_signals_batch(texts: Sequence[str], groups: Iterable[str]) -> dict[str, np.ndarray]:
    """The signals of many documents as float64 columns of shape (n_docs,); flags are 0.0 or 1.0."""
    resolved = _resolve_groups(groups)
    names = [name for group in resolved for name in SIGNAL_GROUPS[group]]
    columns = {name: np.empty(len(texts), dtype=np.float64) for name in names}
    for i, text in enumerate(texts):
        for name, value in _signals(text, resolved).items():
            columns[name][i] = value
    return columns


def evaluate_rules(signals: Mapping[str, np.ndarray], rules: Sequence[Rule]) -> np.ndarray:
    """(n_docs,) object array: the name of the first rule each document fails, or None if it passes all.

    A NaN signal fails its rule. A rule whose signal is missing raises ConfigError naming the group to score.
    """
    n_docs = len(next(iter(signals.values()))) if signals else 0
    failed = np.full(n_docs, None, dtype=object)
    undecided = np.ones(n_docs, dtype=bool)
    for rule in rules:
        if rule.signal not in signals:
            raise ConfigError(
                f"rule {rule.name!r} reads signal {rule.signal!r}, which was not computed; "
                f"compute the {rule.group!r} group"
            )
        values = np.asarray(signals[rule.signal], dtype=np.float64)
        if values.shape != (n_docs,):
            raise ConfigError(f"signal {rule.signal!r} has shape {values.shape}; expected ({n_docs},)")
        fails = undecided & ~OPS[rule.op](values, rule.threshold)
        failed[fails] = rule.name
        undecided &= ~fails
    return failed
