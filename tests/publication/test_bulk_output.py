"""The bulk writers give exactly what the per-entry definitions give.

Publishing and the exports convert whole columns of raw driver values (see
`extracts.columns`); these tests hold them to the plain, per-entry forms on entries with
every awkward value: quotes, backslashes, control characters, non-ASCII text, formula
triggers, missing optional fields, times with microseconds, both flags.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from cpl_service.entries.models import Entry
from cpl_service.extracts.canonical import canonical_json
from cpl_service.extracts.models import Extract
from cpl_service.extracts.service import build_document, extract_payload, published_entries
from cpl_service.publication.exports import csv_value, iter_csv, write_xlsx
from cpl_service.publication.rows import COLUMNS, HEADINGS
from tests.publication.conftest import MakeEntry

ISSUED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
AWKWARD = [
    'Quote " and back\\slash',
    "Tab\tand\nnewline\x01",
    "Zoë Ørsted — Ünïcode ✓ 𝄞",
    "=SUM(A1)",
    "'+already quoted",
    "",
]


@pytest.fixture
def awkward_entries(make_entry: MakeEntry) -> None:
    moment = datetime(2024, 3, 1, 9, 30, 15, 987654, tzinfo=UTC)
    for number, text in enumerate(AWKWARD, start=1):
        make_entry(
            number,
            manufacturer_name=text,
            release_notes=text or "RN",
            panel_decision_ref=None if number % 2 else f"SECP_{text}",
            status=("active", "expired", "cancelled", "withdrawn")[number % 4],
            status_effective_at=moment + timedelta(hours=number),
            gbcs_version=None if number == 3 else "GBCS v3.2",
            cpa_renewal_date=date(2031, 1, number) if number % 3 == 0 else None,
            cpa_conditional_date=date(2029, 2, number) if number % 2 == 0 else None,
            smets1=number % 2 == 0,
            removal_proposed=number == 4,
            physical_device_type="PPMID" if number == 5 else "ESME_SINGLE",
        )
    # Never listed: in no output.
    make_entry(40, status="pending_review")
    # Listed after an entry whose ID sorts later in the database's collation order.
    make_entry(9, entry_id="CPL-000009", manufacturer_name="late")


def _previous(payload: bytes) -> Extract:
    return Extract(
        sequence=1,
        issued_at=ISSUED - timedelta(days=1),
        next_update=ISSUED,
        sha256="a" * 64,
        entry_count=0,
        change_count=0,
        payload=payload,
        signature=b"",
    )


@pytest.mark.usefixtures("awkward_entries")
def test_extract_bytes_are_the_canonical_json_of_the_document(engine: Engine) -> None:
    with Session(engine) as session:
        plain = build_document(
            entries=published_entries(session),
            sequence=2,
            issued_at=ISSUED,
            next_update=ISSUED + timedelta(days=3),
            previous=None,
        )
        fast = extract_payload(
            session=session,
            sequence=2,
            issued_at=ISSUED,
            next_update=ISSUED + timedelta(days=3),
            previous=None,
        )
        assert fast.payload == canonical_json(plain)
        assert fast.entry_count == 7 and fast.change_count == 7
        # Against a previous extract: one entry new since, one with another status.
        earlier = dict(plain, entries=[dict(e) for e in plain["entries"][1:]])
        earlier["entries"][0]["status"] = "Active"
        previous = _previous(canonical_json(earlier))
        again = extract_payload(
            session=session,
            sequence=2,
            issued_at=ISSUED,
            next_update=ISSUED + timedelta(days=3),
            previous=previous,
        )
        document = build_document(
            entries=published_entries(session),
            sequence=2,
            issued_at=ISSUED,
            next_update=ISSUED + timedelta(days=3),
            previous=previous,
        )
    assert again.payload == canonical_json(document)
    assert document["changes"] == {"added": ["CPL-000001"], "status_changed": ["CPL-000002"]}
    assert again.change_count == 2


@pytest.mark.usefixtures("awkward_entries")
def test_csv_cells_are_csv_value_of_each_entry(engine: Engine) -> None:
    with Session(engine) as session:
        body = b"".join(iter_csv(session=session)).decode("utf-8-sig")
        entries = session.exec(
            select(Entry).where(Entry.first_active_at != None).order_by(Entry.entry_id)  # noqa: E711
        ).all()
        expected = [[csv_value(c, getattr(e, c.field)) for c in COLUMNS] for e in entries]
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == list(HEADINGS)
    assert rows[1:] == expected
    assert len(expected) == 7


@pytest.mark.usefixtures("awkward_entries")
def test_xlsx_cells_match_the_csv(engine: Engine, tmp_path: Path) -> None:
    target = tmp_path / "cpl.xlsx"
    with Session(engine) as session:
        write_xlsx(session=session, target=target, now=ISSUED)
        csv_rows = list(
            csv.reader(io.StringIO(b"".join(iter_csv(session=session)).decode("utf-8-sig")))
        )[1:]
    sheet = load_workbook(target)["CPL"]
    for cells, text in zip(sheet.iter_rows(min_row=2), csv_rows, strict=True):
        for column, cell, expected in zip(COLUMNS, cells, text, strict=True):
            value: Any = cell.value
            if column.kind == "datetime":
                assert value.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == expected
            elif column.kind == "date":
                assert (value.date().isoformat() if value else "") == expected
            else:
                # XLSX writes a control character as an escape, which openpyxl leaves.
                assert (value or "") == expected.replace("\x01", "_x0001_"), column.heading
