"""`db.bulk_insert` stores what a Core insert of the same rows stores, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from cpl_service.certificates.models import CertificateStatus
from cpl_service.db import bulk_insert, bulk_load

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
