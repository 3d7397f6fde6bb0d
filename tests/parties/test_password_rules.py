"""Password policy, hashing and sign-in lockout as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cpl_service.parties import lockout, passwords
from cpl_service.parties.passwords import (
    common_passwords,
    hash_password,
    password_problems,
    verify_password,
)

EMAIL = "jane.smith@secas.example"


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("correct horse battery", 0),
        ("Tr0ub4dor&3x!", 0),
        ("ünïcödé-pässwörd", 0),
        ("x" * 12, 0),
        ("x" * 11, 1),
        ("", 1),
        ("short", 1),
        ("x" * 1025, 1),
        (EMAIL, 1),
        (EMAIL.upper(), 1),
        (f"  {EMAIL} ", 1),
        ("password1234", 1),
        ("PASSWORD1234", 1),
        ("qwertyuiop123", 1),
        ("correcthorsebatterystaple", 1),
        ("letmein", 1),  # too short; and not listed (the list holds only 12+ characters)
    ],
)
def test_password_policy(password: str, problems: int) -> None:
    assert len(password_problems(password, email=EMAIL)) == problems


def test_a_short_email_used_as_password_gets_both_reasons() -> None:
    assert len(password_problems("a@b.example", email="a@b.example")) == 2


def test_the_common_list_ships_with_the_package() -> None:
    listed = common_passwords()
    assert len(listed) > 50 and "password1234" in listed
    assert all(p == p.lower() and not p.startswith("#") for p in listed)


def test_production_hasher_is_argon2id_at_rfc_9106_low_memory_cost() -> None:
    hasher = passwords.make_hasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 64 * 1024, 4)
    assert hasher.hash("correct horse battery").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_argon2id_hash_and_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", passwords.make_hasher())  # the real cost
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse battery!")
    assert not verify_password(None, "correct horse battery")
    assert not verify_password("not a hash", "correct horse battery")
    assert hash_password("same password!") != hash_password("same password!")  # salted


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("failures", "free", "delay"),
    [
        (1, 5, 0),
        (4, 5, 0),
        (5, 5, 30),
        (6, 5, 60),
        (7, 5, 120),
        (9, 5, 480),
        (10, 5, 900),  # capped at 15 minutes
        (50, 5, 900),
        (10_000, 5, 900),
        (19, 20, 0),
        (20, 20, 30),
        (21, 20, 60),
    ],
)
def test_lock_delay_grows_and_is_capped(failures: int, free: int, delay: int) -> None:
    assert lockout.lock_delay(failures, free=free) == timedelta(seconds=delay)


@pytest.mark.parametrize(
    ("last_failure_ago", "counts"),
    [
        (timedelta(0), True),
        (timedelta(minutes=59), True),
        (timedelta(hours=1), True),  # exactly an hour ago still counts
        (timedelta(hours=1, seconds=1), False),  # older failures are forgotten
        (timedelta(days=3), False),
    ],
)
def test_which_failures_still_count(last_failure_ago: timedelta, counts: bool) -> None:
    assert (NOW - last_failure_ago >= lockout.counting_since(NOW)) is counts


@pytest.mark.parametrize(
    ("locked_until", "seconds"),
    [
        (None, 0),
        (NOW - S, 0),
        (NOW, 0),
        (NOW + timedelta(milliseconds=1), 1),
        (NOW + 30 * S, 30),
        (NOW + timedelta(seconds=29, milliseconds=500), 30),
    ],
)
def test_seconds_locked(locked_until: datetime | None, seconds: int) -> None:
    assert lockout.seconds_locked(locked_until, now=NOW) == seconds
