"""Text normalization: Unicode form, newlines, control characters and stray whitespace."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from curate.config import option
from curate.stages.base import Stage, register

# C0/C1 control characters other than tab and newline, and the zero-width / BOM code points.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class NormalizeParams:
    form: Literal["NFC", "NFKC", "NFD", "NFKD", "none"] = option("NFC", help="Unicode normalization form.")
    newlines: bool = option(True, help="Turn \\r\\n and \\r into \\n.")
    remove_control: bool = option(True, help="Drop control characters other than tab and newline.")
    collapse_spaces: bool = option(False, help="Collapse runs of spaces and tabs into one space.")
    max_blank_lines: bool = option(True, help="Collapse three or more newlines into two.")
    strip: bool = option(True, help="Strip leading and trailing whitespace.")


def normalize_text(text: str, p: NormalizeParams) -> str:
    if p.newlines and "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if p.remove_control:
        text = _CONTROL.sub("", text)
    if p.form != "none" and not text.isascii():
        text = unicodedata.normalize(p.form, text)
    if p.collapse_spaces:
        text = _SPACES.sub(" ", text)
    if p.max_blank_lines and "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() if p.strip else text


@register
class UnicodeNormalize(Stage):
    """Rewrite `text` into a normal form, so later stages and hashes see one spelling of each string."""

    name = "unicode_normalize"
    Params = NormalizeParams
    summary = "Normalize Unicode form, newlines, control characters and whitespace of `text`."

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        df = df.copy()
        df["text"] = pd.Series(
            [normalize_text(t, p) for t in df["text"]], index=df.index, dtype=df["text"].dtype
        )
        return df

    def removals(self, df: pd.DataFrame) -> pd.Series:
        # Normalization can leave nothing (a document of control characters): that is not a document.
        empty = df["text"].str.len() == 0
        return pd.Series(
            ["empty_after_normalize" if e else None for e in empty], index=df.index, dtype=object
        )
