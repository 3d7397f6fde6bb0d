"""The security audit log: append-only, read by SECAS through `GET /api/v1/audit`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from cpl_service.clock import utcnow
from cpl_service.errors import InvalidInputError
from cpl_service.parties.actors import Actor
from cpl_service.parties.models import SecurityEvent


class AuditKind(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_LOCKED = "sign_in_locked"
    SIGN_OUT = "sign_out"
    PASSWORD_SET = "password_set"  # noqa: S105 (an event name)
    PERSON_ADDED = "person_added"
    PERSON_DISABLED = "person_disabled"
    PARTY_ADDED = "party_added"
    TOKEN_CREATED = "token_created"  # noqa: S105 (an event name)
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 (an event name)
    EXTRACT_PUBLISHED = "extract_published"
    EXTRACT_ACKNOWLEDGED = "extract_acknowledged"
    CERTIFICATE_REVOKED = "certificate_revoked"
    SPECIFICATION_ADDED = "specification_added"


def record(
    *,
    session: Session,
    kind: AuditKind,
    actor: Actor | None,
    subject: str | None = None,
    subject_party_id: int | None = None,
    address: str | None = None,
    detail: str | None = None,
    at: datetime | None = None,
) -> SecurityEvent:
    """Add an event to the session; the caller commits it with the change it describes."""
    event = SecurityEvent(
        at=at or utcnow(),
        kind=kind.value,
        actor=(actor.describe() if actor else "anonymous")[:300],
        actor_party_id=actor.party_id if actor else None,
        actor_user_id=actor.user_id if actor else None,
        actor_token_id=actor.token_id if actor else None,
        subject_party_id=subject_party_id,
        subject=subject[:500] if subject else None,
        address=address[:100] if address else None,
        detail=detail[:2000] if detail else None,
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilters:
    kind: str | None = None
    party_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(
    *, session: Session, filters: AuditFilters, limit: int, offset: int
) -> tuple[list[SecurityEvent], int]:
    """Events matching `filters`, newest first; `party_id` matches actor or subject party."""
    for moment in (filters.since, filters.until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInputError(
                "Give since and until with a time zone, e.g. 2026-12-01T00:00Z."
            )
    query = select(SecurityEvent)
    if filters.kind:
        query = query.where(col(SecurityEvent.kind) == filters.kind)
    if filters.party_id is not None:
        query = query.where(
            or_(
                col(SecurityEvent.actor_party_id) == filters.party_id,
                col(SecurityEvent.subject_party_id) == filters.party_id,
            )
        )
    if filters.since is not None:
        query = query.where(col(SecurityEvent.at) >= filters.since)
    if filters.until is not None:
        query = query.where(col(SecurityEvent.at) < filters.until)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = session.exec(query.order_by(col(SecurityEvent.id).desc()).limit(limit).offset(offset))
    return list(page.all()), int(total)
