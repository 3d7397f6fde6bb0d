"""`Idempotency-Key` on the actions a client must be able to retry safely.

A client whose connection broke cannot tell whether `POST /extracts` (or an approval, a
rejection, a removal, a revocation) happened. Sent again with the same key and body, the
request answers the first result instead of acting twice; the same key with another body is
a 422. The key is reserved before the action runs, so even a server killed mid-request never
acts twice for one key: the retry then answers 409 and the client looks before acting anew.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpl_service.api.errors import problem_for
from cpl_service.errors import CplError
from cpl_service.idempotency import service
from cpl_service.idempotency.models import IdempotencyRecord
from cpl_service.parties.service import party_for_token

HEADER = b"idempotency-key"
IDEMPOTENT_PATHS = tuple(
    re.compile(pattern)
    for pattern in (
        r"^/api/v1/extracts$",
        r"^/api/v1/entries/[^/]+/(approve|reject|removal)$",
        r"^/api/v1/submissions/[^/]+/(approve|reject)$",
        r"^/api/v1/certificates/revocations$",
    )
)


def takes_idempotency_key(method: str, path: str) -> bool:
    return method == "POST" and any(p.match(path) for p in IDEMPOTENT_PATHS)


def _party_id(engine: Engine, authorization: bytes | None) -> int | None:
    scheme, _, token = (authorization or b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with Session(engine) as session:
        party = party_for_token(session=session, token=token.strip())
        return party.id if party else None


def _claim(engine: Engine, party_id: int, key: str, digest: str) -> service.Claim:
    with Session(engine, expire_on_commit=False) as session:
        return service.claim(session=session, party_id=party_id, key=key, request_sha256=digest)


def _complete(engine: Engine, record_id: int, status: int, content_type: str, body: bytes) -> None:
    with Session(engine) as session:
        service.complete(
            session=session,
            record_id=record_id,
            status_code=status,
            content_type=content_type,
            body=body,
        )


def _release(engine: Engine, record_id: int) -> None:
    with Session(engine) as session:
        service.release(session=session, record_id=record_id)


class IdempotencyKeys:
    """ASGI middleware: answers a repeated keyed request from the record of its first use."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ())) if scope["type"] == "http" else {}
        if HEADER not in headers or not takes_idempotency_key(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        engine: Engine = scope["app"].state.engine
        body, receive = await _buffered(receive)
        party_id = await run_in_threadpool(_party_id, engine, headers.get(b"authorization"))
        if party_id is None:
            await self.app(scope, receive, send)  # the route answers 401
            return
        key = headers[HEADER].decode("latin-1")
        digest = service.fingerprint(scope["method"], scope["path"], body)
        try:
            claim = await run_in_threadpool(_claim, engine, party_id, key, digest)
        except CplError as exc:
            await problem_for(exc)(scope, receive, send)
            return
        record = claim.record
        assert record.id is not None
        if claim.outcome is service.Outcome.REPLAY:
            await _replay(record, send)
            return
        status = 500
        content_type = ""
        chunks: list[bytes] = []

        async def recording_send(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers", ())).get(b"content-type", b"").decode()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except BaseException:
            await run_in_threadpool(_release, engine, record.id)
            raise
        if status >= 500:
            await run_in_threadpool(_release, engine, record.id)
        else:
            await run_in_threadpool(
                _complete, engine, record.id, status, content_type, b"".join(chunks)
            )


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _replay(record: IdempotencyRecord, send: Send) -> None:
    assert record.status_code is not None
    body = record.body or b""
    await send(
        {
            "type": "http.response.start",
            "status": record.status_code,
            "headers": [
                (b"content-type", (record.content_type or "application/json").encode()),
                (b"content-length", str(len(body)).encode()),
                (b"idempotent-replayed", b"true"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
