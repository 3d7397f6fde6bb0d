"""The outbox: every email the service sends, each identified once by its key."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from cpl_service.clock import utcnow
from cpl_service.db import EnumWord, UTCDateTime


class NoticeStatus(StrEnum):
    QUEUED = "queued"
    # Only on SQLite, between claiming a notice and recording the send's outcome.
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class NoticeKind(StrEnum):
    CPA_12M = "cpa_12m"
    CPA_6M = "cpa_6m"
    CPA_END = "cpa_end"
    CPL_PUBLISHED = "cpl_published"
    DCC_ACKNOWLEDGED = "dcc_acknowledged"
    EXTRACT_OVERDUE = "extract_overdue"
    SUBMISSION_OUTCOME = "submission_outcome"
    FIRMWARE_CONFIRMATION = "firmware_confirmation"


class Notice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # e.g. "cpa:17:2027-03-31:12m:maker@example.com" — unique, so a notice is queued only once.
    key: str = Field(max_length=400, unique=True)
    kind: str = Field(max_length=40, index=True)
    recipients: str = Field(max_length=2000)
    cc: str | None = Field(default=None, max_length=2000)
    subject: str = Field(max_length=500)
    body_text: str
    body_html: str
    status: NoticeStatus = Field(
        default=NoticeStatus.QUEUED, sa_type=EnumWord(NoticeStatus, 10), index=True
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
