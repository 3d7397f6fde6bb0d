"""Canonical JSON: the same data always serialises to the same bytes.

Extracts are serialised once with `canonical_json` and those bytes are signed, stored and
served unchanged (never re-serialised). Floats are refused because their text form is
not stable across languages; use integers or strings.
"""

from __future__ import annotations

import json
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
    _check(obj, "$")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")
