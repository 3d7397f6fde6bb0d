"""The security audit log (SECAS): sign-ins, locks, people, tokens and role-relevant actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cpl_service.api.deps import SecasParty, SessionDep
from cpl_service.api.schemas import Page
from cpl_service.parties import audit

router = APIRouter(tags=["people and tokens"])


class AuditEventPublic(BaseModel):
    id: int
    at: datetime
    kind: str
    actor: str
    actor_party_id: int | None
    actor_user_id: int | None
    actor_token_id: int | None
    subject: str | None
    subject_party_id: int | None
    address: str | None
    detail: str | None


class AuditPage(Page):
    items: list[AuditEventPublic]


@router.get("/audit", response_model=AuditPage)
def list_audit_events(
    session: SessionDep,
    _secas: SecasParty,
    kind: Annotated[audit.AuditKind | None, Query()] = None,
    party_id: Annotated[int | None, Query(description="As actor or as subject")] = None,
    since: Annotated[datetime | None, Query(description="At or after (RFC 3339)")] = None,
    until: Annotated[datetime | None, Query(description="Before (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AuditPage:
    """Security-relevant events, newest first, filtered and paged."""
    filters = audit.AuditFilters(
        kind=kind.value if kind else None, party_id=party_id, since=since, until=until
    )
    events, total = audit.list_events(session=session, filters=filters, limit=limit, offset=offset)
    return AuditPage(
        items=[AuditEventPublic.model_validate(e, from_attributes=True) for e in events],
        total=total,
        limit=limit,
        offset=offset,
    )
