"""The Assurance Certificate register (SECAS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cpl_service.api.deps import SecasParty, SessionDep
from cpl_service.api.params import Offset
from cpl_service.api.schemas import (
    CertificatePage,
    CertificatePublic,
    ConditionalClearanceIn,
    RenewalIn,
    RevocationIn,
    RevocationOut,
)
from cpl_service.clock import today, utcnow
from cpl_service.entries import reliance
from cpl_service.parties.models import Actor

router = APIRouter(prefix="/certificates", tags=["certificates"])


def _public(view: reliance.CertificateView) -> CertificatePublic:
    certificate = view.certificate
    assert certificate.id is not None
    end = certificate.end
    return CertificatePublic(
        id=certificate.id,
        kind=certificate.kind,
        number=certificate.number,
        cpa_certificate_type=certificate.cpa_certificate_type,
        cpa_expiry_date=certificate.cpa_expiry_date,
        cpa_renewal_date=certificate.cpa_renewal_date,
        cpa_conditional_date=certificate.cpa_conditional_date,
        end_date=end.day if end else None,
        end_date_kind=end.kind.value if end else None,
        status=certificate.status,
        revoked_at=certificate.revoked_at,
        revocation_reason=certificate.revocation_reason,
        entry_ids=view.entry_ids,
    )


@router.get("", response_model=CertificatePage)
def list_certificates(
    session: SessionDep,
    _secas: SecasParty,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
    kind: Annotated[str | None, Query(max_length=10)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> CertificatePage:
    """Every certificate with the entries relying on it; optionally only those ending soon."""
    views, total = reliance.list_certificates(
        session=session,
        expiring_within_days=expiring_within_days,
        kind=kind,
        limit=limit,
        offset=offset,
        today=today(),
    )
    return CertificatePage(
        items=[_public(v) for v in views],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/revocations", response_model=RevocationOut)
def revoke_certificate(body: RevocationIn, session: SessionDep, secas: SecasParty) -> RevocationOut:
    """Revoke a certificate; every Active entry relying on it becomes removal proposed."""
    view, flagged = reliance.revoke_certificate(
        session=session,
        kind=body.kind,
        number=body.number,
        reason=body.reason,
        actor=Actor.of(secas),
        now=utcnow(),
    )
    return RevocationOut(certificate=_public(view), removal_proposed=flagged)


@router.post("/cpa/{number}/conditional-clearance", response_model=CertificatePublic)
def clear_conditional_date(
    number: Annotated[str, Path(min_length=1, max_length=100)],
    body: ConditionalClearanceIn,
    session: SessionDep,
    secas: SecasParty,
) -> CertificatePublic:
    """NCSC confirmed the conditions of a conditional CPA certificate: clear its date."""
    view = reliance.clear_conditional_date(
        session=session,
        number=number,
        reference=body.reference,
        actor=Actor.of(secas),
        now=utcnow(),
    )
    return _public(view)


@router.post("/cpa/{number}/renewal", response_model=CertificatePublic)
def record_renewal(
    number: str, body: RenewalIn, session: SessionDep, secas: SecasParty
) -> CertificatePublic:
    """NCSC renewed a lifetime CPA certificate: record its new renewal date."""
    now = utcnow()
    view = reliance.record_renewal(
        session=session,
        number=number,
        renewal_date=body.renewal_date,
        reference=body.reference,
        actor=Actor.of(secas),
        now=now,
    )
    return _public(view)
