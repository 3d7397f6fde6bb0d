"""Submissions: one accepted upload of a CPL workbook, with its documents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from cpl_service.clock import utcnow
from cpl_service.db import UTCDateTime


class SubmissionStatus(StrEnum):
    """Where a submission stands, from the statuses of its entries (never stored)."""

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PARTIALLY_APPROVED = "partially_approved"


class Submission(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("party_id", "content_sha256", name="uq_submission_content"),)

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="party.id", index=True)
    filename: str = Field(max_length=255)
    content_sha256: str = Field(max_length=64)
    size_bytes: int
    signed: bool = False
    issues: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SubmissionDocument(SQLModel, table=True):
    """A certificate PDF carried with a submission."""

    __tablename__ = "submission_document"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    size_bytes: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
