"""The newest extracts in brief: newest first, never their payloads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import InvalidRequestError
from sqlmodel import Session

from cpl_service.clock import utcnow
from cpl_service.extracts.models import Extract
from cpl_service.extracts.overview import recent_extracts


def test_newest_first_limited_and_without_payloads(session: Session) -> None:
    issued = utcnow().replace(microsecond=0)
    for sequence in range(1, 5):
        session.add(
            Extract(
                sequence=sequence,
                issued_at=issued + timedelta(minutes=sequence),
                next_update=issued + timedelta(days=1),
                sha256=f"{sequence:064x}",
                entry_count=sequence,
                change_count=0,
                payload=b"x" * 1000,
                signature=b"sig",
            )
        )
    session.commit()
    session.expunge_all()
    found = recent_extracts(session=session, limit=3)
    assert [e.sequence for e in found] == [4, 3, 2]
    assert [e.entry_count for e in found] == [4, 3, 2]
    with pytest.raises(InvalidRequestError):
        _ = found[0].payload
    with pytest.raises(InvalidRequestError):
        _ = found[0].signature
