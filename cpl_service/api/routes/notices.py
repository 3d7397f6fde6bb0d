"""The outbox, for SECAS: what was sent, what is waiting and what failed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import SQLModel

from cpl_service.api.deps import SecasParty, SessionDep
from cpl_service.api.params import IdPath, Offset
from cpl_service.notices import service
from cpl_service.notices.mail import split_addresses
from cpl_service.notices.models import Notice, NoticeStatus

router = APIRouter(prefix="/notices", tags=["notices"])


class NoticePublic(SQLModel):
    id: int
    key: str
    kind: str
    recipients: list[str]
    cc: list[str]
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None


class NoticeDetail(NoticePublic):
    body_text: str
    body_html: str


class NoticeList(SQLModel):
    items: list[NoticePublic]
    total: int
    limit: int
    offset: int
    counts: dict[str, int]


def _public(notice: Notice) -> dict[str, object]:
    return {
        **notice.model_dump(exclude={"recipients", "cc", "body_text", "body_html"}),
        "recipients": split_addresses(notice.recipients),
        "cc": split_addresses(notice.cc),
    }


@router.get("")
def list_notices(
    session: SessionDep,
    _secas: SecasParty,
    status: Annotated[NoticeStatus | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> NoticeList:
    """Outbox notices, newest first, with counts by status (SECAS)."""
    page = service.list_notices(
        session=session, status=status, kind=kind, limit=limit, offset=offset
    )
    return NoticeList(
        items=[NoticePublic.model_validate(_public(n)) for n in page.notices],
        total=page.total,
        limit=limit,
        offset=offset,
        counts={str(s): n for s, n in page.counts.items()},
    )


@router.get("/{notice_id}")
def get_notice(notice_id: IdPath, session: SessionDep, _secas: SecasParty) -> NoticeDetail:
    """One outbox notice with its text and HTML bodies (SECAS)."""
    notice = service.get_notice(session=session, notice_id=notice_id)
    body = {**_public(notice), "body_text": notice.body_text, "body_html": notice.body_html}
    return NoticeDetail.model_validate(body)
