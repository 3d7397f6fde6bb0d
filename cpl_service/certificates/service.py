"""The certificate register: listing, revocation and clearing conditional dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.clock import utcnow
from cpl_service.db import update_one
from cpl_service.devices import CertificateKind
from cpl_service.entries.models import Entry
from cpl_service.entries.service import Actor, annotate
from cpl_service.entries.workflow import EntryStatus
from cpl_service.errors import ConflictError, InvalidInputError, NotFoundError
from cpl_service.parties import audit

NUMBER_COLUMN = {
    CertificateKind.ZIGBEE.value: "zigbee_certificate_number",
    CertificateKind.DLMS.value: "dlms_certificate_number",
    CertificateKind.CPA.value: "cpa_certificate_number",
}


@dataclass(frozen=True)
class CertificateView:
    certificate: AssuranceCertificate
    entry_ids: list[str]


def _relying(session: Session, certificate: AssuranceCertificate) -> list[Entry]:
    column = getattr(Entry, NUMBER_COLUMN[certificate.kind])
    return list(
        session.exec(
            select(Entry).where(column == certificate.number).order_by(col(Entry.id))
        ).all()
    )


def relying_entry_ids(session: Session, certificate: AssuranceCertificate) -> list[str]:
    return [e.entry_id for e in _relying(session, certificate)]


def list_certificates(
    *,
    session: Session,
    expiring_within_days: int | None,
    kind: str | None,
    limit: int,
    offset: int,
    today: date,
) -> tuple[list[CertificateView], int]:
    """Register entries, optionally only CPA certificates ending within N days."""
    query = select(AssuranceCertificate)
    if kind:
        query = query.where(col(AssuranceCertificate.kind) == _kind(kind))
    if expiring_within_days is not None:
        if expiring_within_days < 0:
            raise InvalidInputError("expiring_within_days cannot be negative.")
        horizon = today + timedelta(days=expiring_within_days)
        query = query.where(
            col(AssuranceCertificate.kind) == CertificateKind.CPA.value,
            col(AssuranceCertificate.status) == "valid",
            (col(AssuranceCertificate.cpa_expiry_date) <= horizon)
            | (col(AssuranceCertificate.cpa_conditional_date) <= horizon),
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = session.exec(
        query.order_by(col(AssuranceCertificate.kind), col(AssuranceCertificate.number))
        .limit(limit)
        .offset(offset)
    ).all()
    relying = _relying_ids(session, page)
    views = [CertificateView(c, relying.get((c.kind, c.number), [])) for c in page]
    return views, int(total)


def _relying_ids(
    session: Session, certificates: Sequence[AssuranceCertificate]
) -> dict[tuple[str, str], list[str]]:
    """Entry IDs relying on each certificate of a page: one query per kind, not per row."""
    found: dict[tuple[str, str], list[str]] = {}
    for kind, column_name in NUMBER_COLUMN.items():
        numbers = [c.number for c in certificates if c.kind == kind]
        if not numbers:
            continue
        column = getattr(Entry, column_name)
        rows = session.exec(
            select(column, Entry.entry_id).where(column.in_(numbers)).order_by(col(Entry.id))
        ).all()
        for number, entry_id in rows:
            found.setdefault((kind, number), []).append(entry_id)
    return found


def _kind(kind: str) -> str:
    for k in CertificateKind:
        if k.value.lower() == kind.strip().lower():
            return k.value
    raise InvalidInputError(f"Unknown certificate kind {kind!r}; use ZigBee, DLMS or CPA.")


def get_certificate(*, session: Session, kind: str, number: str) -> AssuranceCertificate:
    certificate = session.exec(
        select(AssuranceCertificate).where(
            AssuranceCertificate.kind == _kind(kind),
            AssuranceCertificate.number == number.strip(),
        )
    ).first()
    if certificate is None:
        raise NotFoundError(f"There is no {kind} certificate {number!r} in the register.")
    return certificate


def revoke(
    *, session: Session, kind: str, number: str, reason: str, actor: Actor
) -> tuple[AssuranceCertificate, list[str]]:
    """Mark a certificate revoked and flag every Active entry relying on it.

    The entries stay Active until the Panel's removal decision is recorded.
    Returns the certificate and the entry IDs flagged as removal proposed.
    """
    if not reason.strip():
        raise InvalidInputError("A revocation needs a reason.")
    certificate = get_certificate(session=session, kind=kind, number=number)
    now = utcnow()
    guarded = (
        update(AssuranceCertificate)
        .where(
            col(AssuranceCertificate.id) == certificate.id,
            col(AssuranceCertificate.status) == "valid",
        )
        .values(status="revoked", revoked_at=now, revocation_reason=reason.strip())
    )
    if not update_one(session, guarded):
        session.rollback()
        raise ConflictError(
            f"{certificate.kind} certificate {certificate.number} is already revoked."
        )
    flagged: list[str] = []
    for entry in _relying(session, certificate):
        if entry.status != EntryStatus.ACTIVE.value:
            continue
        annotate(
            session=session,
            entry=entry,
            action="removal_proposed",
            actor=actor,
            at=now,
            reason=f"{certificate.kind} certificate {certificate.number} revoked: {reason.strip()}",
            removal_proposed=True,
        )
        flagged.append(entry.entry_id)
    audit.record(
        session=session,
        kind=audit.AuditKind.CERTIFICATE_REVOKED,
        actor=actor,
        subject=f"{certificate.kind} certificate {certificate.number}",
        detail=reason.strip(),
        at=now,
    )
    session.commit()
    session.refresh(certificate)
    return certificate, flagged


def clear_conditional_date(
    *, session: Session, number: str, reference: str, actor: Actor
) -> AssuranceCertificate:
    """NCSC confirmed a conditional CPA certificate's conditions were met: drop the date.

    Entries relying on it get the change recorded in their history.
    """
    if not reference.strip():
        raise InvalidInputError(
            "Clearing a conditional date needs a reference to NCSC's confirmation."
        )
    certificate = get_certificate(session=session, kind=CertificateKind.CPA.value, number=number)
    if certificate.cpa_conditional_date is None:
        raise ConflictError(f"CPA certificate {certificate.number} has no conditional date.")
    if certificate.status == "revoked":
        raise ConflictError(f"CPA certificate {certificate.number} is revoked.")
    now = utcnow()
    old = certificate.cpa_conditional_date
    certificate.cpa_conditional_date = None
    session.add(certificate)
    for entry in _relying(session, certificate):
        annotate(
            session=session,
            entry=entry,
            action="conditional_date_cleared",
            actor=actor,
            at=now,
            reason=f"CPA certificate {certificate.number}: conditional date {old.isoformat()} "
            f"cleared ({reference.strip()})",
            cpa_conditional_date=None,
        )
    session.commit()
    session.refresh(certificate)
    return certificate
