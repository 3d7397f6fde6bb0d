"""An entry as the public sees it: listed or not found, and its public history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from cpl_service.entries.models import EntryEvent, EntryStatus
from cpl_service.errors import NotFoundError
from cpl_service.publication.rows import public_history
from cpl_service.publication.service import listed_by_id
from tests.factories import make_entry

REVIEWER = "Sarah Reviewer"
REASON = "Asked for by Sarah Reviewer on the phone"


@pytest.mark.parametrize("status", ["active", "expired", "cancelled", "withdrawn"])
def test_a_listed_entry_is_found_by_its_id_in_any_case(session: Session, status: str) -> None:
    entry = make_entry(session, status=status)
    assert listed_by_id(session=session, entry_id=f" {entry.entry_id.lower()} ").id == entry.id


@pytest.mark.parametrize("status", ["pending_review", "rejected"])
def test_an_entry_never_listed_is_not_found(session: Session, status: str) -> None:
    entry = make_entry(session, status=status)
    with pytest.raises(NotFoundError):
        listed_by_id(session=session, entry_id=entry.entry_id)


def test_an_unknown_id_is_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError):
        listed_by_id(session=session, entry_id="CPL-999999")


def _event(
    action: str,
    before: str | None,
    after: str | None,
    *,
    actor_person: str | None = None,
    reason: str | None = None,
    panel_decision_ref: str | None = None,
) -> EntryEvent:
    return EntryEvent(
        entry_pk=1,
        action=action,
        from_status=EntryStatus(before) if before else None,
        to_status=EntryStatus(after) if after else None,
        actor_name="SECAS",
        actor_person=actor_person,
        at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=len(action)),
        reason=reason,
        panel_decision_ref=panel_decision_ref,
    )


def test_public_history_shows_listing_and_removals_only() -> None:
    events = [
        _event("submitted", None, "pending_review", actor_person="Jo Maker"),
        _event("approved", "pending_review", "active", actor_person=REVIEWER, reason="ok"),
        _event("removal_proposed", "active", "active", reason="certificate revoked"),
        _event("removed", "active", "cancelled", panel_decision_ref="P-1", reason=REASON),
    ]
    shown = public_history(events)
    assert [(e.previous, e.status, e.panel_decision_ref, e.party) for e in shown] == [
        (None, "Active", None, "SECAS"),
        ("Active", "Cancelled", "P-1", "SECAS"),
    ]
    assert not hasattr(shown[0], "reason") and not hasattr(shown[0], "person")
    assert public_history([_event("rejected", "pending_review", "rejected")]) == []
