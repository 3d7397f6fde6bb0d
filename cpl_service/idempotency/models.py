"""One row per (party, Idempotency-Key): the request it was first used for and its answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from cpl_service.clock import utcnow
from cpl_service.db import UTCDateTime

MAX_KEY_LENGTH = 200


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("party_id", "key", name="uq_idempotency_party_key"),)

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="party.id")
    key: str = Field(max_length=MAX_KEY_LENGTH)
    request_sha256: str = Field(max_length=64)
    # None while the first request is still being answered (or died before it was).
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=200)
    body: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
