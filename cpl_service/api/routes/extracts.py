"""Signed CPL extracts for the DCC, and the signer's certificate chain."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from cpl_service.api.deps import (
    AcknowledgementNotice,
    CurrentActor,
    DccOrSecasParty,
    DccParty,
    EngineDep,
    HotCache,
    HotCacheDep,
    SecasParty,
    SessionDep,
    SettingsDep,
    SignerDep,
)
from cpl_service.api.encoding import GZIP, accepts_gzip
from cpl_service.api.params import Offset, SequencePath
from cpl_service.clock import utcnow
from cpl_service.extracts import service
from cpl_service.extracts.models import Extract
from cpl_service.notices.service import queue_publication_notice
from cpl_service.signing.listing import SignerListing, list_signers

router = APIRouter(tags=["extracts"])

# Which extract is the newest, remembered this briefly: a newly published extract shows up
# in this process at once (publishing forgets it) and in other processes within a second.
LATEST_KEY = "latest-extract"
LATEST_TTL_SECONDS = 1.0


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
    # The words of DccStatus the DCC may send (extracts.models.ACKNOWLEDGEMENTS); a Literal
    # keeps the schema and the 422 message as they are, and tests/test_statuses.py pins them.
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


@router.post("/extracts", status_code=201, response_model=ExtractPublic)
def publish_extract(
    background: BackgroundTasks,
    engine: EngineDep,
    settings: SettingsDep,
    cache: HotCacheDep,
    secas: SecasParty,
    actor: CurrentActor,
    signer: SignerDep,
) -> ExtractPublic:
    """Publish the next signed extract (SECAS)."""
    extract = service.publish(
        engine=engine,
        settings=settings,
        signer=signer.signer,
        publisher=secas,
        now=utcnow(),
        notify=partial(queue_publication_notice, settings=settings),
        actor=actor,
    )
    cache.forget(LATEST_KEY)
    # After the answer is sent: the gzip body, compressed once and stored.
    background.add_task(service.store_gzip, engine=engine, sequence=extract.sequence)
    return _public(extract, settings.extract_ack_hours)


@router.get("/extracts", response_model=ExtractPage)
def list_extracts(
    session: SessionDep,
    settings: SettingsDep,
    _caller: DccOrSecasParty,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
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


async def _newest(
    engine: Engine, cache: HotCache
) -> tuple[service.ExtractRef, service.StoredPayload]:
    """The newest extract and its payload, from memory while they are fresh."""
    remembered: service.ExtractRef | None = cache.get(LATEST_KEY)
    held = service.cached_payload(remembered) if remembered else None
    if remembered is not None and held is not None:
        return remembered, held
    ref, payload = await run_in_threadpool(service.latest_with_payload, engine)
    cache.put(LATEST_KEY, ref, LATEST_TTL_SECONDS)
    return ref, payload


@router.get("/extracts/latest")
async def latest_extract(
    request: Request,
    _caller: DccOrSecasParty,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """The newest extract's payload, as signed (polled: kept cheap; gzipped if accepted)."""
    ref, payload = await _newest(request.app.state.engine, request.app.state.hot_cache)
    return _payload_response(ref, payload, if_none_match, accept_encoding)


@router.get("/extracts/{sequence}")
def extract_payload(
    sequence: SequencePath,
    session: SessionDep,
    _caller: DccOrSecasParty,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """An extract's payload, byte for byte as signed (gzipped if the client accepts it)."""
    ref = service.extract_ref(session, sequence)
    return _payload_response(ref, service.payload_of(session, ref), if_none_match, accept_encoding)


@router.get("/extracts/{sequence}/signature")
def extract_signature(
    sequence: SequencePath, session: SessionDep, _caller: DccOrSecasParty
) -> Response:
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
    sequence: SequencePath,
    body: AcknowledgementIn,
    session: SessionDep,
    settings: SettingsDep,
    notify: AcknowledgementNotice,
    _dcc: DccParty,
    actor: CurrentActor,
) -> ExtractPublic:
    """The DCC reports the extract loaded into the SMI, or rejected."""
    extract = service.acknowledge(
        session=session,
        sequence=sequence,
        status=body.status,
        detail=body.detail,
        now=utcnow(),
        notify=notify,
        actor=actor,
    )
    return _public(extract, settings.extract_ack_hours)


class SignersOut(BaseModel):
    signers: list[SignerListing]


@router.get(
    "/signing/certificates",
    responses={200: {"content": {"application/pem-certificate-chain": {}, "application/json": {}}}},
)
def signing_certificates(
    signer: SignerDep,
    accept: Annotated[str | None, Header()] = None,
    format_: Annotated[Literal["pem", "json"] | None, Query(alias="format")] = None,
) -> Response:
    """The signer's certificate chain (PEM), to verify extracts with.

    With `Accept: application/json` or `?format=json`: every signer, the current one first,
    then earlier ones still valid for verifying older extracts (a rotation).
    """
    wants_json = format_ == "json" or (
        format_ is None and accept is not None and "application/json" in accept
    )
    if not wants_json:
        return Response(signer.chain_pem, media_type="application/pem-certificate-chain")
    body = SignersOut(signers=list_signers(signer))
    return Response(body.model_dump_json(), media_type="application/json")
