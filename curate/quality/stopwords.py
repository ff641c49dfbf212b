"""Word and character lists that the heuristic quality signals compare against.

Kept apart from `heuristics.py` so the logic there reads in one sitting. Every list names its source; the
character sets are the ones datatrove uses, so our signals agree with its filters on the same text.
"""

from __future__ import annotations

# Gopher (Rae et al. 2021, MassiveText quality filter): a document must contain at least 2 of these. Matched
# case-sensitively against word tokens, as datatrove's GopherQualityFilter does ("The" does not count).
GOPHER_STOP_WORDS: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")

# C4 (Raffel et al. 2020; TFDS c4_utils; datatrove C4QualityFilter): lines containing one of these go.
C4_POLICY_PHRASES: tuple[str, ...] = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)

# C4 keeps only lines ending with one of these (datatrove adds "'" to the paper's . ? ! ").
C4_LINE_END: tuple[str, ...] = (".", "?", "!", '"', "'")

# Characters with the Unicode Terminal_Punctuation property, as listed by datatrove (utils/text.py,
# TERMINAL_PUNCTUATION). FineWeb's "line ends in punctuation" test uses this set.
TERMINAL_PUNCTUATION: str = (
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965"
    "\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803\u1809\u1944"
    "\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c"
    "\u203d\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877"
    "\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e"
    "\uff1f\uff61\U00010a56\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86"
    "\U00010f87\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1"
    "\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df\U00011238"
    "\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2\U000115c3\U000115c9"
    "\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0\U000115d1\U000115d2"
    "\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c\U0001173d"
    "\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42"
    "\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38"
    "\U00016b44\U00016e98\U0001bc9f\U0001da88"
)

# datatrove's PUNCTUATION_SET: ASCII punctuation, C0/C1 control characters except tab and newline, some
# CJK and typographic marks (including the fullwidth digit one, U+FF11, as datatrove lists it), plus the
# terminal punctuation above. Gopher counts a token as a word only if it has a character outside this set.
_CONTROL = "".join(map(chr, (*range(0, 9), *range(11, 32), *range(127, 160))))
PUNCTUATION: str = (
    _CONTROL
    + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    + "\xab\xb4\xbb\u2013\u2014\u2019\u201c\u201d\u201e\u2026\u2236\u2501\u25ba\u3001\u3002\u3008\u3009"
    + "\u300a\u300b\u300c\u300d\u3010\u3011\uff01\uff05\uff08\uff09\uff0c\uff0e\uff11\uff1a\uff1b\uff1f\uff5e"
    + TERMINAL_PUNCTUATION
)


def _words(text: str) -> tuple[str, ...]:
    """A long word list kept as one string (a tuple literal would take a line per word)."""
    return tuple(text.split())


# --- word tokenizer tables (datatrove tokenizes English with spaCy's blank "en" tokenizer) ---------------

# spaCy English tokenizer exceptions that end in a period and stay one token ("Mr." is not "Mr" + ".").
# Single letters ("J.") and dotted capitals ("U.S.", "Ph.D.") are handled by rule, not listed here.
ABBREVIATIONS: tuple[str, ...] = _words(
    "Adm Ak Ala Apr Ariz Ark Aug Bros Calif Co Colo Conn Corp Dec Del Dr E.g Feb Fla Ga Gen Gov I.e Ia Id "
    "Ill Inc Ind Jan Jr Jul Jun Kan Kans Ky La Ltd Mar Mass Md Messrs Mich Minn Miss Mo Mont Mr Mrs Ms Mt "
    "Neb Nebr Nev Nov Oct Okla Ore Pa Ph.D Prof Rep Rev Sen Sep Sept St Tenn Va Wash Wis a.m co e.g i.e "
    "p.m v.s vs"
)

# spaCy English exceptions that split an apostrophe-less contraction ("dont" -> "do" + "nt"); the
# capitalised form splits the same way ("Dont" -> "Do" + "nt").
_CONTRACTIONS = _words(
    "ai/nt are/nt can/not ca/nt ca/nt/ve could/nt could/nt/ve could/ve dare/nt did/nt did/nt/ve does/nt "
    "does/nt/ve do/nt do/nt/ve gon/na got/ta had/nt had/nt/ve has/nt have/nt he/d he/d/ve he/ll/ve he/s "
    "how/d how/d/ve how/ll how/ll/ve how/re how/s how/ve i/d i/d/ve i/ll/ve i/m i/m/a is/nt it/d it/d/ve "
    "it/ll it/ll/ve i/ve may/nt may/nt/ve might/nt might/nt/ve might/ve must/nt must/nt/ve must/ve "
    "need/nt need/nt/ve not/ve ought/nt ought/nt/ve sha/nt sha/nt/ve she/d/ve she/ll/ve she/s should/nt "
    "should/nt/ve should/ve that/d that/d/ve that/ll that/ll/ve that/s there/d there/d/ve there/ll "
    "there/ll/ve there/re there/s there/ve these/d these/d/ve these/ll these/ll/ve these/re these/ve "
    "they/d they/d/ve they/ll they/ll/ve they/re they/ve this/d this/d/ve this/ll this/ll/ve this/s "
    "those/d those/d/ve those/ll those/ll/ve those/re those/ve was/nt we/d we/d/ve we/ll/ve were/nt "
    "we/ve what/d what/d/ve what/ll what/ll/ve what/re what/s what/ve when/d when/d/ve when/ll "
    "when/ll/ve when/re when/s when/ve where/d where/d/ve where/ll where/ll/ve where/re where/s where/ve "
    "who/d who/d/ve who/ll who/ll/ve who/s who/ve why/d why/d/ve why/ll why/ll/ve why/re why/s why/ve "
    "wo/nt wo/nt/ve would/nt would/nt/ve would/ve y/all you/d you/d/ve you/ll you/ll/ve you/re you/ve"
)


def _contraction_splits() -> dict[str, tuple[str, ...]]:
    splits: dict[str, tuple[str, ...]] = {}
    for entry in _CONTRACTIONS:
        parts = tuple(entry.split("/"))
        splits["".join(parts)] = parts
        splits["".join(parts).capitalize()] = (parts[0].capitalize(), *parts[1:])
    return splits


CONTRACTION_SPLITS: dict[str, tuple[str, ...]] = _contraction_splits()
