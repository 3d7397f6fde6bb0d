"""Entries: listing, reading with history, and the review actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from cpl_service.api.deps import (
    CurrentActor,
    CurrentParty,
    DecisionNotices,
    SecasParty,
    SessionDep,
    SupplierParty,
)
from cpl_service.api.params import EntryIdPath, IdQuery, Offset
from cpl_service.api.schemas import (
    ApprovalIn,
    EntryPage,
    EntryPublic,
    RejectionIn,
    RemovalIn,
    SupplierConfirmationIn,
)
from cpl_service.clock import utcnow
from cpl_service.entries import service
from cpl_service.entries.models import Entry, EntryStatus

router = APIRouter(prefix="/entries", tags=["entries"])


def _with_history(session: Session, entry: Entry) -> EntryPublic:
    return EntryPublic.of(entry, service.history(session=session, entry=entry))


def visible_entry(entry_id: EntryIdPath, session: SessionDep, party: CurrentParty) -> Entry:
    return service.visible_entry(session=session, party=party, entry_id=entry_id)


VisibleEntry = Annotated[Entry, Depends(visible_entry)]


@router.get("", response_model=EntryPage)
def list_entries(
    session: SessionDep,
    party: CurrentParty,
    status: Annotated[EntryStatus | None, Query()] = None,
    device_type: Annotated[str | None, Query(max_length=20)] = None,
    manufacturer_id: Annotated[str | None, Query(max_length=4)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    removal_proposed: bool | None = None,
    submission_id: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> EntryPage:
    """Entries you may see, filtered and paged."""
    filters = service.EntryFilters(
        status=status,
        device_type=device_type,
        manufacturer_id=manufacturer_id,
        q=q,
        removal_proposed=removal_proposed,
        submission_id=submission_id,
    )
    page, total = service.list_entries(
        session=session, party=party, filters=filters, limit=limit, offset=offset
    )
    return EntryPage(
        items=[EntryPublic.of(e) for e in page], total=total, limit=limit, offset=offset
    )


@router.get("/{entry_id}", response_model=EntryPublic)
def read_entry(entry: VisibleEntry, session: SessionDep) -> EntryPublic:
    """One entry with its full history."""
    return _with_history(session, entry)


@router.post("/{entry_id}/approve", response_model=EntryPublic)
def approve_entry(
    entry_id: EntryIdPath,
    session: SessionDep,
    notify: DecisionNotices,
    _secas: SecasParty,
    actor: CurrentActor,
    body: ApprovalIn | None = None,
) -> EntryPublic:
    """Approve a pending entry (SECAS)."""
    entry = service.get_entry(session=session, entry_id=entry_id)
    service.approve(
        session=session,
        entry=entry,
        actor=actor,
        note=body.note if body else None,
        now=utcnow(),
        notify=notify,
    )
    return _with_history(session, entry)


@router.post("/{entry_id}/reject", response_model=EntryPublic)
def reject_entry(
    entry_id: EntryIdPath,
    body: RejectionIn,
    session: SessionDep,
    notify: DecisionNotices,
    _secas: SecasParty,
    actor: CurrentActor,
) -> EntryPublic:
    """Reject a pending entry with a reason (SECAS)."""
    entry = service.get_entry(session=session, entry_id=entry_id)
    service.reject(
        session=session,
        entry=entry,
        actor=actor,
        reason=body.reason,
        now=utcnow(),
        notify=notify,
    )
    return _with_history(session, entry)


@router.post("/{entry_id}/supplier-confirmation", response_model=EntryPublic)
def confirm_entry(
    entry_id: EntryIdPath,
    body: SupplierConfirmationIn,
    session: SessionDep,
    supplier: SupplierParty,
    actor: CurrentActor,
) -> EntryPublic:
    """A supplier confirms a manufacturer's firmware update."""
    entry = service.visible_entry(session=session, party=supplier, entry_id=entry_id)
    service.confirm_firmware_update(
        session=session, entry=entry, actor=actor, reference=body.reference, now=utcnow()
    )
    return _with_history(session, entry)


@router.post("/{entry_id}/removal", response_model=EntryPublic)
def remove_entry(
    entry_id: EntryIdPath,
    body: RemovalIn,
    session: SessionDep,
    notify: DecisionNotices,
    _secas: SecasParty,
    actor: CurrentActor,
) -> EntryPublic:
    """Record the Panel's removal of an Active entry (SECAS)."""
    entry = service.get_entry(session=session, entry_id=entry_id)
    service.remove(
        session=session,
        entry=entry,
        actor=actor,
        status=EntryStatus(body.status),
        panel_decision_ref=body.panel_decision_ref,
        reason=body.reason,
        now=utcnow(),
        notify=notify,
    )
    return _with_history(session, entry)
