"""An upload reads from the database only what its rows name, however big the CPL is."""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlmodel import Session, SQLModel

from cpl_service.clock import today, utcnow
from cpl_service.config import Settings
from cpl_service.errors import WorkbookRejectedError
from tests.conftest import MakeParty
from tests.factories import make_entry, submit_rows
from tests.workbooks import valid_row

EXPIRY = today() + timedelta(days=800)
Statement = tuple[str, Any]


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[Statement]]:
    """Every SQL statement the engine sends, with its parameters, while the test runs."""
    sent: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        sent.append((sql, parameters))

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def reads(sent: list[Statement], table: str) -> list[Statement]:
    """The SELECTs that read rows of `table`."""
    named = re.compile(rf"\b(FROM|JOIN)\s+{table}\b", re.IGNORECASE)
    return [
        (sql, p)
        for sql, p in sent
        if sql.lstrip().upper().startswith("SELECT") and named.search(sql)
    ]


def values_of(parameters: Any) -> set[Any]:
    if isinstance(parameters, dict):
        return set(parameters.values())
    if isinstance(parameters, list | tuple):
        return {
            v
            for p in parameters
            for v in (values_of(p) if isinstance(p, dict | list | tuple) else [p])
        }
    return set()


def assert_reads_only_named(sent: list[Statement], named: AbstractSet[object]) -> None:
    """Every read of entries or certificates is narrowed to values the rows give."""
    for table in ("entry", "assurance_certificate"):
        for sql, parameters in reads(sent, table):
            if re.search(r"max\(\s*id\s*\)", sql, re.IGNORECASE):
                continue  # the next entry number: one end of the primary key index
            if re.fullmatch(r"SELECT 1 FROM \w+ LIMIT 1", sql):
                continue  # whether the table has any row at all: one row at most
            if re.search(r"WHERE entry\.submission_id = ", sql):
                continue  # the new submission's own entries (for its emails): one index range
            assert "WHERE" in sql.upper() or "JOIN" in sql.upper(), sql
            assert values_of(parameters) & named, f"{sql} {parameters} names nothing uploaded"


def fill_cpl(session: Session, count: int) -> None:
    """`count` Active entries and their certificates that no upload here names."""
    now = utcnow()
    certificate = SQLModel.metadata.tables["assurance_certificate"]
    session.connection().execute(
        certificate.insert(),
        [
            {
                "kind": "CPA",
                "number": f"OLD-CPA-{n}",
                "cpa_certificate_type": "Fixed-term",
                "cpa_expiry_date": EXPIRY,
                "status": "valid",
                "created_at": now,
            }
            for n in range(count)
        ],
    )
    session.commit()
    for n in range(count):
        make_entry(
            session,
            status="active",
            manufacturer_id="EE01",
            firmware_version=f"{n:08X}",
            cpa_certificate_number=f"OLD-CPA-{n}",
            zigbee_certificate_number=f"OLD-ZIG-{n}",
            dlms_certificate_number=f"OLD-DLMS-{n}",
        )


def test_checks_read_only_what_the_rows_name(
    settings: Settings,
    engine: Engine,
    session: Session,
    make_party: MakeParty,
    statements: list[Statement],
) -> None:
    fill_cpl(session, 30)
    live = make_entry(session, status="active", manufacturer_id="AB01", firmware_version="0000AB01")
    make_entry(
        session,
        status="active",
        manufacturer_id="AB02",
        cpa_certificate_number="CPA-ON-RECORD",
        cpa_expiry_date=EXPIRY + timedelta(days=1),
    )
    party, _ = make_party("manufacturer")
    statements.clear()
    rows = [
        # the live Device Model again, typed in lower case
        valid_row(**{"Manufacturer ID": "ab01", "Firmware Version": "0000ab01"}),
        # a certificate on record, with another expiry date
        valid_row(**{"Firmware Version": "00000C01", "CPA Certificate Number": "CPA-ON-RECORD"}),
        valid_row(**{"Firmware Version": "00000C02", "Previous CPL Entry ID": live.entry_id}),
    ]
    with pytest.raises(WorkbookRejectedError) as rejected:
        submit_rows(settings, engine, party, rows)
    found = {(i["row"], i["code"]) for i in rejected.value.issues}
    assert (2, "duplicate-entry") in found
    assert (3, "cpa-expiry-conflict") in found
    named = {"AB01", "0000AB01", "00000C01", "00000C02", "CPA-100", "CPA-ON-RECORD", live.entry_id}
    assert reads(statements, "entry") and reads(statements, "assurance_certificate")
    assert_reads_only_named(statements, named)

    statements.clear()
    accepted = submit_rows(settings, engine, party, [valid_row(**{"Firmware Version": "00000D01"})])
    assert accepted.created
    assert_reads_only_named(statements, {"AB01", "00000D01", "CPA-100"})


def registered(session: Session, prefix: str) -> dict[tuple[str, str], int]:
    table = SQLModel.metadata.tables["assurance_certificate"]
    rows = session.connection().execute(
        sa.select(table.c.kind, table.c.number, table.c.id).where(table.c.number.like(f"{prefix}%"))
    )
    return {(kind, number): pk for kind, number, pk in rows}


def test_upload_of_thousands_of_distinct_certificates(
    settings: Settings,
    engine: Engine,
    session: Session,
    make_party: MakeParty,
    statements: list[Statement],
) -> None:
    count, known = 3000, 1000
    now = utcnow()
    table = SQLModel.metadata.tables["assurance_certificate"]
    session.connection().execute(
        table.insert(),
        [
            {
                "kind": kind,
                "number": f"U-{kind}-{n}",
                "cpa_certificate_type": "Fixed-term" if kind == "CPA" else None,
                "cpa_expiry_date": EXPIRY if kind == "CPA" else None,
                "status": "valid",
                "created_at": now,
            }
            for n in range(0, count, count // known)
            for kind in ("ZigBee", "DLMS", "CPA")
        ],
    )
    session.commit()
    before = registered(session, "U-")
    assert len(before) == 3 * known
    party, _ = make_party("manufacturer")
    rows = [
        valid_row(
            **{
                "Firmware Version": f"{n:08X}",
                "ZigBee Certificate Number": f"U-ZigBee-{n}",
                "DLMS Certificate Number": f"U-DLMS-{n}",
                "CPA Certificate Number": f"U-CPA-{n}",
                "CPA Expiry Date": EXPIRY,
            }
        )
        for n in range(count)
    ]
    statements.clear()
    result = submit_rows(settings, engine, party, rows)
    sent = list(statements)
    assert result.created
    session.expire_all()
    after = registered(session, "U-")
    assert set(after) == {
        (k, f"U-{k}-{n}") for n in range(count) for k in ("ZigBee", "DLMS", "CPA")
    }
    assert {key: after[key] for key in before} == before  # the known ones are kept as they were
    # One read per batch of 500: the identity and CPA lookups grow with the upload, in steps.
    assert len(reads(sent, "assurance_certificate")) == count // 500
    assert len([s for s, _ in reads(sent, "entry") if "VALUES" in s.upper()]) == count // 500
    assert_reads_only_named(sent, {n for row in rows for n in row.values() if isinstance(n, str)})
