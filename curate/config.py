"""Typed configuration: dataclasses as the schema, validated with key paths and suggestions.

Every config object is a dataclass. `build(cls, mapping, path)` checks a parsed YAML mapping against it:
unknown keys are rejected with the closest valid key, wrong types and out-of-range values name the key path
and the value seen. Field metadata carries `help` (shown by `curate stages` and the docs), and optional
`min` / `max` bounds.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Union

from curate.errors import ConfigError


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    min: float | None = None,
    max: float | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with help text and optional bounds."""
    meta = {"help": help, "min": min, "max": max}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def suggest(word: str, choices: typing.Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    text = repr(value)
    return (text[:60] + "...") if len(text) > 60 else text


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names + (["null"] if type(None) in args else []))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


def convert(tp: Any, value: Any, path: str) -> Any:
    """Check `value` against the type `tp` and return it in canonical form, or raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(arg, value, path)
            except ConfigError as err:
                errors.append(err)
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {_describe(value)}.")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            hint = suggest(str(value), [str(a) for a in allowed])
            raise ConfigError(f"{path}: {_describe(value)} is not {_type_name(tp)}.{hint}")
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            value = [value]  # a single value where a list is expected
        return [convert(item, v, _join(path, i)) for i, v in enumerate(value)]
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {_describe(value)}.")
        return {
            convert(key_tp, k, _join(path, str(k))): convert(val_tp, v, _join(path, str(k)))
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {_describe(value)}.")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{path}: expected an integer, got {_describe(value)}.")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {_describe(value)}.")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {_describe(value)}.")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")  # a bug in a schema, not a user error


def build(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass `cls` from a mapping, validating every key (see the module docstring)."""
    where = path or "config"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {_describe(data)}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            hint = suggest(str(key), fields)
            valid = ", ".join(fields) or "none"
            raise ConfigError(f"{_join(path, str(key))}: unknown key.{hint} (valid keys: {valid})")
    values = {}
    for name, f in fields.items():
        key_path = _join(path, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key_path}: required key is missing; add it to the config.")
            continue
        value = convert(hints[name], data[name], key_path)
        _check_bounds(f, value, key_path)
        values[name] = value
    try:
        return cls(**values)
    except ValueError as err:  # a cross-field check in __post_init__
        raise ConfigError(f"{where}: {err}") from None


def _check_bounds(f: dataclasses.Field, value: Any, path: str) -> None:
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    items = value if isinstance(value, list) else [value]
    for v in items:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if lo is not None and v < lo:
            raise ConfigError(f"{path}: {v} is below the minimum {lo}.")
        if hi is not None and v > hi:
            raise ConfigError(f"{path}: {v} is above the maximum {hi}.")


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain data (for YAML/JSON dumps)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def describe_fields(cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, help) of each field of a config dataclass, for docs and `--help`."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        rows.append((f.name, _type_name(hints[f.name]), default, f.metadata.get("help", "")))
    return rows
