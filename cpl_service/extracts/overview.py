"""The newest extracts in brief, for overviews: never their payloads or signatures."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import Session, col, select

from cpl_service.extracts.models import Extract

# Large (a payload is about 1 kB per entry): an overview never reads them, and fails loudly
# if a template tries to.
# (SQLModel types the class attributes as their values; they are mapped columns.)
_HEAVY = cast(
    tuple[QueryableAttribute[Any], ...],
    (Extract.payload, Extract.signature, Extract.payload_gzip),
)


def recent_extracts(*, session: Session, limit: int) -> list[Extract]:
    """The `limit` newest extracts, newest first, without their payloads and signatures."""
    query = (
        select(Extract)
        .options(*(defer(column, raiseload=True) for column in _HEAVY))
        .order_by(col(Extract.sequence).desc())
        .limit(limit)
    )
    return list(session.exec(query).all())
