"""Response and request bodies of the API (the `…Public` models)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cpl_service.entries.models import Entry, EntryEvent, EntryFields


class EventPublic(BaseModel):
    action: str
    from_status: str | None
    to_status: str | None
    actor: str
    at: datetime
    reason: str | None
    panel_decision_ref: str | None

    @classmethod
    def of(cls, event: EntryEvent) -> EventPublic:
        return cls(
            action=event.action,
            from_status=event.from_status,
            to_status=event.to_status,
            actor=event.actor_name,
            at=event.at,
            reason=event.reason,
            panel_decision_ref=event.panel_decision_ref,
        )


class EntryPublic(EntryFields):
    entry_id: str
    status: str
    status_effective_at: datetime
    panel_decision_ref: str | None
    removal_proposed: bool
    supplier_confirmation_ref: str | None
    submission_id: int | None
    created_at: datetime
    history: list[EventPublic] | None = None

    @classmethod
    def of(cls, entry: Entry, history: list[EntryEvent] | None = None) -> EntryPublic:
        data = entry.model_dump()
        data["history"] = [EventPublic.of(e) for e in history] if history is not None else None
        return cls.model_validate(data)


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class EntryPage(Page):
    items: list[EntryPublic]


class SubmissionPublic(BaseModel):
    id: int
    status: str
    filename: str
    content_sha256: str
    signed: bool
    submitted_by: str
    created_at: datetime
    entries: list[EntryPublic]
    issues: list[dict[str, Any]]
    documents: list[DocumentPublic] = []


class EntrySummary(BaseModel):
    entry_id: str
    status: str
    manufacturer_id: str
    model_id: str
    model_name: str
    hardware_version: str
    firmware_version: str
    physical_device_type: str


class SubmissionCreated(BaseModel):
    """The answer to an upload: the new entries in brief (GET the submission for detail)."""

    id: int
    status: str
    filename: str
    content_sha256: str
    signed: bool
    submitted_by: str
    created_at: datetime
    issues: list[dict[str, Any]]
    entries: list[EntrySummary]
    document_count: int


class SubmissionSummary(BaseModel):
    id: int
    status: str
    filename: str
    submitted_by: str
    created_at: datetime
    entry_count: int


class SubmissionPage(Page):
    items: list[SubmissionSummary]


class DocumentPublic(BaseModel):
    id: int
    filename: str
    sha256: str
    size_bytes: int
    created_at: datetime


class ApprovalIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class RejectionIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class SupplierConfirmationIn(BaseModel):
    reference: str = Field(min_length=1, max_length=200)


class RemovalIn(BaseModel):
    # The removal words of EntryStatus (entries.workflow.REMOVAL_STATUSES); a Literal keeps
    # the schema and the 422 message as they are, and tests/test_statuses.py pins the two.
    status: Literal["expired", "cancelled", "withdrawn"]
    panel_decision_ref: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)


class RevocationIn(BaseModel):
    kind: Literal["ZigBee", "DLMS", "CPA"]
    number: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class ConditionalClearanceIn(BaseModel):
    reference: str = Field(min_length=1, max_length=200)


class RenewalIn(BaseModel):
    renewal_date: date
    reference: str = Field(min_length=1, max_length=200)


class CertificatePublic(BaseModel):
    id: int
    kind: str
    number: str
    cpa_certificate_type: str | None
    cpa_expiry_date: date | None
    cpa_renewal_date: date | None
    cpa_conditional_date: date | None
    end_date: date | None
    # Which date sets the end: "expiry", "renewal" or "conditional" (None without an end).
    end_date_kind: str | None
    status: str
    revoked_at: datetime | None
    revocation_reason: str | None
    entry_ids: list[str]


class CertificatePage(Page):
    items: list[CertificatePublic]


class RevocationOut(BaseModel):
    certificate: CertificatePublic
    removal_proposed: list[str]


SubmissionPublic.model_rebuild()
