"""The certificate register: finding, listing, revoking and clearing conditions.

The register knows nothing of the entries relying on a certificate; what a revocation
or a cleared condition does to them is `entries.reliance`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from cpl_service.batches import batches
from cpl_service.certificates.cpa import CpaCertificateType
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.db import update_one
from cpl_service.devices import CertificateKind
from cpl_service.errors import ConflictError, InvalidInputError, NotFoundError


def certificate_kind(kind: str) -> CertificateKind:
    """The kind named by `kind`, case ignored; 422 for anything else."""
    for k in CertificateKind:
        if k.value.lower() == kind.strip().lower():
            return k
    raise InvalidInputError(f"Unknown certificate kind {kind!r}; use ZigBee, DLMS or CPA.")


def find_certificate(
    *, session: Session, kind: CertificateKind, number: str
) -> AssuranceCertificate | None:
    return session.exec(
        select(AssuranceCertificate).where(
            AssuranceCertificate.kind == kind.value, AssuranceCertificate.number == number
        )
    ).first()


def get_certificate(*, session: Session, kind: str, number: str) -> AssuranceCertificate:
    certificate = find_certificate(
        session=session, kind=certificate_kind(kind), number=number.strip()
    )
    if certificate is None:
        raise NotFoundError(f"There is no {kind} certificate {number!r} in the register.")
    return certificate


def get_certificate_by_id(*, session: Session, certificate_id: int) -> AssuranceCertificate:
    certificate = session.get(AssuranceCertificate, certificate_id)
    if certificate is None:
        raise NotFoundError(f"There is no certificate {certificate_id} in the register.")
    return certificate


def certificates_named(
    *, session: Session, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], AssuranceCertificate]:
    """(kind, number) -> the register's certificate, for those of `pairs` it holds."""
    found: dict[tuple[str, str], AssuranceCertificate] = {}
    for kind in sorted({k for k, _ in pairs}):
        numbers = sorted({n for k, n in pairs if k == kind})
        for batch in batches(numbers):
            rows = session.exec(
                select(AssuranceCertificate).where(
                    col(AssuranceCertificate.kind) == kind,
                    col(AssuranceCertificate.number).in_(batch),
                )
            ).all()
            found.update(((c.kind, c.number), c) for c in rows)
    return found


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
) -> tuple[list[AssuranceCertificate], int]:
    """Register entries, optionally only CPA certificates ending within N days.

    `number_contains` keeps the certificates whose number contains it (case ignored);
    `status` those valid or revoked.
    """
    query = select(AssuranceCertificate)
    if kind:
        query = query.where(col(AssuranceCertificate.kind) == certificate_kind(kind).value)
    if number_contains and number_contains.strip():
        query = query.where(
            func.lower(col(AssuranceCertificate.number)).contains(
                number_contains.strip().lower(), autoescape=True
            )
        )
    if status is not None:
        query = query.where(col(AssuranceCertificate.status) == status)
    if expiring_within_days is not None:
        if expiring_within_days < 0:
            raise InvalidInputError("expiring_within_days cannot be negative.")
        horizon = today + timedelta(days=expiring_within_days)
        query = query.where(
            col(AssuranceCertificate.kind) == CertificateKind.CPA.value,
            col(AssuranceCertificate.status) == CertificateStatus.VALID,
            (col(AssuranceCertificate.cpa_expiry_date) <= horizon)
            | (col(AssuranceCertificate.cpa_renewal_date) <= horizon)
            | (col(AssuranceCertificate.cpa_conditional_date) <= horizon),
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = session.exec(
        query.order_by(col(AssuranceCertificate.kind), col(AssuranceCertificate.number))
        .limit(limit)
        .offset(offset)
    ).all()
    return list(page), int(total)


def mark_revoked(
    *, session: Session, certificate: AssuranceCertificate, reason: str, now: datetime
) -> None:
    """Record a certificate as revoked, once; 409 if it already is. The caller commits."""
    guarded = (
        update(AssuranceCertificate)
        .where(
            col(AssuranceCertificate.id) == certificate.id,
            col(AssuranceCertificate.status) == CertificateStatus.VALID,
        )
        .values(status=CertificateStatus.REVOKED, revoked_at=now, revocation_reason=reason)
    )
    if not update_one(session, guarded):
        session.rollback()
        raise ConflictError(
            f"{certificate.kind} certificate {certificate.number} is already revoked."
        )


def drop_conditional_date(*, session: Session, certificate: AssuranceCertificate) -> date:
    """Clear a CPA certificate's conditional date; returns the date it had. The caller commits."""
    old = certificate.cpa_conditional_date
    if old is None:
        raise ConflictError(f"CPA certificate {certificate.number} has no conditional date.")
    if certificate.status == CertificateStatus.REVOKED:
        raise ConflictError(f"CPA certificate {certificate.number} is revoked.")
    certificate.cpa_conditional_date = None
    session.add(certificate)
    return old


def set_renewal_date(
    *, session: Session, certificate: AssuranceCertificate, renewal_date: date, today: date
) -> date | None:
    """Record a lifetime CPA certificate's new renewal date; returns the date it had.

    A fixed-term certificate has no renewal date (NCSC issues a new certificate, under a new
    number, with a new expiry date), so it is refused. The caller commits.

    Raises:
        InvalidInputError: a renewal date not after `today`.
        ConflictError: the certificate is fixed-term, revoked, or already has that date.
    """
    if renewal_date <= today:
        raise InvalidInputError(
            f"The new renewal date {renewal_date.isoformat()} must be after today "
            f"({today.isoformat()})."
        )
    if certificate.cpa_certificate_type != CpaCertificateType.LIFETIME:
        raise ConflictError(
            f"CPA certificate {certificate.number} is a Fixed-term certificate: it has an "
            "expiry date, not a renewal date. A renewed fixed-term certificate is a new "
            "certificate; submit the Device Models with its number and expiry date."
        )
    if certificate.status == CertificateStatus.REVOKED:
        raise ConflictError(f"CPA certificate {certificate.number} is revoked.")
    old = certificate.cpa_renewal_date
    if old == renewal_date:
        raise ConflictError(
            f"CPA certificate {certificate.number} already has renewal date "
            f"{renewal_date.isoformat()}."
        )
    certificate.cpa_renewal_date = renewal_date
    session.add(certificate)
    return old
