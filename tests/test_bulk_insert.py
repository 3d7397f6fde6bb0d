"""`db.bulk_insert` stores what a Core insert of the same rows stores, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from cpl_service.certificates.models import CertificateStatus
from cpl_service.db import bulk_insert

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
