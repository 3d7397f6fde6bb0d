"""The transition table, exhaustively."""

from __future__ import annotations

import itertools

import pytest

from cpl_service.entries.models import EntryStatus
from cpl_service.entries.workflow import TRANSITIONS, allowed

EXPECTED_ALLOWED = {
    ("pending_review", "active"),
    ("pending_review", "rejected"),
    ("active", "expired"),
    ("active", "cancelled"),
    ("active", "withdrawn"),
}


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    list(itertools.product([s.value for s in EntryStatus], repeat=2)),
)
def test_every_pair_of_statuses(from_status: str, to_status: str) -> None:
    assert allowed(from_status, to_status) is ((from_status, to_status) in EXPECTED_ALLOWED)


def test_unknown_statuses_are_refused() -> None:
    assert not allowed("active", "deleted")
    assert not allowed("draft", "active")


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(EntryStatus)
