"""The Assurance Certificate register (SECAS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cpl_service.api.deps import CurrentActor, SecasParty, SessionDep
from cpl_service.api.schemas import (
    CertificatePage,
    CertificatePublic,
    ConditionalClearanceIn,
    RevocationIn,
    RevocationOut,
)
from cpl_service.certificates import service
from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.clock import today

router = APIRouter(prefix="/certificates", tags=["certificates"])


def _public(certificate: AssuranceCertificate, entry_ids: list[str]) -> CertificatePublic:
    assert certificate.id is not None
    return CertificatePublic(
        id=certificate.id,
        kind=certificate.kind,
        number=certificate.number,
        cpa_expiry_date=certificate.cpa_expiry_date,
        cpa_conditional_date=certificate.cpa_conditional_date,
        end_date=certificate.end_date,
        status=certificate.status,
        revoked_at=certificate.revoked_at,
        revocation_reason=certificate.revocation_reason,
        entry_ids=entry_ids,
    )


@router.get("", response_model=CertificatePage)
def list_certificates(
    session: SessionDep,
    _secas: SecasParty,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
    kind: Annotated[str | None, Query(max_length=10)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CertificatePage:
    """Every certificate with the entries relying on it; optionally only those ending soon."""
    views, total = service.list_certificates(
        session=session,
        expiring_within_days=expiring_within_days,
        kind=kind,
        limit=limit,
        offset=offset,
        today=today(),
    )
    return CertificatePage(
        items=[_public(v.certificate, v.entry_ids) for v in views],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/revocations", response_model=RevocationOut)
def revoke_certificate(
    body: RevocationIn, session: SessionDep, _secas: SecasParty, actor: CurrentActor
) -> RevocationOut:
    """Revoke a certificate; every Active entry relying on it becomes removal proposed."""
    certificate, flagged = service.revoke(
        session=session,
        kind=body.kind,
        number=body.number,
        reason=body.reason,
        actor=actor,
    )
    return RevocationOut(
        certificate=_public(certificate, service.relying_entry_ids(session, certificate)),
        removal_proposed=flagged,
    )


@router.post("/cpa/{number}/conditional-clearance", response_model=CertificatePublic)
def clear_conditional_date(
    number: str,
    body: ConditionalClearanceIn,
    session: SessionDep,
    _secas: SecasParty,
    actor: CurrentActor,
) -> CertificatePublic:
    """NCSC confirmed the conditions of a conditional CPA certificate: clear its date."""
    certificate = service.clear_conditional_date(
        session=session, number=number, reference=body.reference, actor=actor
    )
    return _public(certificate, service.relying_entry_ids(session, certificate))
