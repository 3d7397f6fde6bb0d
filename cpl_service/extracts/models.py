"""Published, signed CPL extracts: kept and served unchanged forever."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from cpl_service.db import EnumWord, UTCDateTime


class DccStatus(StrEnum):
    """Whether the DCC loaded an extract into its Smart Metering Inventory (SPEC §5)."""

    PENDING = "pending"
    LOADED = "loaded"
    REJECTED = "rejected"
    # Reported for a pending extract past its acknowledgement window; never stored.
    OVERDUE = "overdue"


# What the DCC may answer, and what `dcc_status` holds once it has.
ACKNOWLEDGEMENTS: frozenset[DccStatus] = frozenset({DccStatus.LOADED, DccStatus.REJECTED})


class Extract(SQLModel, table=True):
    # The primary key is the sequence itself: a second publisher computing the same
    # next number fails on insert and retries, so numbers are never reused or skipped.
    sequence: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    issued_at: datetime = Field(sa_type=UTCDateTime)
    next_update: datetime = Field(sa_type=UTCDateTime)
    sha256: str = Field(max_length=64, unique=True)
    previous_sha256: str | None = Field(default=None, max_length=64)
    entry_count: int
    change_count: int
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # The payload gzip-compressed once, right after publication (None until then, and for
    # extracts published before migration 0004); it decompresses to exactly `payload`.
    payload_gzip: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    published_by_party_id: int | None = Field(default=None, foreign_key="party.id")
    dcc_status: DccStatus = Field(default=DccStatus.PENDING, sa_type=EnumWord(DccStatus, 10))
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledgement_detail: str | None = Field(default=None, max_length=2000)
