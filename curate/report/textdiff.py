"""Texts laid out for a terminal: wrapped to a width, and two texts side by side with the words that
differ highlighted (colour on a terminal, `[-only left-]` and `{+only right+}` markers elsewhere)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from itertools import zip_longest

import click

DIFF_WORDS = 3000  # words of each text compared (difflib's matcher is quadratic in the worst case)
_WORD = re.compile(r"\S+")
_MARKERS = {"-": ("[-", "-]", "red"), "+": ("{+", "+}", "green")}


@dataclass(frozen=True)
class Word:
    text: str
    breaks: int = 0  # line breaks before the word: 1 a new line, 2 a blank line (more collapse to 2)
    mark: str | None = None  # "-": only in the left text, "+": only in the right one
    starts: bool = False  # the first word of a run of marked words
    ends: bool = False  # the last one


@dataclass(frozen=True)
class Line:
    text: str  # as printed (with colour codes on a terminal)
    size: int  # its width on screen
    marked: bool = False  # it holds a word that only one text has


@dataclass(frozen=True)
class Painter:
    """Styles for a terminal (`color`) or for plain text, where differences get markers instead."""

    color: bool

    def style(self, text: str, **styles) -> str:
        return click.style(text, **styles) if self.color else text

    def word(self, w: Word) -> tuple[str, int]:
        """The word as printed, and its width on screen."""
        if w.mark is None:
            return w.text, len(w.text)
        opening, closing, colour = _MARKERS[w.mark]
        if self.color:
            return click.style(w.text, fg=colour, bold=True, underline=True), len(w.text)
        text = (opening if w.starts else "") + w.text + (closing if w.ends else "")
        return text, len(text)


def words(text: str, reflow: bool = False) -> list[Word]:
    """The words of `text` with the line breaks before each; `reflow`: only blank lines break (the lines
    of a paragraph are joined, as for narrow columns)."""
    out, last = [], 0
    for m in _WORD.finditer(text):
        breaks = min(text.count("\n", last, m.start()), 2) if out else 0
        out.append(Word(m.group(0), breaks if breaks > 1 or not reflow else 0))
        last = m.end()
    return out


def word_diff(left: str, right: str) -> tuple[list[Word], list[Word], int, int]:
    """Both texts as words (paragraphs reflowed), those only in one of them marked; and how many words
    each has alone. Only the first DIFF_WORDS words of each are compared (and returned)."""
    a, b = words(left, reflow=True)[:DIFF_WORDS], words(right, reflow=True)[:DIFF_WORDS]
    matcher = difflib.SequenceMatcher(None, [w.text for w in a], [w.text for w in b], autojunk=False)
    only_a = only_b = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            _mark(a, i1, i2, "-")
            only_a += i2 - i1
        if tag in ("replace", "insert"):
            _mark(b, j1, j2, "+")
            only_b += j2 - j1
    return a, b, only_a, only_b


def _mark(ws: list[Word], start: int, stop: int, mark: str) -> None:
    for k in range(start, stop):
        ws[k] = replace(ws[k], mark=mark, starts=k == start, ends=k == stop - 1)


def wrap(ws: list[Word], width: int, painter: Painter) -> list[Line]:
    """Lines of at most `width` characters on screen."""
    lines: list[Line] = []
    parts: list[str] = []
    used, marked = 0, False

    def flush() -> None:
        nonlocal parts, used, marked
        lines.append(Line(" ".join(parts), used, marked))
        parts, used, marked = [], 0, False

    for w in ws:
        if w.breaks and (parts or lines):
            flush()
            if w.breaks > 1:
                lines.append(Line("", 0))
        while len(w.text) > width:  # a word wider than the column: cut it
            if parts:
                flush()
            lines.append(Line(*painter.word(replace(w, text=w.text[:width], ends=False)), w.mark is not None))
            w = replace(w, text=w.text[width:], starts=False)
        shown, size = painter.word(w)
        if parts and used + 1 + size > width:
            flush()
        used += (1 if parts else 0) + size
        parts.append(shown)
        marked = marked or w.mark is not None
    if parts:
        flush()
    return lines


def side_by_side(
    left: list[Line], right: list[Line], width: int, max_lines: int, context: int = 2
) -> list[str]:
    """Two columns of wrapped lines (from `wrap` at (width - 3) // 2): from `context` lines before the
    first line with a difference (the lines before it are the same on both sides), at most `max_lines`."""
    column = (width - 3) // 2
    rows = list(zip_longest(left, right, fillvalue=Line("", 0)))
    first = next((k for k, (a, b) in enumerate(rows) if a.marked or b.marked), 0)
    start = max(0, first - context)
    out = []
    if start:
        out.append(f"{f'... ({start:,} lines alike)':<{column}} | ...")
    shown = rows[start : start + max_lines]
    out += [f"{a.text}{' ' * (column - a.size)} | {b.text}".rstrip() for a, b in shown]
    if start + max_lines < len(rows):
        out.append(f"{'...':<{column}} | ...")
    return out


def cut(text: str, chars: int) -> tuple[str, bool]:
    """The first `chars` characters of `text`, ending at a word where one is near; True when cut."""
    if len(text) <= chars:
        return text, False
    head = text[:chars]
    space = head.rfind(" ", chars - 20)
    return (head[:space] if space > 0 else head), True
