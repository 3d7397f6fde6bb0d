"""The entry lifecycle as data: one transition table and the question it answers."""

from __future__ import annotations

from cpl_service.entries.models import EntryStatus

REMOVAL_STATUSES = frozenset({EntryStatus.EXPIRED, EntryStatus.CANCELLED, EntryStatus.WITHDRAWN})
# The statuses of entries listed on the public CPL and in extracts: Active, then the removals.
LISTED_STATUSES: tuple[EntryStatus, ...] = (
    EntryStatus.ACTIVE,
    EntryStatus.EXPIRED,
    EntryStatus.CANCELLED,
    EntryStatus.WITHDRAWN,
)

TRANSITIONS: dict[EntryStatus, frozenset[EntryStatus]] = {
    EntryStatus.PENDING_REVIEW: frozenset({EntryStatus.ACTIVE, EntryStatus.REJECTED}),
    EntryStatus.ACTIVE: REMOVAL_STATUSES,
    EntryStatus.REJECTED: frozenset(),
    EntryStatus.EXPIRED: frozenset(),
    EntryStatus.CANCELLED: frozenset(),
    EntryStatus.WITHDRAWN: frozenset(),
}


def allowed(from_status: str, to_status: str) -> bool:
    """True when the lifecycle lets an entry move from `from_status` to `to_status`."""
    try:
        return EntryStatus(to_status) in TRANSITIONS[EntryStatus(from_status)]
    except ValueError:
        return False
