"""Queries behind the public CPL: every entry ever made Active, with its current status."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cpl_service.devices import find_device_type
from cpl_service.entries.models import Entry, EntryStatus, like_pattern, search_text
from cpl_service.entries.workflow import LISTED_STATUSES
from cpl_service.errors import InvalidInputError, NotFoundError
from cpl_service.extracts.columns import column_batches, untyped
from cpl_service.extracts.models import Extract
from cpl_service.extracts.rows import STATUS_WORDS, internal_status
from cpl_service.publication.rows import listed_entry

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_BATCH = 2000


@dataclass(frozen=True)
class CplFilter:
    """Filters of the public listing, already checked and in internal form."""

    status: EntryStatus | None = None
    device_type: str | None = None
    manufacturer_id: str | None = None
    q: str | None = None


def make_filter(
    *,
    status: str | None = None,
    device_type: str | None = None,
    manufacturer_id: str | None = None,
    q: str | None = None,
) -> CplFilter:
    """Check the caller's filters; a status or device type we do not know is an error."""
    internal: EntryStatus | None = None
    if status is not None and status.strip():
        internal = internal_status(status)
        if internal is None:
            words = ", ".join(STATUS_WORDS.values())
            raise InvalidInputError(f"Unknown status {status!r}; use one of {words}.")
    code: str | None = None
    if device_type is not None and device_type.strip():
        kind = find_device_type(device_type)
        if kind is None:
            raise InvalidInputError(
                f"Unknown Physical Device Type {device_type!r}; use a code such as ESME_SINGLE."
            )
        code = kind.code
    manufacturer = manufacturer_id.strip().upper() if manufacturer_id else None
    text = q.strip() if q else None
    return CplFilter(internal, code, manufacturer or None, text or None)


def _conditions(filters: CplFilter) -> list[ColumnElement[bool]]:
    # "Ever made Active" is first_active_at; the status test keeps a pending or
    # rejected row out even if a bug ever stamped it.
    conditions: list[ColumnElement[bool]] = [
        col(Entry.first_active_at).is_not(None),
        col(Entry.status).in_(LISTED_STATUSES),
    ]
    if filters.status:
        conditions.append(col(Entry.status) == filters.status)
    if filters.device_type:
        conditions.append(col(Entry.physical_device_type) == filters.device_type)
    if filters.manufacturer_id:
        conditions.append(col(Entry.manufacturer_id) == filters.manufacturer_id)
    if filters.q:
        conditions.append(search_text().ilike(like_pattern(filters.q), escape="\\"))
    return conditions


def _listed(filters: CplFilter) -> SelectOfScalar[Entry]:
    return select(Entry).where(*_conditions(filters)).order_by(col(Entry.entry_id))


def list_cpl(
    *, session: Session, filters: CplFilter, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> dict[str, Any]:
    """One page of the public CPL, sorted by entry ID, with the total that matched."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}.")
    if offset < 0:
        raise InvalidInputError("offset must not be negative.")
    total = session.exec(select(func.count()).select_from(Entry).where(*_conditions(filters))).one()
    entries = session.exec(_listed(filters).limit(limit).offset(offset)).all()
    return {
        "items": [listed_entry(e) for e in entries],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def listed_by_id(*, session: Session, entry_id: str) -> Entry:
    """One entry of the public CPL by its ID; not found for one the CPL does not list
    (pending review, rejected), exactly as `list_cpl` would not show it."""
    entry = session.exec(
        select(Entry).where(
            col(Entry.entry_id) == entry_id.strip().upper(), *_conditions(CplFilter())
        )
    ).first()
    if entry is None:
        raise NotFoundError(f"There is no CPL entry {entry_id!r} on the public list.")
    return entry


def listed_columns(
    *, session: Session, fields: Sequence[str], since: datetime | None = None
) -> Iterator[dict[str, tuple[Any, ...]]]:
    """Every listed entry in entry-ID order, in batches of columns (for exports).

    Each batch maps each of `fields` to its values as the driver gives them (see
    `extracts.columns`), streamed from a server-side cursor on PostgreSQL, so 100,000
    entries never sit in memory. With `since`, only the entries added or whose status
    changed after that moment.
    """
    table = Entry.__table__  # type: ignore[attr-defined]
    statement = (
        core_select(*untyped(table, fields))
        .where(*_conditions(CplFilter()))
        .order_by(table.c.entry_id)
    )
    if since is not None:
        statement = statement.where(
            or_(table.c.first_active_at > since, table.c.status_effective_at > since)
        )
    for columns in column_batches(session.connection(), statement, size=_BATCH, width=len(fields)):
        yield dict(zip(fields, columns, strict=True))


def status_counts(*, session: Session) -> dict[EntryStatus, int]:
    """How many listed entries have each status (every status present, maybe 0)."""
    rows = session.exec(
        select(Entry.status, func.count())
        .where(*_conditions(CplFilter()))
        .group_by(col(Entry.status))
    ).all()
    counts = dict.fromkeys(LISTED_STATUSES, 0)
    for status, count in rows:
        counts[EntryStatus(status)] = count
    return counts


@dataclass(frozen=True)
class Publication:
    """When the latest extract was published (the payload itself is not loaded)."""

    sequence: int
    issued_at: datetime


def latest_publication(*, session: Session) -> Publication | None:
    """The most recently published extract, if any."""
    row = session.exec(
        select(Extract.sequence, Extract.issued_at).order_by(col(Extract.sequence).desc()).limit(1)
    ).first()
    return Publication(sequence=row[0], issued_at=row[1]) if row else None
