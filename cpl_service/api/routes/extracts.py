"""Signed CPL extracts for the DCC, and the signer's certificate chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from cpl_service.api.deps import (
    BearerCredentials,
    DccOrSecasParty,
    DccParty,
    EngineDep,
    SecasParty,
    SessionDep,
    SettingsDep,
    authenticate,
    check_role,
    check_role_name,
)
from cpl_service.api.encoding import GZIP, accepts_gzip
from cpl_service.api.hot_cache import LATEST_TTL_SECONDS, ROLE_TTL_SECONDS, HotCache
from cpl_service.clock import utcnow
from cpl_service.errors import NotFoundError
from cpl_service.extracts import service
from cpl_service.extracts.models import Extract
from cpl_service.parties.models import Role
from cpl_service.parties.service import hash_token
from cpl_service.signing.config import LoadedSigner

router = APIRouter(tags=["extracts"])


class ExtractPublic(BaseModel):
    sequence: int
    issued_at: datetime
    next_update: datetime
    sha256: str
    previous_sha256: str | None
    entry_count: int
    change_count: int
    dcc_status: str
    acknowledged_at: datetime | None
    acknowledgement_detail: str | None


class ExtractPage(BaseModel):
    items: list[ExtractPublic]
    total: int
    limit: int
    offset: int


class AcknowledgementIn(BaseModel):
    status: Literal["loaded", "rejected"]
    detail: str | None = Field(default=None, max_length=2000)


def _public(extract: Extract, ack_hours: int) -> ExtractPublic:
    return ExtractPublic(
        sequence=extract.sequence,
        issued_at=extract.issued_at,
        next_update=extract.next_update,
        sha256=extract.sha256,
        previous_sha256=extract.previous_sha256,
        entry_count=extract.entry_count,
        change_count=extract.change_count,
        dcc_status=service.dcc_status(extract, now=utcnow(), ack_hours=ack_hours),
        acknowledged_at=extract.acknowledged_at,
        acknowledgement_detail=extract.acknowledgement_detail,
    )


def loaded_signer(request: Request) -> LoadedSigner:
    from cpl_service.startup import signer_for

    return signer_for(request.app)


@router.post("/extracts", status_code=201, response_model=ExtractPublic)
def publish_extract(
    request: Request,
    background: BackgroundTasks,
    engine: EngineDep,
    settings: SettingsDep,
    secas: SecasParty,
) -> ExtractPublic:
    """Publish the next signed extract (SECAS)."""
    extract = service.publish(
        engine=engine, settings=settings, signer=loaded_signer(request).signer, publisher=secas
    )
    request.app.state.hot_cache.forget("latest")
    # After the answer is sent: the gzip body, compressed once and stored.
    background.add_task(service.store_gzip, engine=engine, sequence=extract.sequence)
    return _public(extract, settings.extract_ack_hours)


@router.get("/extracts", response_model=ExtractPage)
def list_extracts(
    session: SessionDep,
    settings: SettingsDep,
    _caller: DccOrSecasParty,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ExtractPage:
    """Every published extract, newest first, with the DCC's load status."""
    page, total = service.list_extracts(session=session, limit=limit, offset=offset)
    return ExtractPage(
        items=[_public(e, settings.extract_ack_hours) for e in page],
        total=total,
        limit=limit,
        offset=offset,
    )


def _payload_response(
    ref: service.ExtractRef,
    payload: service.StoredPayload,
    if_none_match: str | None,
    accept_encoding: str | None,
) -> Response:
    """The payload as signed, or gzipped (compressed at publication) if the client accepts
    it; each form has its own ETag, and the gzip body decodes to exactly the signed bytes."""
    compressed = accepts_gzip(accept_encoding)
    etag = f'"{ref.sha256}-gzip"' if compressed else f'"{ref.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=0, must-revalidate",
        "Vary": "Accept-Encoding",
        "X-CPL-Sequence": str(ref.sequence),
    }
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    if compressed:
        headers["Content-Encoding"] = GZIP
        return Response(payload.gzip, media_type="application/json", headers=headers)
    return Response(payload.identity, media_type="application/json", headers=headers)


@router.get("/extracts/latest")
async def latest_extract(
    request: Request,
    credentials: BearerCredentials,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """The newest extract's payload, byte for byte as signed (gzipped if accepted)."""
    cache: HotCache = request.app.state.hot_cache
    token_hash = hash_token(credentials.credentials) if credentials else None
    answer = _latest_from_cache(cache, token_hash)
    if answer is None:
        answer = await run_in_threadpool(_look_up_latest, request.app.state.engine, credentials)
        cache.put(("role", token_hash), answer[0], ROLE_TTL_SECONDS)
        cache.put("latest", answer[1], LATEST_TTL_SECONDS)
    role, ref, payload = answer
    check_role_name(role, (Role.DCC, Role.SECAS))
    return _payload_response(ref, payload, if_none_match, accept_encoding)


def _latest_from_cache(
    cache: HotCache, token_hash: str | None
) -> tuple[str, service.ExtractRef, service.StoredPayload] | None:
    role: str | None = cache.get(("role", token_hash)) if token_hash else None
    ref: service.ExtractRef | None = cache.get("latest")
    payload = service.cached_payload(ref) if ref else None
    if role is None or ref is None or payload is None:
        return None
    return role, ref, payload


def _look_up_latest(
    engine: Engine, credentials: HTTPAuthorizationCredentials | None
) -> tuple[str, service.ExtractRef, service.StoredPayload]:
    # Authentication and the lookup share one trip to the thread pool.
    with Session(engine) as session:
        party = check_role(authenticate(session, credentials), (Role.DCC, Role.SECAS))
        ref = service.latest_ref(session)
        if ref is None:
            raise NotFoundError("No extract has been published yet.")
        return party.role, ref, service.payload_of(session, ref)


@router.get("/extracts/{sequence}")
def extract_payload(
    sequence: int,
    session: SessionDep,
    _caller: DccOrSecasParty,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """An extract's payload, byte for byte as signed (gzipped if the client accepts it)."""
    ref = service.extract_ref(session, sequence)
    return _payload_response(ref, service.payload_of(session, ref), if_none_match, accept_encoding)


@router.get("/extracts/{sequence}/signature")
def extract_signature(sequence: int, session: SessionDep, _caller: DccOrSecasParty) -> Response:
    """The detached CMS signature (DER) over the extract's payload."""
    extract = service.get_extract(session=session, sequence=sequence)
    return Response(
        extract.signature,
        media_type="application/pkcs7-signature",
        headers={
            "Content-Disposition": f'attachment; filename="cpl-extract-{sequence}.p7s"',
            "ETag": f'"{extract.sha256}-sig"',
        },
    )


@router.post("/extracts/{sequence}/acknowledgement", response_model=ExtractPublic)
def acknowledge_extract(
    sequence: int,
    body: AcknowledgementIn,
    session: SessionDep,
    settings: SettingsDep,
    _dcc: DccParty,
) -> ExtractPublic:
    """The DCC reports the extract loaded into the SMI, or rejected."""
    extract = service.acknowledge(
        session=session,
        settings=settings,
        sequence=sequence,
        status=body.status,
        detail=body.detail,
    )
    return _public(extract, settings.extract_ack_hours)


@router.get("/signing/certificates")
def signing_certificates(request: Request) -> Response:
    """The signer's certificate chain (PEM), to verify extracts with."""
    return Response(
        loaded_signer(request).chain_pem, media_type="application/pem-certificate-chain"
    )
