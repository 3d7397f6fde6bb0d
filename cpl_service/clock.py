"""The one place the service reads the time: always timezone-aware UTC.

Only the edges (the API routes and the CLI commands) call `utcnow()`/`today()`; services
take `now` (or a `Clock`) as an argument, so tests can put them at any moment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

# What a service that stamps several moments takes instead of reading the time itself.
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC."""
    return utcnow().date()


def rfc3339(moment: datetime) -> str:
    """An aware datetime as RFC 3339 UTC with a `Z`, to the second."""
    # Slicing the ISO form is several times faster than strftime, which matters when an
    # extract formats 100,000 timestamps.
    return moment.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"
