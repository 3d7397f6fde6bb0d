"""The Assurance Certificate register for SECAS: search, one certificate, revoke it.

Revoking calls the API's service (`entries.reliance.revoke_certificate`), which flags every
Active entry relying on the certificate as removal proposed; the certificate's page then
lists those entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from cpl_service.api.deps import SessionDep
from cpl_service.api.params import IdPath, Offset
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.certificates.service import certificate_kind, get_certificate_by_id
from cpl_service.clock import today, utcnow
from cpl_service.devices import CertificateKind
from cpl_service.entries import reliance
from cpl_service.entries.models import EntryStatus
from cpl_service.errors import InvalidInputError
from cpl_service.notices.standing import certificate_standing
from cpl_service.web.deps import CheckedForm, SecasPerson
from cpl_service.web.pages import PageRoute, redirect, render

router = APIRouter(route_class=PageRoute)

CERTIFICATES_PER_PAGE = 50
KINDS = tuple(k.value for k in CertificateKind)
STATUSES = tuple(s.value for s in CertificateStatus)


def _status(value: str | None) -> CertificateStatus | None:
    if not value:
        return None
    try:
        return CertificateStatus(value)
    except ValueError:
        raise InvalidInputError(
            f"Unknown certificate status {value!r}; use {' or '.join(STATUSES)}."
        ) from None


@router.get("/certificates")
def certificate_register(
    request: Request,
    session: SessionDep,
    _secas: SecasPerson,
    number: Annotated[str, Query(max_length=100)] = "",
    kind: Annotated[str, Query(max_length=10)] = "",
    status: Annotated[str, Query(max_length=10)] = "",
    offset: Offset = 0,
) -> Response:
    as_of = today()
    views, total = reliance.list_certificates(
        session=session,
        expiring_within_days=None,
        kind=certificate_kind(kind).value if kind else None,
        limit=CERTIFICATES_PER_PAGE,
        offset=offset,
        today=as_of,
        number_contains=number.strip() or None,
        status=_status(status),
    )
    rows = [
        (
            view,
            certificate_standing(
                kind=view.certificate.kind,
                number=view.certificate.number,
                certificate=view.certificate,
                as_of=as_of,
            ),
        )
        for view in views
    ]
    context = {
        "rows": rows,
        "total": total,
        "offset": offset,
        "limit": CERTIFICATES_PER_PAGE,
        "filters": {"number": number.strip(), "kind": kind, "status": status},
        "kinds": KINDS,
        "statuses": STATUSES,
    }
    return render(request, "certificates.html", context)


def _certificate_page(
    request: Request,
    session: SessionDep,
    certificate: AssuranceCertificate,
    *,
    revoked: int | None = None,
    error: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    relying = reliance.relying_entries(session=session, certificate=certificate)
    flagged = [e for e in relying if e.status == EntryStatus.ACTIVE and e.removal_proposed]
    context: Mapping[str, object] = {
        "certificate": certificate,
        "standing": certificate_standing(
            kind=certificate.kind,
            number=certificate.number,
            certificate=certificate,
            as_of=today(),
        ),
        "relying": relying,
        "flagged": flagged,
        "revoked": revoked,
        "error": error,
        "reason": reason,
    }
    return render(request, "certificate.html", context, status_code=status_code)


@router.get("/certificates/{certificate_id}")
def certificate_page(
    request: Request,
    certificate_id: IdPath,
    session: SessionDep,
    _secas: SecasPerson,
    revoked: Annotated[int | None, Query(ge=0, le=10**9)] = None,
) -> Response:
    certificate = get_certificate_by_id(session=session, certificate_id=certificate_id)
    return _certificate_page(request, session, certificate, revoked=revoked)


@router.post("/certificates/{certificate_id}/revoke")
def revoke_certificate(
    request: Request,
    certificate_id: IdPath,
    _form: CheckedForm,
    session: SessionDep,
    person: SecasPerson,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    certificate = get_certificate_by_id(session=session, certificate_id=certificate_id)
    try:
        _view, flagged = reliance.revoke_certificate(
            session=session,
            kind=certificate.kind,
            number=certificate.number,
            reason=reason,
            actor=person.actor,
            now=utcnow(),
        )
    except InvalidInputError as exc:
        return _certificate_page(
            request, session, certificate, error=exc.detail, reason=reason, status_code=422
        )
    return redirect(f"/certificates/{certificate_id}?revoked={len(flagged)}")
