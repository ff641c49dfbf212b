"""Texts for a terminal: word differences, wrapping to a width, two columns side by side."""

from __future__ import annotations

import re

from curate.report.textdiff import Painter, cut, side_by_side, word_diff, words, wrap

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_word_diff_marks_the_words_only_one_text_has():
    left, right, only_left, only_right = word_diff(
        "Copyright 2014 Pallets\nall rights", "Copyright 2021 ACME Inc all rights"
    )
    assert (only_left, only_right) == (2, 3)
    plain = Painter(color=False)
    assert " ".join(plain.word(w)[0] for w in left) == "Copyright [-2014 Pallets-] all rights"
    assert " ".join(plain.word(w)[0] for w in right) == "Copyright {+2021 ACME Inc+} all rights"
    coloured = " ".join(Painter(color=True).word(w)[0] for w in left)
    assert "\x1b[31m" in coloured and ANSI.sub("", coloured) == "Copyright 2014 Pallets all rights"


def test_words_keep_paragraphs_and_reflow_lines():
    assert [(w.text, w.breaks) for w in words("a b\nc\n\n\nd")] == [("a", 0), ("b", 0), ("c", 1), ("d", 2)]
    assert [w.breaks for w in words("a b\nc\n\n\nd", reflow=True)] == [0, 0, 0, 2]


def test_wrap_never_exceeds_the_width_on_screen():
    text = "word " * 40 + "\n\n" + "x" * 75 + " end"
    for painter in (Painter(False), Painter(True)):
        left, _, _, _ = word_diff(text, "other " + text)
        lines = wrap(left, 30, painter)
        assert all(line.size <= 30 and len(ANSI.sub("", line.text)) == line.size for line in lines)
        assert "" in [line.text for line in lines]  # the paragraph break


def test_side_by_side_starts_near_the_first_difference():
    same = "\n\n".join(f"paragraph {k} is the same on both sides" for k in range(20))
    left, right, _, _ = word_diff(same + "\n\nthe kept ending", same + "\n\nthe removed ending")
    column = (61 - 3) // 2
    out = side_by_side(wrap(left, column, Painter(False)), wrap(right, column, Painter(False)), 61, 5)
    assert out[0].startswith("... (") and "lines alike)" in out[0]
    assert any("[-kept-]" in line and "{+removed+}" in line for line in out)
    assert all(len(line) <= 61 for line in out)


def test_cut_ends_at_a_word():
    assert cut("short", 10) == ("short", False)
    text, was_cut = cut("a long sentence of many words " * 5, 40)
    assert was_cut and len(text) <= 40 and not text.endswith(" ")
