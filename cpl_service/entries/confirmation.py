"""Supplier confirmation of firmware updates (SPEC §4): when one is needed, and which wait.

A manufacturer's Firmware Update needs a supplier's confirmation before SECAS may approve
it; one submitted by a supplier is confirmed by its submission, and one submitted by the
DCC or SECAS needs none. Any supplier may confirm (the service does not record which
supplier deploys which Device Model).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from cpl_service.entries.models import Entry, EntryStatus, SubmissionType
from cpl_service.parties.models import Party, Role


class SupplierConfirmation(StrEnum):
    """Where an entry stands with respect to supplier confirmation."""

    NOT_NEEDED = "not_needed"
    AWAITING = "awaiting"
    CONFIRMED = "confirmed"


def needs_supplier_confirmation(*, submission_type: str, submitter_role: str | None) -> bool:
    """True when an entry of `submission_type` from a `submitter_role` party needs one."""
    return submission_type == SubmissionType.FIRMWARE_UPDATE and submitter_role == Role.MANUFACTURER


def supplier_confirmation(entry: Entry, *, submitter_role: str | None) -> SupplierConfirmation:
    """The supplier-confirmation state of `entry`, submitted by a `submitter_role` party."""
    if entry.supplier_confirmation_ref:
        return SupplierConfirmation.CONFIRMED
    if needs_supplier_confirmation(
        submission_type=entry.submission_type, submitter_role=submitter_role
    ):
        return SupplierConfirmation.AWAITING
    return SupplierConfirmation.NOT_NEEDED


def awaiting_supplier_confirmation(
    *, session: Session, limit: int, offset: int
) -> tuple[list[tuple[Entry, str]], int]:
    """Firmware updates pending review that wait for a supplier's confirmation, oldest first.

    Returns the page as (entry, submitting party's name) pairs, and the total. The query
    says what `needs_supplier_confirmation` says, for entries still pending review.
    """
    query = (
        select(Entry, Party.name)
        .join(Party, col(Party.id) == col(Entry.submitted_by_party_id))
        .where(
            col(Entry.status) == EntryStatus.PENDING_REVIEW,
            col(Entry.submission_type) == SubmissionType.FIRMWARE_UPDATE,
            col(Entry.supplier_confirmation_ref).is_(None),
            col(Party.role) == Role.MANUFACTURER,
        )
    )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Entry.id)).limit(limit).offset(offset)).all()
    return [(entry, name) for entry, name in rows], int(total)
