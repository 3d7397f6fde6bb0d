"""Bounded query sizes: every `IN (…)` list is sent in batches, however many values there are."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# PostgreSQL nests a long IN list as a deep expression tree and refuses it beyond a few
# thousand items ("stack depth limit exceeded"); SQLite caps bound parameters. 500 is far
# below both, and few enough round trips for 20,000 rows.
BATCH_SIZE = 500


def batches(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
