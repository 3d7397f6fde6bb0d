"""The token rules as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cpl_service.errors import InvalidInputError
from cpl_service.parties.tokens import (
    check_expiry,
    check_token_name,
    hash_token,
    needs_last_used_update,
    new_token,
    token_refusal,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("revoked_at", "expires_at", "refusal"),
    [
        (None, None, None),
        (None, NOW + SECOND, None),
        (None, NOW, "expired"),
        (None, NOW - SECOND, "expired"),
        (NOW, None, "revoked"),
        (NOW - timedelta(days=1), None, "revoked"),
        (NOW + SECOND, None, None),  # a revocation stamped by a server whose clock runs ahead
        (NOW - SECOND, NOW - SECOND, "revoked"),
        (NOW + SECOND, NOW - SECOND, "expired"),
    ],
)
def test_token_refusal(
    revoked_at: datetime | None, expires_at: datetime | None, refusal: str | None
) -> None:
    assert token_refusal(revoked_at=revoked_at, expires_at=expires_at, now=NOW) == refusal


@pytest.mark.parametrize(
    ("name", "result"),
    [
        ("DCC SMI loader", "DCC SMI loader"),
        ("  CI upload  ", "CI upload"),
        ("x" * 100, "x" * 100),
    ],
)
def test_good_token_names(name: str, result: str) -> None:
    assert check_token_name(name) == result


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\there", "new\nline"])
def test_bad_token_names(name: str) -> None:
    with pytest.raises(InvalidInputError):
        check_token_name(name)


@pytest.mark.parametrize(
    ("expires_at", "ok"),
    [
        (None, True),
        (NOW + SECOND, True),
        (NOW + timedelta(days=365), True),
        (NOW, False),
        (NOW - SECOND, False),
        (datetime(2027, 1, 1), False),  # naive: no time zone
    ],
)
def test_expiry(expires_at: datetime | None, ok: bool) -> None:
    if ok:
        assert check_expiry(expires_at, now=NOW) == expires_at
    else:
        with pytest.raises(InvalidInputError):
            check_expiry(expires_at, now=NOW)


@pytest.mark.parametrize(
    ("last_used_at", "update"),
    [
        (None, True),
        (NOW, False),
        (NOW - timedelta(seconds=59), False),
        (NOW - timedelta(seconds=60), True),
        (NOW - timedelta(days=3), True),
    ],
)
def test_last_used_is_written_at_most_once_a_minute(
    last_used_at: datetime | None, update: bool
) -> None:
    assert needs_last_used_update(last_used_at, now=NOW) is update


def test_tokens_are_random_and_hashed() -> None:
    first, second = new_token(), new_token()
    assert first != second and first.startswith("cpl_") and len(first) > 40
    assert hash_token(first) != hash_token(second)
    assert len(hash_token(first)) == 64 and first not in hash_token(first)
