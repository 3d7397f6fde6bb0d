"""CPL entries (Device Models) and their append-only history of events."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Index, String, UniqueConstraint, func, literal_column, text
from sqlmodel import Field, SQLModel

from cpl_service.clock import utcnow
from cpl_service.db import EnumWord, UTCDateTime


class EntryStatus(StrEnum):
    """The internal statuses of SPEC §4; `workflow.py` says which may follow which."""

    PENDING_REVIEW = "pending_review"
    ACTIVE = "active"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"


class SubmissionType(StrEnum):
    """What a submission row asks for: the workbook's Submission Type words (SPEC §3)."""

    NEW_DEVICE_MODEL = "New Device Model"
    FIRMWARE_UPDATE = "Firmware Update"


# A Device Model may be listed live (pending or Active) only once.
LIVE_STATUSES: tuple[EntryStatus, ...] = (EntryStatus.PENDING_REVIEW, EntryStatus.ACTIVE)
LIVE_STATUSES_SQL = "status IN ({})".format(", ".join(f"'{s.value}'" for s in LIVE_STATUSES))


class EntryFields(SQLModel):
    """The fields a submission row gives an entry (SPEC §3 and §6 names)."""

    submission_type: str = Field(max_length=30)
    manufacturer_name: str = Field(max_length=100)
    manufacturer_id: str = Field(max_length=4, index=True)
    model_name: str = Field(max_length=100)
    model_id: str = Field(max_length=8)
    hardware_version: str = Field(max_length=4)
    firmware_version: str = Field(max_length=8)
    physical_device_type: str = Field(max_length=20, index=True)
    technical_specification: str = Field(max_length=50)
    gbcs_version: str | None = Field(default=None, max_length=50)
    release_notes: str = Field(max_length=1000)
    zigbee_certificate_number: str | None = Field(default=None, max_length=100)
    dlms_certificate_number: str | None = Field(default=None, max_length=100)
    cpa_certificate_number: str | None = Field(default=None, max_length=100)
    # "Fixed-term" or "Lifetime" (SEC MP209) with a CPA certificate number, else None.
    cpa_certificate_type: str | None = Field(default=None, max_length=10)
    cpa_expiry_date: date | None = None
    cpa_renewal_date: date | None = None
    cpa_conditional_date: date | None = None
    manufacturer_image_hash: str | None = Field(default=None, max_length=64)
    manufacturer_image_hash_creator: str | None = Field(default=None, max_length=200)
    certificate_mapping_evidence: str | None = Field(default=None, max_length=1000)
    previous_entry_id: str | None = Field(default=None, max_length=20)
    smets1: bool = False
    smets1_compliance_statement: str | None = Field(default=None, max_length=1000)
    contact_email: str = Field(max_length=254)


class Entry(EntryFields, table=True):
    __table_args__ = (
        UniqueConstraint("entry_id", name="uq_entry_entry_id"),
        # A Device Model may be pending or Active only once: the database, not only the
        # checks, refuses a second live copy, so two racing uploads cannot both land.
        Index(
            "uq_entry_live_identity",
            "manufacturer_id",
            "model_id",
            "hardware_version",
            "firmware_version",
            "physical_device_type",
            unique=True,
            sqlite_where=text(LIVE_STATUSES_SQL),
            postgresql_where=text(LIVE_STATUSES_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(max_length=20)
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    submitted_by_party_id: int | None = Field(default=None, foreign_key="party.id", index=True)
    status: EntryStatus = Field(
        default=EntryStatus.PENDING_REVIEW, sa_type=EnumWord(EntryStatus, 20), index=True
    )
    status_effective_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    panel_decision_ref: str | None = Field(default=None, max_length=100)
    removal_proposed: bool = False
    supplier_confirmation_ref: str | None = Field(default=None, max_length=200)
    first_active_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EntryEvent(SQLModel, table=True):
    """One change to an entry. Rows are only ever inserted."""

    __tablename__ = "entry_event"

    id: int | None = Field(default=None, primary_key=True)
    entry_pk: int = Field(foreign_key="entry.id", index=True)
    action: str = Field(max_length=30)
    from_status: EntryStatus | None = Field(default=None, sa_type=EnumWord(EntryStatus, 20))
    to_status: EntryStatus | None = Field(default=None, sa_type=EnumWord(EntryStatus, 20))
    actor_party_id: int | None = Field(default=None, foreign_key="party.id")
    actor_name: str = Field(max_length=200)
    actor_person: str | None = Field(default=None, max_length=200)
    actor_token: str | None = Field(default=None, max_length=100)
    actor_user_id: int | None = None
    actor_token_id: int | None = None
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=2000)
    panel_decision_ref: str | None = Field(default=None, max_length=100)


def format_entry_id(number: int) -> str:
    return f"CPL-{number:06d}"


# --- free-text search (`q`) ----------------------------------------------------------

# The columns a free-text search looks in, on the API's entry list and on the public CPL.
SEARCHED_FIELDS: tuple[str, ...] = (
    "entry_id",
    "manufacturer_name",
    "model_name",
    "manufacturer_id",
    "model_id",
    "hardware_version",
    "firmware_version",
    "zigbee_certificate_number",
    "dlms_certificate_number",
    "cpa_certificate_number",
    "panel_decision_ref",
)
# Joins the searched columns; a control character no search text contains, so a match
# never spans two columns.
_SEPARATOR = "\x1f"


def search_text() -> ColumnElement[str]:
    """The searched columns as one text, which `q` is matched against with ILIKE.

    One expression rather than one test per column: PostgreSQL serves it from the single
    trigram index `ix_entry_search_trgm` (migration 0004), which is written with exactly
    this SQL, so the constants are literals, never bound parameters.
    """
    table = Entry.__table__  # type: ignore[attr-defined]
    separator: ColumnElement[str] = literal_column(f"'{_SEPARATOR}'", String)
    parts: list[ColumnElement[str]] = []
    for name in SEARCHED_FIELDS:
        if parts:
            parts.append(separator)
        parts.append(func.coalesce(table.c[name], literal_column("''", String)))
    expression = parts[0]
    for part in parts[1:]:
        expression = expression.concat(part)
    return expression


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards in `text` escaped (use with `escape="\\"`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
