"""Session timeouts and CSRF tokens as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cpl_service.parties.sessions import (
    SessionTimeouts,
    csrf_ok,
    csrf_token_for,
    session_end_reason,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
TIMEOUTS = SessionTimeouts(idle=30 * MIN, absolute=timedelta(hours=12))


@pytest.mark.parametrize(
    ("created_ago", "seen_ago", "ended_ago", "reason"),
    [
        (MIN, MIN, None, None),
        (timedelta(hours=11), 29 * MIN, None, None),
        (timedelta(hours=1), 30 * MIN, None, "idle"),
        (timedelta(hours=1), 31 * MIN, None, "idle"),
        (timedelta(hours=12), MIN, None, "too old"),  # however active, 12 hours is the end
        (timedelta(hours=13), 0 * MIN, None, "too old"),
        (MIN, MIN, 0 * MIN, "signed out"),
        (MIN, MIN, -MIN, None),  # an end stamped by a server whose clock runs ahead
    ],
)
def test_session_end_reason(
    created_ago: timedelta, seen_ago: timedelta, ended_ago: timedelta | None, reason: str | None
) -> None:
    assert (
        session_end_reason(
            created_at=NOW - created_ago,
            last_seen_at=NOW - seen_ago,
            ended_at=NOW - ended_ago if ended_ago is not None else None,
            now=NOW,
            timeouts=TIMEOUTS,
        )
        == reason
    )


def test_csrf_token_is_bound_to_the_session() -> None:
    token = csrf_token_for("secret-one")
    assert csrf_ok("secret-one", token)
    assert token == csrf_token_for("secret-one") and len(token) == 64
    assert not csrf_ok("secret-two", token)
    assert not csrf_ok("secret-one", None)
    assert not csrf_ok("secret-one", "")
    assert not csrf_ok("secret-one", token[:-1])
    assert "secret-one" not in token
