"""Canonical JSON: one set of data, one byte string."""

from __future__ import annotations

import pytest

from cpl_service.extracts.canonical import canonical_json


def test_sorted_compact_utf8() -> None:
    assert (
        canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )


def test_same_data_same_bytes_whatever_the_insertion_order() -> None:
    first = {"z": {"y": 1, "x": 2}, "a": "1"}
    second = {"a": "1", "z": {"x": 2, "y": 1}}
    assert canonical_json(first) == canonical_json(second)


@pytest.mark.parametrize("value", [1.0, {"a": [0.5]}, {"a": float("nan")}])
def test_floats_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="float"):
        canonical_json(value)


@pytest.mark.parametrize("value", [{1: "a"}, {"a": object()}, {"a": {1, 2}}])
def test_other_ambiguous_values_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)
