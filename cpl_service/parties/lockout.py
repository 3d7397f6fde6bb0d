"""How failed sign-ins lock an account or an address: pure rules, no database."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

ACCOUNT_FREE_FAILURES = 5  # failures in a row an account may have before it is locked
ADDRESS_FREE_FAILURES = 20  # an address may try several accounts (a shared office)
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)  # failures further apart than this start the count again


@dataclass(frozen=True)
class Throttle:
    failures: int
    locked_until: datetime | None


def lock_delay(failures: int, *, free: int) -> timedelta:
    """How long the `failures`-th failure in a row locks: nothing, then 30 s doubling to 15 min."""
    if failures < free:
        return timedelta(0)
    delay: timedelta = FIRST_LOCK * 2 ** min(failures - free, 16)
    return min(LONGEST_LOCK, delay)


def counting_since(now: datetime) -> datetime:
    """Failures before this moment no longer count: the next one starts again at 1."""
    return now - FORGET_AFTER


def seconds_locked(locked_until: datetime | None, *, now: datetime) -> int:
    """Whole seconds (rounded up) until the lock ends; 0 when not locked."""
    if locked_until is None or locked_until <= now:
        return 0
    return math.ceil((locked_until - now).total_seconds())
