"""Supplier confirmation of firmware updates: the rule, the states, the waiting list,
and the histories of many entries at once."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from cpl_service.clock import utcnow
from cpl_service.entries import service
from cpl_service.entries.confirmation import (
    SupplierConfirmation,
    awaiting_supplier_confirmation,
    needs_supplier_confirmation,
    supplier_confirmation,
)
from cpl_service.entries.models import Entry, EntryStatus, SubmissionType
from cpl_service.parties.actors import Actor
from cpl_service.parties.models import Role
from tests.conftest import MakeParty
from tests.factories import make_entry

ROLES = [*Role, None]


@pytest.mark.parametrize(
    ("submission_type", "role"), list(itertools.product(SubmissionType, ROLES))
)
def test_only_a_manufacturers_firmware_update_needs_a_supplier(
    submission_type: SubmissionType, role: Role | None
) -> None:
    expected = submission_type is SubmissionType.FIRMWARE_UPDATE and role is Role.MANUFACTURER
    assert (
        needs_supplier_confirmation(submission_type=submission_type, submitter_role=role)
        is expected
    )


@pytest.mark.parametrize(
    ("submission_type", "role", "reference", "state"),
    [
        (SubmissionType.FIRMWARE_UPDATE, Role.MANUFACTURER, None, SupplierConfirmation.AWAITING),
        (SubmissionType.FIRMWARE_UPDATE, Role.MANUFACTURER, "R1", SupplierConfirmation.CONFIRMED),
        (SubmissionType.FIRMWARE_UPDATE, Role.SUPPLIER, "by supplier", "confirmed"),
        (SubmissionType.FIRMWARE_UPDATE, Role.DCC, None, SupplierConfirmation.NOT_NEEDED),
        (SubmissionType.FIRMWARE_UPDATE, None, None, SupplierConfirmation.NOT_NEEDED),
        (SubmissionType.NEW_DEVICE_MODEL, Role.MANUFACTURER, None, "not_needed"),
    ],
)
def test_confirmation_state(
    submission_type: SubmissionType, role: Role | None, reference: str | None, state: str
) -> None:
    fields: dict[str, Any] = {
        "submission_type": submission_type.value,
        "supplier_confirmation_ref": reference,
    }
    entry = Entry(**fields)  # only what the state depends on
    assert supplier_confirmation(entry, submitter_role=role) == state


def test_the_waiting_list_holds_exactly_what_the_rule_says(
    session: Session, make_party: MakeParty
) -> None:
    parties = {role: make_party(role.value)[0] for role in Role}
    firmware = itertools.count(0x100)
    expected: list[str] = []
    for role, kind, status, confirmed in itertools.product(
        Role,
        SubmissionType,
        (EntryStatus.PENDING_REVIEW, EntryStatus.ACTIVE, EntryStatus.REJECTED),
        (False, True),
    ):
        entry = make_entry(
            session,
            party_id=parties[role].id,
            submission_type=kind.value,
            status=status,
            firmware_version=f"{next(firmware):08X}",
            supplier_confirmation_ref="R" if confirmed else None,
        )
        if (
            status == EntryStatus.PENDING_REVIEW
            and not confirmed
            and needs_supplier_confirmation(submission_type=kind, submitter_role=role)
        ):
            expected.append(entry.entry_id)
    assert len(expected) == 1

    page, total = awaiting_supplier_confirmation(session=session, limit=10, offset=0)
    assert total == 1
    assert [(e.entry_id, name) for e, name in page] == [
        (expected[0], parties[Role.MANUFACTURER].name)
    ]


def test_the_waiting_list_pages_oldest_first(session: Session, make_party: MakeParty) -> None:
    maker, _ = make_party("manufacturer")
    ids = [
        make_entry(
            session,
            party_id=maker.id,
            submission_type="Firmware Update",
            firmware_version=f"{n:08X}",
        ).entry_id
        for n in range(0x200, 0x205)
    ]
    first, total = awaiting_supplier_confirmation(session=session, limit=2, offset=0)
    rest, _ = awaiting_supplier_confirmation(session=session, limit=10, offset=2)
    assert total == 5
    assert [e.entry_id for e, _ in first + rest] == ids


def test_histories_of_many_entries_at_once(session: Session, make_party: MakeParty) -> None:
    maker, _ = make_party("manufacturer")
    entries = [
        make_entry(session, party_id=maker.id, firmware_version=f"{n:08X}")
        for n in range(0x300, 0x303)
    ]
    later = utcnow() + timedelta(minutes=1)
    service.annotate(
        session=session,
        entry=entries[1],
        action="noted",
        actor=Actor(party_id=None, name="SECAS"),
        at=later,
        reason="a note",
    )
    session.commit()
    found = service.histories(session=session, entries=entries)
    assert set(found) == {e.id for e in entries}
    assert [[ev.action for ev in found[e.id or 0]] for e in entries] == [
        ["submitted"],
        ["submitted", "noted"],
        ["submitted"],
    ]
    assert found[entries[1].id or 0] == service.history(session=session, entry=entries[1])
    assert service.histories(session=session, entries=[]) == {}
