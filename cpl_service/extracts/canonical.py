"""Canonical JSON: the same data always serialises to the same bytes.

Extracts are serialised once with `canonical_json` and those bytes are signed, stored and
served unchanged (never re-serialised). Floats are refused because their text form is
not stable across languages; use integers or strings.
"""

from __future__ import annotations

import json
from itertools import chain
from typing import Any


def _check(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise TypeError(f"canonical JSON refuses floats ({path} = {value!r}); use int or str")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON needs string keys ({path} has {key!r})")
            _check(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
    elif value is not None and not isinstance(value, str | int):
        raise TypeError(
            f"canonical JSON cannot encode {type(value).__name__} at {path};"
            " convert it to a string, integer, boolean, list or object first"
        )


_PLAIN = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """A fast yes for exact str/int/bool/None leaves (no floats, no subclasses).

    Extracts hold hundreds of thousands of flat objects; checking their value types as a
    set keeps the guard far cheaper than the serialisation itself. A "no" is settled by
    `_check`, which names the offending path.
    """
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is dict:
        if not all(type(key) is str for key in value):
            return False
        values = value.values()
        if {type(item) for item in values} <= _PLAIN:
            return True
        return all(_plain(item) for item in values)
    if kind is list or kind is tuple:
        kinds = set(map(type, value))
        if kinds <= _PLAIN:
            return True
        if kinds == {dict} and _flat_objects(value):
            return True
        return all(_plain(item) for item in value)
    return False


def _flat_objects(objects: list[Any] | tuple[Any, ...]) -> bool:
    """A fast yes for a list of dicts with string keys and plain values (the entries),
    checked in a few C-level passes rather than one Python call per entry."""
    keys = set(map(type, chain.from_iterable(objects)))
    values = set(map(type, chain.from_iterable(map(dict.values, objects))))
    return keys <= {str} and values <= _PLAIN


def canonical_json(obj: Any) -> bytes:
    """Serialise to canonical JSON bytes.

    Object keys are sorted (by code point), there is no insignificant whitespace, text is
    UTF-8 with non-ASCII characters written as themselves, and floats are refused.

    Args:
        obj: Dicts with string keys, lists, tuples, strings, integers, booleans and None.

    Returns:
        The UTF-8 bytes.

    Raises:
        TypeError: `obj` holds a float, a non-string key, or a value JSON cannot encode.
    """
    if not _plain(obj):
        _check(obj, "$")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")
