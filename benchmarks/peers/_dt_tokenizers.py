"""Word tokenizers handed to datatrove's MinhashDedupSignature (its `language` argument).

datatrove accepts a `WordTokenizer` instance in place of a language code. They live in this small
module (not in the runner script) so that datatrove's forkserver workers can unpickle them by
module name; the runner puts this folder on `sys.path`, which the workers inherit.

- `SplitTokenizer`: plain `str.split()` on datatrove's simplified text. datatrove's own
  `WhitespaceTokenizer` is not a whitespace split: it calls spaCy's multi-language ("xx")
  tokenizer, so it is not used here.
- `CurateTokenizer`: curate's normalization (`benchmarks/shingles.py`: NFKC, lower case, Unicode
  punctuation -> space, `str.split()`). Used with a `TextNormConfig` that turns every datatrove
  normalization off, datatrove then hashes exactly curate's shingles (with its own xxhash).
"""

from __future__ import annotations

from datatrove.utils.word_tokenizers import WordTokenizer
from shingles import normalize_words


class SplitTokenizer(WordTokenizer):
    """Whitespace tokenizer: `text.split()`."""

    def __init__(self) -> None:
        super().__init__("split")

    def word_tokenize(self, text: str) -> list[str]:
        """Split on whitespace."""
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        """Not used by MinHash dedup: the whole text is one sentence."""
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        """Not used by MinHash dedup: one span over the whole text."""
        return [(0, len(text))]


class CurateTokenizer(SplitTokenizer):
    """curate's normalization and word split (`shingles.normalize_words`)."""

    def word_tokenize(self, text: str) -> list[str]:
        """NFKC, lower case, punctuation -> space, `str.split()`."""
        return normalize_words(text)
