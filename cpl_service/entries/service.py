"""Applying lifecycle transitions, recording events, and reading entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from cpl_service.batches import batches
from cpl_service.certificates.models import CertificateStatus
from cpl_service.certificates.service import find_certificate
from cpl_service.db import update_one
from cpl_service.devices import CertificateKind
from cpl_service.entries.confirmation import needs_supplier_confirmation
from cpl_service.entries.models import (
    Entry,
    EntryEvent,
    EntryStatus,
    SubmissionType,
    like_pattern,
    search_text,
)
from cpl_service.entries.workflow import REMOVAL_STATUSES, allowed
from cpl_service.errors import ConflictError, InvalidInputError, NotFoundError
from cpl_service.parties.actors import Actor
from cpl_service.parties.models import Party, Role


def record_event(
    *,
    session: Session,
    entry: Entry,
    action: str,
    actor: Actor,
    at: datetime,
    from_status: EntryStatus | None = None,
    to_status: EntryStatus | None = None,
    reason: str | None = None,
    panel_decision_ref: str | None = None,
) -> EntryEvent:
    assert entry.id is not None
    event = EntryEvent(
        entry_pk=entry.id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_party_id=actor.party_id,
        actor_name=actor.name,
        actor_person=actor.person,
        actor_token=actor.token,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        at=at,
        reason=reason,
        panel_decision_ref=panel_decision_ref,
    )
    session.add(event)
    return event


def annotate(
    *,
    session: Session,
    entry: Entry,
    action: str,
    actor: Actor,
    at: datetime,
    reason: str,
    **changes: Any,
) -> None:
    """Change fields of an entry other than its status, and say so in its history."""
    for key, value in changes.items():
        setattr(entry, key, value)
    entry.updated_at = at
    session.add(entry)
    record_event(
        session=session,
        entry=entry,
        action=action,
        actor=actor,
        at=at,
        from_status=entry.status,
        to_status=entry.status,
        reason=reason,
    )


def transition(
    *,
    session: Session,
    entry: Entry,
    to_status: EntryStatus,
    actor: Actor,
    action: str,
    at: datetime,
    reason: str | None = None,
    panel_decision_ref: str | None = None,
) -> Entry:
    """Move an entry to `to_status` and record the event; 409 for anything else.

    The UPDATE only matches while the entry still has the status we read, so of two
    reviewers acting at the same moment exactly one wins; the other gets a conflict.
    The caller commits.
    """
    from_status = entry.status
    if not allowed(from_status, to_status):
        raise ConflictError(
            f"{entry.entry_id} is {from_status}; it cannot become {to_status.value}.",
            entry_id=entry.entry_id,
            current_status=from_status,
        )
    values: dict[str, Any] = {
        "status": to_status,
        "status_effective_at": at,
        "updated_at": at,
    }
    if to_status is EntryStatus.ACTIVE and entry.first_active_at is None:
        values["first_active_at"] = at
    if to_status in REMOVAL_STATUSES:
        values["panel_decision_ref"] = panel_decision_ref
        values["removal_proposed"] = False
    guarded = (
        update(Entry)
        .where(col(Entry.id) == entry.id, col(Entry.status) == from_status)
        .values(**values)
    )
    if not update_one(session, guarded):
        session.rollback()
        raise ConflictError(
            f"{entry.entry_id} was changed by someone else at the same moment; "
            "reload it and try again.",
            entry_id=entry.entry_id,
        )
    for key, value in values.items():
        setattr(entry, key, value)
    record_event(
        session=session,
        entry=entry,
        action=action,
        actor=actor,
        at=at,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        panel_decision_ref=panel_decision_ref,
    )
    return entry


def parse_entry_number(entry_id: str) -> int | None:
    text = entry_id.strip().upper()
    if text.startswith("CPL-"):
        text = text[4:]
    return int(text) if text.isdigit() and len(text) <= 12 else None


def get_entry(*, session: Session, entry_id: str) -> Entry:
    entry = session.exec(select(Entry).where(Entry.entry_id == entry_id.strip().upper())).first()
    if entry is None:
        raise NotFoundError(f"There is no CPL entry {entry_id!r}.")
    return entry


def can_see(party: Party, entry: Entry) -> bool:
    """SECAS and the DCC see every entry; a submitter sees its own; a supplier also sees
    firmware updates, which it may be asked to confirm."""
    if party.role in (Role.SECAS, Role.DCC):
        return True
    if entry.submitted_by_party_id == party.id:
        return True
    return party.role == Role.SUPPLIER and entry.submission_type == SubmissionType.FIRMWARE_UPDATE


def visible_entry(*, session: Session, party: Party, entry_id: str) -> Entry:
    entry = get_entry(session=session, entry_id=entry_id)
    if not can_see(party, entry):
        raise NotFoundError(f"There is no CPL entry {entry_id!r}.")
    return entry


def history(*, session: Session, entry: Entry) -> list[EntryEvent]:
    return list(
        session.exec(
            select(EntryEvent)
            .where(EntryEvent.entry_pk == entry.id)
            .order_by(col(EntryEvent.at), col(EntryEvent.id))
        ).all()
    )


def histories(*, session: Session, entries: Sequence[Entry]) -> dict[int, list[EntryEvent]]:
    """The history of each of `entries`, keyed by the entry's primary key (one query a batch)."""
    found: dict[int, list[EntryEvent]] = {e.id: [] for e in entries if e.id is not None}
    for batch in batches(sorted(found)):
        events = session.exec(
            select(EntryEvent)
            .where(col(EntryEvent.entry_pk).in_(batch))
            .order_by(col(EntryEvent.at), col(EntryEvent.id))
        )
        for event in events:
            found[event.entry_pk].append(event)
    return found


