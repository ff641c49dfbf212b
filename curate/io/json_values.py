"""JSON values of input records: parsing with orjson and the standard library's fallback, repairing lone
surrogates, and encoding other fields as `meta`, within a bounded nesting depth."""

from __future__ import annotations

import json
import re

import orjson


def json_bytes(row: dict) -> bytes:
    """A record's bytes for quarantine, as JSON (or, nested too deeply for that, its repr)."""
    try:
        return dumps(row).encode("utf-8")
    except TooDeep:
        return repr(row).encode("utf-8", "backslashreplace")


def loads(text: str, exact_integers: bool = False):
    """Parse one JSON record: orjson (fast), and the standard library where orjson is stricter (NaN,
    lone surrogates) or, with `exact_integers`, where it reads an integer beyond 64 bits as a float;
    ValueError if neither accepts it."""
    if not exact_integers:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    try:
        return replace_lone_surrogates(json.loads(text))
    except RecursionError:  # orjson stops at 1,024 levels; the standard library sooner, by recursing
        raise ValueError("nested too deeply to parse (over 1,000 levels)") from None


# A JSON escape such as "\ud800" without its other half decodes to a lone surrogate: a Python string that
# no UTF-8 encoder, Arrow or Parquet accepts. It is replaced by U+FFFD, as a UTF-8 decoder with
# errors="replace" does with invalid bytes, everywhere in the record (text, id, other fields).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(value):
    """`value` with U+FFFD for every lone surrogate in its strings and keys. Iterative: a record may nest
    as deep as the parser allows. Lists and mappings are changed in place (they are freshly parsed)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    todo = [value] if isinstance(value, (dict, list)) else []
    while todo:
        node = todo.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if isinstance(node, dict):
            node.clear()  # rebuilt in the same order, keys repaired
        for key, v in items:
            if isinstance(v, str):
                v = _LONE_SURROGATE.sub("\ufffd", v)
            elif isinstance(v, (dict, list)):
                todo.append(v)
            if isinstance(key, str):
                key = _LONE_SURROGATE.sub("\ufffd", key)
            node[key] = v
    return value


# Fields nested deeper than this are not stored: it is the depth orjson's encoder stops at, and the
# standard library's (the fallback) recurses in Python, so deeper it may fail depending on the stack.
MAX_NESTING = 254


class TooDeep(ValueError):
    pass


def nesting_depth(value) -> int:
    """Levels of lists and mappings in `value` (a scalar is 0), counted without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, depth)
        todo += [(child, depth + 1) for child in node]
    return deepest


def dumps(obj) -> str:
    """JSON text of a record's fields; TooDeep (a ValueError) if they nest deeper than MAX_NESTING."""
    try:
        return orjson.dumps(obj, default=str).decode("utf-8")
    except TypeError:  # e.g. integers beyond 64 bits, non-string keys, too deep
        if nesting_depth(obj) > MAX_NESTING:
            raise TooDeep(f"fields nested deeper than {MAX_NESTING} levels") from None
        return json.dumps(obj, ensure_ascii=False, default=str)
