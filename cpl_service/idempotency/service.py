"""Reserve a key before acting, record the answer after: never the same action twice."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cpl_service.clock import utcnow
from cpl_service.errors import ConflictError, InvalidInputError
from cpl_service.idempotency.models import MAX_KEY_LENGTH, IdempotencyRecord


class Outcome(StrEnum):
    RESERVED = "reserved"  # first use of the key: act, then record the answer
    REPLAY = "replay"  # the same request was answered before: answer that again


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    record: IdempotencyRecord


def check_key(key: str) -> str:
    """`key` if it is 1 to 200 visible ASCII characters; InvalidInputError otherwise."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all("!" <= c <= "~" for c in key):
        raise InvalidInputError(
            f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID."
        )
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body, byte for byte."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def claim(*, session: Session, party_id: int, key: str, request_sha256: str) -> Claim:
    """Reserve `key` for this request, or find the answer to its first use.

    Raises:
        InvalidInputError: the key was first used for a different request.
        ConflictError: the first request with this key has no recorded answer: it is still
            running, or the server stopped before answering it.
    """
    check_key(key)
    record = IdempotencyRecord(party_id=party_id, key=key, request_sha256=request_sha256)
    session.add(record)
    try:
        session.commit()
        return Claim(Outcome.RESERVED, record)
    except IntegrityError:
        session.rollback()
    existing = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.party_id == party_id, IdempotencyRecord.key == key
        )
    ).one()
    if existing.request_sha256 != request_sha256:
        raise InvalidInputError(
            "This Idempotency-Key was already used for a different request; use a new key "
            "for a new request.",
        )
    if existing.status_code is None:
        raise ConflictError(
            "The first request with this Idempotency-Key has no recorded answer yet: it is "
            "still running, or the service stopped before answering it. Look at the resource "
            "(for example GET /api/v1/extracts) before acting again with a new key."
        )
    return Claim(Outcome.REPLAY, existing)


def complete(
    *, session: Session, record_id: int, status_code: int, content_type: str, body: bytes
) -> None:
    """Record the answer to the request that reserved the key."""
    session.execute(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.id) == record_id)
        .values(
            status_code=status_code, content_type=content_type, body=body, completed_at=utcnow()
        )
    )
    session.commit()


def release(*, session: Session, record_id: int) -> None:
    """Forget a reservation whose request failed unexpectedly, so a retry may act."""
    session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id))
    session.commit()