@dataclass(frozen=True)
class EntryFilters:
    status: EntryStatus | None = None
    device_type: str | None = None
    manufacturer_id: str | None = None
    q: str | None = None
    removal_proposed: bool | None = None
    submission_id: int | None = None


def list_entries(
    *, session: Session, party: Party, filters: EntryFilters, limit: int, offset: int
) -> tuple[list[Entry], int]:
    """The entries `party` may see, filtered and paged; returns the page and the total."""
    query = select(Entry)
    if party.role not in (Role.SECAS, Role.DCC):
        visible = col(Entry.submitted_by_party_id) == party.id
        if party.role == Role.SUPPLIER:
            visible = or_(visible, col(Entry.submission_type) == SubmissionType.FIRMWARE_UPDATE)
        query = query.where(visible)
    if filters.status:
        query = query.where(col(Entry.status) == filters.status)
    if filters.device_type:
        query = query.where(col(Entry.physical_device_type) == filters.device_type.upper())
    if filters.manufacturer_id:
        query = query.where(col(Entry.manufacturer_id) == filters.manufacturer_id.upper())
    if filters.removal_proposed is not None:
        query = query.where(col(Entry.removal_proposed) == filters.removal_proposed)
    if filters.submission_id is not None:
        query = query.where(col(Entry.submission_id) == filters.submission_id)
    if filters.q:
        query = query.where(search_text().ilike(like_pattern(filters.q.strip()), escape="\\"))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = session.exec(query.order_by(col(Entry.id)).limit(limit).offset(offset)).all()
    return list(page), int(total)


# --- review actions -----------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One decision batch: what one review request did, to every entry it moved at once."""

    to_status: EntryStatus
    entries: Sequence[Entry]
    at: datetime
    reason: str | None = None
    panel_decision_ref: str | None = None


class DecisionNotice(Protocol):
    """Queues the emails a decision sends, in the decision's own transaction.

    Entries sit below notices in the package order, so whoever decides passes this in (the
    API passes the notices package's queuing): the email commits, or rolls back, with the
    decision it reports.
    """

    def __call__(self, *, session: Session, decision: Decision) -> object: ...


def relied_on_certificates(entry: Entry) -> list[tuple[CertificateKind, str]]:
    pairs = [
        (CertificateKind.ZIGBEE, entry.zigbee_certificate_number),
        (CertificateKind.DLMS, entry.dlms_certificate_number),
        (CertificateKind.CPA, entry.cpa_certificate_number),
    ]
    return [(kind, number) for kind, number in pairs if number]


def approval_blockers(
    *, session: Session, entry: Entry, submitter_role: str | None, today: date
) -> list[str]:
    """Why `entry` cannot be approved now (empty when it can)."""
    reasons: list[str] = []
    if entry.status != EntryStatus.PENDING_REVIEW:
        reasons.append(f"{entry.entry_id} is {entry.status}, not pending_review.")
        return reasons
    if not entry.supplier_confirmation_ref and needs_supplier_confirmation(
        submission_type=entry.submission_type, submitter_role=submitter_role
    ):
        reasons.append(
            f"{entry.entry_id} is a manufacturer's firmware update that no supplier has "
            "confirmed yet."
        )
    for kind, number in relied_on_certificates(entry):
        certificate = find_certificate(session=session, kind=kind, number=number)
        if certificate is None:
            continue
        if certificate.status == CertificateStatus.REVOKED:
            reasons.append(f"{entry.entry_id} relies on {kind} certificate {number}, revoked.")
        end = certificate.end_date if kind == CertificateKind.CPA else None
        if end is not None and end <= today:
            reasons.append(
                f"{entry.entry_id} relies on CPA certificate {number}, which ended on "
                f"{end.isoformat()}."
            )
    return reasons


