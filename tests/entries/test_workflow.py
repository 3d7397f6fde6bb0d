"""The transition table, exhaustively."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.entries.service import awaits_supplier_confirmation
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


@pytest.mark.parametrize(
    ("submission_type", "role", "reference", "awaits"),
    [
        ("Firmware Update", "manufacturer", None, True),
        ("Firmware Update", "manufacturer", "SUP-1", False),
        ("Firmware Update", "supplier", "submitted by supplier S", False),
        ("Firmware Update", "dcc", None, False),
        ("Firmware Update", "secas", None, False),
        ("Firmware Update", None, None, False),
        ("New Device Model", "manufacturer", None, False),
    ],
)
def test_which_firmware_updates_await_a_supplier(
    submission_type: str, role: str | None, reference: str | None, awaits: bool
) -> None:
    fields: dict[str, Any] = {
        "submission_type": submission_type,
        "supplier_confirmation_ref": reference,
    }
    entry = Entry(**fields)
    assert awaits_supplier_confirmation(entry, role) is awaits
