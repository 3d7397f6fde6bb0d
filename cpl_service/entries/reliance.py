"""Entries and the certificates they rely on.

Which entries rely on a certificate, and what revoking it or clearing its conditional
date does to them: both are changes to entries, recorded in their histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from cpl_service.certificates import service as register
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.devices import CertificateKind
from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.entries.service import annotate
from cpl_service.errors import InvalidInputError
from cpl_service.parties import audit
from cpl_service.parties.actors import Actor

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


def relying_entries(*, session: Session, certificate: AssuranceCertificate) -> list[Entry]:
    """Every entry naming `certificate`, whatever its status, oldest first."""
    return _relying(session, certificate)


def certificate_view(*, session: Session, certificate: AssuranceCertificate) -> CertificateView:
    """A certificate with the IDs of the entries relying on it."""
    return CertificateView(certificate, [e.entry_id for e in _relying(session, certificate)])


def list_certificates(
    *,
    session: Session,
    expiring_within_days: int | None,
    kind: str | None,
    limit: int,
    offset: int,
    today: date,
    number_contains: str | None = None,
    status: CertificateStatus | None = None,
) -> tuple[list[CertificateView], int]:
    """A page of the register, each certificate with the entries relying on it."""
    page, total = register.list_certificates(
        session=session,
        expiring_within_days=expiring_within_days,
        kind=kind,
        limit=limit,
        offset=offset,
        today=today,
        number_contains=number_contains,
        status=status,
    )
    relying = _relying_ids(session, page)
    return [CertificateView(c, relying.get((c.kind, c.number), [])) for c in page], total


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


def revoke_certificate(
    *, session: Session, kind: str, number: str, reason: str, actor: Actor, now: datetime
) -> tuple[CertificateView, list[str]]:
    """Mark a certificate revoked and flag every Active entry relying on it.

    The entries stay Active until the Panel's removal decision is recorded.
    Returns the certificate and the entry IDs flagged as removal proposed.
    """
    if not reason.strip():
        raise InvalidInputError("A revocation needs a reason.")
    certificate = register.get_certificate(session=session, kind=kind, number=number)
    register.mark_revoked(session=session, certificate=certificate, reason=reason.strip(), now=now)
    flagged: list[str] = []
    for entry in _relying(session, certificate):
        if entry.status != EntryStatus.ACTIVE:
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
    return certificate_view(session=session, certificate=certificate), flagged


def clear_conditional_date(
    *, session: Session, number: str, reference: str, actor: Actor, now: datetime
) -> CertificateView:
    """NCSC confirmed a conditional CPA certificate's conditions were met: drop the date.

    Entries relying on it get the change recorded in their history.
    """
    if not reference.strip():
        raise InvalidInputError(
            "Clearing a conditional date needs a reference to NCSC's confirmation."
        )
    certificate = register.get_certificate(
        session=session, kind=CertificateKind.CPA.value, number=number
    )
    old = register.drop_conditional_date(session=session, certificate=certificate)
    return _record_on_relying(
        session=session,
        certificate=certificate,
        action="conditional_date_cleared",
        actor=actor,
        now=now,
        reason=f"CPA certificate {certificate.number}: conditional date {old.isoformat()} "
        f"cleared ({reference.strip()})",
        cpa_conditional_date=None,
    )


def _record_on_relying(
    *,
    session: Session,
    certificate: AssuranceCertificate,
    action: str,
    actor: Actor,
    now: datetime,
    reason: str,
    **changes: Any,
) -> CertificateView:
    """Apply a certificate change to every entry relying on it, with an event each; commit."""
    for entry in _relying(session, certificate):
        annotate(
            session=session,
            entry=entry,
            action=action,
            actor=actor,
            at=now,
            reason=reason,
            **changes,
        )
    session.commit()
    session.refresh(certificate)
    return certificate_view(session=session, certificate=certificate)


def record_renewal(
    *,
    session: Session,
    number: str,
    renewal_date: date,
    reference: str,
    actor: Actor,
    now: datetime,
) -> CertificateView:
    """NCSC renewed a lifetime CPA certificate: record its new renewal date.

    Every entry relying on it gets the new date and the change in its history; the CPA
    notices re-arm for the new end (they are keyed by the end date they announce).

    Raises:
        InvalidInputError: no reference, or a renewal date not after today.
        NotFoundError: no such CPA certificate.
        ConflictError: the certificate is fixed-term, revoked, or already has that date.
    """
    if not reference.strip():
        raise InvalidInputError("A renewal needs a reference to NCSC's renewal.")
    certificate = register.get_certificate(
        session=session, kind=CertificateKind.CPA.value, number=number
    )
    old = register.set_renewal_date(
        session=session, certificate=certificate, renewal_date=renewal_date, today=now.date()
    )
    was = f"renewal date {old.isoformat()}" if old else "no renewal date"
    return _record_on_relying(
        session=session,
        certificate=certificate,
        action="cpa_renewed",
        actor=actor,
        now=now,
        reason=f"CPA certificate {certificate.number} renewed: {was} became "
        f"{renewal_date.isoformat()} ({reference.strip()})",
        cpa_renewal_date=renewal_date,
    )