def submitter_role(session: Session, entry: Entry) -> str | None:
    """The role of the party that submitted `entry` (None for an imported entry)."""
    if entry.submitted_by_party_id is None:
        return None
    party = session.get(Party, entry.submitted_by_party_id)
    return party.role if party else None


def entry_approval_blockers(*, session: Session, entry: Entry, today: date) -> list[str]:
    """Why approving `entry` on `today` would be refused (empty when it would not)."""
    return approval_blockers(
        session=session,
        entry=entry,
        submitter_role=submitter_role(session, entry),
        today=today,
    )


def approve(
    *,
    session: Session,
    entry: Entry,
    actor: Actor,
    note: str | None,
    now: datetime,
    notify: DecisionNotice,
) -> Entry:
    """Approve a pending entry (SECAS), refusing while a precondition of SPEC §4 fails."""
    blockers = entry_approval_blockers(session=session, entry=entry, today=now.date())
    if blockers:
        raise ConflictError(" ".join(blockers), entry_id=entry.entry_id, reasons=blockers)
    transition(
        session=session,
        entry=entry,
        to_status=EntryStatus.ACTIVE,
        actor=actor,
        action="approved",
        at=now,
        reason=note,
    )
    notify(session=session, decision=Decision(EntryStatus.ACTIVE, [entry], now, note))
    session.commit()
    return entry


def reject(
    *,
    session: Session,
    entry: Entry,
    actor: Actor,
    reason: str,
    now: datetime,
    notify: DecisionNotice,
) -> Entry:
    """Reject a pending entry (SECAS); the reason is kept in its history."""
    if not reason.strip():
        raise InvalidInputError("A rejection needs a reason the submitter can act on.")
    transition(
        session=session,
        entry=entry,
        to_status=EntryStatus.REJECTED,
        actor=actor,
        action="rejected",
        at=now,
        reason=reason.strip(),
    )
    notify(session=session, decision=Decision(EntryStatus.REJECTED, [entry], now, reason.strip()))
    session.commit()
    return entry


def confirm_firmware_update(
    *, session: Session, entry: Entry, actor: Actor, reference: str, now: datetime
) -> Entry:
    """A supplier confirms a manufacturer's firmware update matches agreed plans."""
    if not reference.strip():
        raise InvalidInputError("A supplier confirmation needs a reference.")
    if entry.submission_type != SubmissionType.FIRMWARE_UPDATE:
        raise ConflictError(f"{entry.entry_id} is not a firmware update; nothing to confirm.")
    if entry.status != EntryStatus.PENDING_REVIEW:
        raise ConflictError(
            f"{entry.entry_id} is {entry.status}; only pending updates are confirmed."
        )
    guarded = (
        update(Entry)
        .where(
            col(Entry.id) == entry.id,
            col(Entry.status) == EntryStatus.PENDING_REVIEW,
            col(Entry.supplier_confirmation_ref).is_(None),
        )
        .values(supplier_confirmation_ref=reference.strip(), updated_at=now)
    )
    if not update_one(session, guarded):
        session.rollback()
        raise ConflictError(f"{entry.entry_id} has already been confirmed by a supplier.")
    entry.supplier_confirmation_ref = reference.strip()
    record_event(
        session=session,
        entry=entry,
        action="supplier_confirmed",
        actor=actor,
        at=now,
        from_status=entry.status,
        to_status=entry.status,
        reason=reference.strip(),
    )
    session.commit()
    return entry


def remove(
    *,
    session: Session,
    entry: Entry,
    actor: Actor,
    status: EntryStatus,
    panel_decision_ref: str,
    reason: str | None,
    now: datetime,
    notify: DecisionNotice,
) -> Entry:
    """Record the Panel's removal of an Active entry (expired, cancelled or withdrawn)."""
    if status not in REMOVAL_STATUSES:
        raise InvalidInputError("A removal status is one of expired, cancelled or withdrawn.")
    if not panel_decision_ref.strip():
        raise InvalidInputError("A removal needs the Panel decision reference.")
    transition(
        session=session,
        entry=entry,
        to_status=status,
        actor=actor,
        action="removed",
        at=now,
        reason=reason,
        panel_decision_ref=panel_decision_ref.strip(),
    )
    notify(
        session=session,
        decision=Decision(status, [entry], now, reason, panel_decision_ref.strip()),
    )
    session.commit()
    return entry
