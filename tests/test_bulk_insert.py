"""`db.bulk_insert` stores what a Core insert of the same rows stores, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    Engine,
    Integer,
    String,
    column,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel

from cpl_service.certificates.models import CertificateStatus
from cpl_service.db import EnumWord, UTCDateTime, bind_column, bulk_insert, bulk_load
from cpl_service.entries.models import EntryStatus
from tests.conftest import BACKENDS

NOW = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)


def _certificate(number: str, expiry: date | None) -> dict[str, object]:
    return {"kind": "CPA", "number": number, "cpa_expiry_date": expiry}


def test_rows_read_back_as_a_core_insert_stores_them(engine: Engine) -> None:
    table = SQLModel.metadata.tables["assurance_certificate"]
    constants = {"status": CertificateStatus.VALID, "created_at": NOW}
    with engine.begin() as connection:
        connection.execute(
            table.insert(), [{**_certificate("CORE-1", date(2030, 1, 2)), **constants}]
        )
        bulk_insert(
            connection,
            table,
            [_certificate("BULK-1", date(2030, 1, 2)), _certificate("BULK-2", None)],
            names=["kind", "number", "cpa_expiry_date"],
            constants=constants,
        )
    with engine.connect() as connection:
        rows = {
            number: (expiry, status, created)
            for number, expiry, status, created in connection.execute(
                select(table.c.number, table.c.cpa_expiry_date, table.c.status, table.c.created_at)
            )
        }
        # The stored text itself (SQLite compares datetimes as text): identical forms.
        raw: dict[str, object] = dict(
            connection.exec_driver_sql("SELECT number, created_at FROM assurance_certificate").all()
        )
    assert rows["BULK-1"] == rows["CORE-1"] == (date(2030, 1, 2), CertificateStatus.VALID, NOW)
    assert rows["BULK-2"] == (None, CertificateStatus.VALID, NOW)
    assert raw["BULK-1"] == raw["CORE-1"]


def test_conflicting_rows_are_skipped_when_asked(engine: Engine) -> None:
    table = SQLModel.metadata.tables["assurance_certificate"]
    constants = {"status": CertificateStatus.VALID, "created_at": NOW}
    names = ["kind", "number", "cpa_expiry_date"]
    with engine.begin() as connection:
        bulk_insert(
            connection, table, [_certificate("C-1", None)], names=names, constants=constants
        )
        bulk_insert(
            connection,
            table,
            [_certificate("C-1", date(2031, 1, 1)), _certificate("C-2", None)],
            names=names,
            constants=constants,
            ignore_conflicts_on=("kind", "number"),
        )
    with engine.connect() as connection:
        stored = connection.execute(select(table.c.number, table.c.cpa_expiry_date)).all()
    assert sorted(stored) == [("C-1", None), ("C-2", None)]


def test_a_column_with_a_default_must_be_given(engine: Engine) -> None:
    table = SQLModel.metadata.tables["assurance_certificate"]
    with engine.begin() as connection, pytest.raises(ValueError, match="created_at"):
        bulk_insert(
            connection,
            table,
            [_certificate("D-1", None)],
            names=["kind", "number", "cpa_expiry_date"],
            constants={"status": CertificateStatus.VALID},
        )


def _entry(n: int, firmware: str) -> dict[str, object]:
    return {
        "id": n,
        "entry_id": f"CPL-{n:06d}",
        "submission_type": "New Device Model",
        "manufacturer_name": "Acme",
        "manufacturer_id": "AB01",
        "model_name": "E1",
        "model_id": "0001",
        "hardware_version": "0101",
        "firmware_version": firmware,
        "physical_device_type": "ESME_SINGLE",
        "technical_specification": "SMETS2 v4.2",
        "gbcs_version": "GBCS v3.2",
        "release_notes": "RN",
        "zigbee_certificate_number": "ZIG-1",
        "smets1": False,
        "contact_email": "a@b.test",
        "status": "active",
        "status_effective_at": NOW,
        "first_active_at": NOW,
        "removal_proposed": False,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _indexes(engine: Engine) -> list[tuple[object, ...]]:
    found = inspect(engine).get_indexes("entry") + inspect(engine).get_indexes("entry_event")
    return sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in found)


def _load(engine: Engine, rows: list[dict[str, object]]) -> None:
    tables = SQLModel.metadata.tables
    with engine.begin() as connection, bulk_load(connection, [tables["entry"]]):
        bulk_insert(connection, tables["entry"], rows, names=list(rows[0]))


def test_a_bulk_load_keeps_the_indexes_and_still_refuses_a_duplicate(engine: Engine) -> None:
    before = _indexes(engine)
    assert any(name == "uq_entry_live_identity" for name, _, _ in before)
    # Two live copies of one Device Model: the unique index, rebuilt at the end of the
    # load, refuses them, and the rollback leaves the table and its indexes as they were.
    with pytest.raises(IntegrityError):
        _load(engine, [_entry(1, "00000001"), _entry(2, "00000001")])
    assert _indexes(engine) == before
    count = select(func.count()).select_from(SQLModel.metadata.tables["entry"])
    with engine.connect() as connection:
        assert connection.execute(count).scalar_one() == 0
    _load(engine, [_entry(1, "00000001"), _entry(2, "00000002")])
    assert _indexes(engine) == before
    with engine.connect() as connection:
        assert connection.execute(count).scalar_one() == 2
    # The rebuilt index is in force: a later ordinary insert of a live copy is refused.
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(SQLModel.metadata.tables["entry"].insert(), [_entry(3, "00000002")])


# Text a COPY's text format must escape (tab, newline, carriage return, backslash, the
# `\N` that means NULL there, a lone `.`), other control characters, quotes, non-ASCII.
HOSTILE = [
    "tab\there",
    "line\nbreak\r\nand return\r",
    "back\\slash \\N \\t \\\\",
    "\\N",
    "\\.",
    ".",
    "",
    " ",
    "'quoted' \"double\" ;-- DROP TABLE entry",
    "".join(chr(c) for c in range(1, 32)) + "\x7f",
    "Zürich — 電気 ✓ 🙂 \u2028\u00a0",
    "=1+2",
]
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]


def _hostile_entry(n: int) -> dict[str, Any]:
    text = HOSTILE[n % len(HOSTILE)]
    moment = datetime(2024 + n % 3, 1 + n % 12, 1 + n % 28, n % 24, n % 60, n % 60, n * 7919)
    return {
        **_entry(n, f"{n:08X}"),
        "manufacturer_name": f"{text}{n}",
        "model_name": text or "x",
        "release_notes": text,
        "gbcs_version": None if n % 4 == 0 else text,
        "cpa_certificate_number": None if n % 2 else f"CPA\t{n}",
        "cpa_expiry_date": None if n % 3 == 0 else date(2030 + n % 5, 1 + n % 12, 1 + n % 28),
        "cpa_renewal_date": date(1, 1, 1) if n % 7 == 0 else None,
        "cpa_conditional_date": date(9999, 12, 31) if n % 5 == 0 else None,
        "smets1": n % 2 == 0,
        "removal_proposed": n % 3 == 0,
        "status": list(EntryStatus)[n % len(EntryStatus)],
        "status_effective_at": moment.replace(tzinfo=ZONES[n % len(ZONES)]),
        "first_active_at": None if n % 5 == 0 else moment.replace(tzinfo=ZONES[(n + 1) % 3]),
        "created_at": NOW,
        "updated_at": NOW.astimezone(ZONES[1]),
    }


# Where the two copies of a row differ on purpose.
_KEYS = ("id", "entry_id", "firmware_version")


def _stored(connection: Connection, numbers: range) -> list[tuple[object, ...]]:
    """Entries as the driver gives them back (the raw stored form), without their keys."""
    rows = connection.execute(
        select(text("*"))
        .select_from(text("entry"))
        .where(column("id").between(numbers.start, numbers.stop - 1))
        .order_by(column("id"))
    ).mappings()
    return [tuple(v for k, v in row.items() if k not in _KEYS) for row in rows]


@pytest.mark.parametrize(
    "ignore_conflicts_on",
    [(), ("entry_id",)],
    ids=["copy-or-executemany", "insert-ignoring-conflicts"],
)
def test_hostile_values_are_stored_as_a_core_insert_stores_them(
    engine: Engine, ignore_conflicts_on: tuple[str, ...]
) -> None:
    table = SQLModel.metadata.tables["entry"]
    count = 3 * len(HOSTILE) * len(ZONES)
    bulk = [_hostile_entry(n) for n in range(1, count + 1)]
    # The same rows under other keys and another firmware version (the live identity
    # is unique), through a Core insert.
    core = [
        {**row, "id": n + 1000, "entry_id": f"CPL-{n + 1000:06d}", "firmware_version": f"C{n}"}
        for n, row in enumerate(bulk, start=1)
    ]
    for n, row in enumerate(bulk, start=1):
        row["firmware_version"] = f"B{n}"
    with engine.begin() as connection:
        connection.execute(table.insert(), core)
        bulk_insert(
            connection,
            table,
            bulk,
            names=list(bulk[0]),
            ignore_conflicts_on=ignore_conflicts_on,
        )
    with engine.connect() as connection:
        by_bulk = _stored(connection, range(1, count + 1))
        by_core = _stored(connection, range(1001, 1001 + count))
        read = connection.execute(select(table).order_by(table.c.id)).mappings().all()
    assert len(by_bulk) == count
    assert by_bulk == by_core
    # And as given: text character for character, the same instants, the enum's words.
    for given, got in zip(bulk, read[:count], strict=True):
        for name in ("manufacturer_name", "model_name", "release_notes", "gbcs_version"):
            assert got[name] == given[name]
        for name in ("status", "status_effective_at", "first_active_at", "cpa_expiry_date"):
            assert got[name] == given[name]
        assert got["smets1"] is given["smets1"]


def test_a_duplicate_raises_integrity_error_and_stores_nothing(engine: Engine) -> None:
    table = SQLModel.metadata.tables["entry"]
    rows = [_entry(1, "00000001"), {**_entry(2, "00000002"), "entry_id": "CPL-000001"}]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        bulk_insert(connection, table, rows, names=list(rows[0]))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(table)).scalar_one() == 0


DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": psycopg.dialect()}
TYPES: dict[str, TypeEngine[Any]] = {
    "date": Date(),
    "utc datetime": UTCDateTime(),
    "enum word": EnumWord(EntryStatus, 20),
    "boolean": Boolean(),
    "text": String(),
    "integer": Integer(),
}
AWARE = [datetime(2026, 3, 29, 1, 30, 0, 0, tzinfo=zone) for zone in ZONES] + [
    datetime(1, 1, 1, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=1))),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 1, 5, 30, tzinfo=ZONES[1]),  # the same instant as the one above
]
GOOD: dict[str, list[Any]] = {
    "date": [None, date(1, 1, 1), date(999, 5, 6), date(2026, 12, 1), date(9999, 12, 31)]
    + [date(2026, 12, 1)] * 3
    + [datetime(2026, 12, 1, 23, 0, tzinfo=ZONES[2])],
    "utc datetime": [None, *AWARE, *AWARE],
    "enum word": [None, *EntryStatus, *(s.value for s in EntryStatus), EntryStatus.ACTIVE],
    "boolean": [None, True, False, 1, 0, True, 1.0, None],
    "text": [None, *HOSTILE],
    "integer": [None, 0, -1, 2**40, True],
}
BAD: dict[str, list[object]] = {
    "date": ["2026-12-01", 20261201],
    "utc datetime": [datetime(2026, 1, 1), date(2026, 1, 1), "2026-01-01T00:00:00Z"],
    "enum word": ["Active", "", 3],
    "boolean": [2, -1, "yes", "true"],
}


def _one_by_one(values: list[object], type_: TypeEngine[Any], dialect: Dialect) -> list[object]:
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return values if process is None else [process(v) for v in values]


@pytest.mark.parametrize("dialect_name", DIALECTS)
@pytest.mark.parametrize("type_name", TYPES)
def test_a_column_converts_as_its_type_converts_each_value(
    dialect_name: str, type_name: str
) -> None:
    dialect, type_ = DIALECTS[dialect_name], TYPES[type_name]
    values = GOOD[type_name]
    expected = _one_by_one(values, type_, dialect)
    got = bind_column(list(values), type_, dialect)
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]
    # With the cast of one column also in a column of one value (how constants go).
    for value in values:
        assert bind_column([value], type_, dialect) == _one_by_one([value], type_, dialect)


@pytest.mark.parametrize("dialect_name", DIALECTS)
@pytest.mark.parametrize("type_name", BAD)
def test_a_value_the_type_refuses_is_refused_alike(dialect_name: str, type_name: str) -> None:
    dialect, type_ = DIALECTS[dialect_name], TYPES[type_name]
    for bad in BAD[type_name]:
        values = [*GOOD[type_name][:3], bad]
        try:
            _one_by_one(values, type_, dialect)
        except Exception as exc:
            with pytest.raises(type(exc)):
                bind_column(values, type_, dialect)
        else:  # accepted one by one (e.g. PostgreSQL leaves dates to the server): alike
            assert bind_column(values, type_, dialect) == _one_by_one(values, type_, dialect)


def _names(connection: Connection) -> set[str]:
    found = inspect(connection).get_indexes("entry") + inspect(connection).get_indexes(
        "entry_event"
    )
    return {i["name"] for i in found if i["name"] is not None}


# These run on PostgreSQL only: SQLite drops the indexes whatever the tables hold (it has
# one writer at a time), which the SQLite tests of `bulk_load` cover.
postgres_only = pytest.mark.parametrize(
    "settings", [b for b in BACKENDS if b == "postgresql"], indirect=True
)


@postgres_only
def test_postgres_drops_the_indexes_of_empty_tables_for_the_load(engine: Engine) -> None:
    tables = SQLModel.metadata.tables
    with engine.connect() as connection:
        before = _names(connection)
    assert "ix_entry_search_trgm" in before
    with engine.begin() as connection, bulk_load(connection, [tables["entry"]], empty=True):
        assert "ix_entry_search_trgm" not in _names(connection)
        assert "uq_entry_live_identity" not in _names(connection)
        bulk_insert(connection, tables["entry"], [_entry(1, "00000001")], names=list(_entry(1, "")))
    with engine.connect() as connection:
        assert _names(connection) == before


@postgres_only
def test_postgres_keeps_the_indexes_unless_told_the_tables_are_empty(engine: Engine) -> None:
    tables = SQLModel.metadata.tables
    _load(engine, [_entry(1, "00000001")])
    with engine.begin() as connection, bulk_load(connection, [tables["entry"]]):
        assert "ix_entry_search_trgm" in _names(connection)
        bulk_insert(connection, tables["entry"], [_entry(2, "00000002")], names=list(_entry(2, "")))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tables["entry"])).scalar() == 2


@postgres_only
def test_postgres_does_not_wait_for_a_reader_and_keeps_the_indexes(engine: Engine) -> None:
    tables = SQLModel.metadata.tables
    with engine.connect() as reader:
        reader.execute(select(tables["entry"].c.id)).all()  # its transaction stays open
        assert reader.in_transaction()
        with (
            engine.begin() as connection,
            bulk_load(connection, [tables["entry"]], empty=True),
        ):
            assert "ix_entry_search_trgm" in _names(connection)
            rows = [_entry(1, "00000001")]
            bulk_insert(connection, tables["entry"], rows, names=list(rows[0]))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tables["entry"])).scalar() == 1


@postgres_only
def test_postgres_refuses_a_duplicate_when_the_dropped_index_is_rebuilt(engine: Engine) -> None:
    tables = SQLModel.metadata.tables
    before = _indexes(engine)
    rows = [_entry(1, "00000001"), _entry(2, "00000001")]  # two live copies of one model
    with (
        pytest.raises(IntegrityError),
        engine.begin() as connection,
        bulk_load(connection, [tables["entry"]], empty=True),
    ):
        bulk_insert(connection, tables["entry"], rows, names=list(rows[0]))
        assert "uq_entry_live_identity" not in _names(connection)
    assert _indexes(engine) == before
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tables["entry"])).scalar() == 0
