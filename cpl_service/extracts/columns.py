"""Listed entries read a column at a time, as the driver gives them (for bulk output).

The exports turn 100,000 rows of some 25 columns into text (the extract has the database
write its text instead: `extracts.entry_json`). Converting value by value through
SQLAlchemy's result types and then through a Python function per cell costs several
seconds; here the columns are selected untyped (no result processing), each batch is
transposed into columns, and each column is converted in one pass with the converter its
kind needs. The raw values differ by database (SQLite gives dates and
datetimes as ISO text and flags as 0/1; PostgreSQL gives `date`, aware `datetime` and
`bool`), so every converter takes either form and gives the same result as the typed path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, type_coerce
from sqlalchemy.types import NullType

from cpl_service.clock import rfc3339

# One batch: the values of each selected column, in the order they were selected.
Columns = list[tuple[Any, ...]]


def untyped(table: Table, names: Iterable[str]) -> list[ColumnElement[Any]]:
    """The named columns of `table`, selected without result processing."""
    return [type_coerce(table.c[name], NullType()).label(name) for name in names]


def column_batches(
    connection: Connection, statement: Select[Any], *, size: int, width: int
) -> Iterator[Columns]:
    """Run `statement` (streamed: a server-side cursor on PostgreSQL) and yield each batch
    of `size` rows as `width` columns."""
    result = connection.execute(statement.execution_options(yield_per=size))
    for partition in result.partitions():
        if partition:
            yield list(zip(*partition, strict=True))
        else:  # pragma: no cover - partitions() yields only non-empty batches
            yield [()] * width


def rfc3339_texts(values: Iterable[Any]) -> list[str | None]:
    """Raw datetimes as `clock.rfc3339` writes them (UTC, to the second, with `Z`).

    SQLite holds UTC datetimes as `YYYY-MM-DD HH:MM:SS[.ffffff]`: slicing gives the same
    text as parsing and formatting, in a fraction of the time.
    """
    return [
        None if v is None else f"{v[:10]}T{v[11:19]}Z" if type(v) is str else rfc3339(v)
        for v in values
    ]


def iso_date_texts(values: Iterable[Any]) -> list[str | None]:
    """Raw dates as ISO text (`YYYY-MM-DD`); SQLite holds them as exactly that."""
    return [v if v is None or type(v) is str else v.isoformat() for v in values]


def naive_utc_moments(values: Iterable[Any]) -> list[datetime | None]:
    """Raw datetimes as naive UTC to the second, as spreadsheets hold them."""
    return [
        None
        if v is None
        else datetime.fromisoformat(v[:19])
        if type(v) is str
        else v.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        for v in values
    ]


def exact_naive_utc(values: Iterable[Any]) -> list[datetime | None]:
    """Raw datetimes as naive UTC, to the microsecond (for comparing moments)."""
    return [
        None
        if v is None
        else datetime.fromisoformat(v)
        if type(v) is str
        else v.astimezone(UTC).replace(tzinfo=None)
        for v in values
    ]


def dates(values: Iterable[Any]) -> list[date | None]:
    """Raw dates as `date` objects."""
    return [date.fromisoformat(v) if type(v) is str else v for v in values]


def flags(values: Iterable[Any]) -> list[bool | None]:
    """Raw booleans (0/1 on SQLite) as `bool`."""
    return [None if v is None else bool(v) for v in values]
