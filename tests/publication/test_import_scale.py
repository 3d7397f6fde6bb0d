"""`import-cpl` reads from the database only what the file names, and stores in bulk."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.config import Settings
from cpl_service.entries.models import Entry
from cpl_service.errors import WorkbookRejectedError
from cpl_service.publication.importer import ImportResult, import_cpl
from tests.factories import make_entry
from tests.publication.test_import import REF, good_row, write_rows
from tests.submissions.test_context_scale import (
    Statement,
    assert_reads_only_named,
    fill_cpl,
    reads,
    statements,
)

__all__ = ["statements"]  # the fixture, shared with the upload tests


def run(engine: Engine, path: Path) -> ImportResult:
    with Session(engine, expire_on_commit=False) as session:
        return import_cpl(
            session=session, path=path, panel_decision_ref=REF, fallback_email="secas@x.test"
        )


def test_import_reads_only_what_the_file_names(
    engine: Engine, session: Session, statements: list[Statement], tmp_path: Path
) -> None:
    fill_cpl(session, 30)
    live = make_entry(
        session,
        status="active",
        manufacturer_id="AB01",
        model_id="0001",
        hardware_version="0101",
        cpa_expiry_date=good_row()["CPA Expiry Date"],
    )
    statements.clear()
    taken_by_number = f"CPL-{live.id:06d}"
    path = write_rows(
        tmp_path / "cpl.xlsx",
        [
            good_row(taken_by_number, **{"Firmware Version": "0000000B"}),
            good_row("CPL-009001", **{"Firmware Version": live.firmware_version}),
        ],
    )
    with pytest.raises(WorkbookRejectedError) as rejected:
        run(engine, path)
    found = {(i["row"], i["code"]) for i in rejected.value.issues}
    assert found == {(2, "entry-exists"), (3, "duplicate-device-model")}
    named = {taken_by_number, "CPL-009001", "AB01", live.firmware_version, "ZIG-1", "CPA-1"}
    assert reads(statements, "entry") and reads(statements, "assurance_certificate")
    assert_reads_only_named(statements, {*named, live.id})


def test_import_into_an_empty_list_looks_nothing_up(
    engine: Engine, statements: list[Statement], tmp_path: Path
) -> None:
    path = write_rows(
        tmp_path / "cpl.xlsx",
        [
            good_row("CPL-000007", **{"Firmware Version": "00000007"}),
            good_row("CPL-000009", **{"Firmware Version": "00000009"}),
        ],
    )
    statements.clear()
    result = run(engine, path)
    assert result.entries == 2
    for table in ("entry", "assurance_certificate"):
        looked_up = [sql for sql, _ in reads(statements, table) if "max(id)" not in sql]
        assert looked_up == [f"SELECT 1 FROM {table} LIMIT 1"]


def test_import_registers_only_the_new_certificates(
    settings: Settings, engine: Engine, session: Session, tmp_path: Path
) -> None:
    make_entry(
        session,
        status="active",
        zigbee_certificate_number="ZIG-1",
        dlms_certificate_number="DLMS-OLD",
        cpa_certificate_number="CPA-1",
        cpa_expiry_date=good_row()["CPA Expiry Date"],
    )
    rows = [
        good_row(
            f"CPL-{n:06d}",
            **{
                "Firmware Version": f"{n:08X}",
                "DLMS Certificate Number": f"DLMS-{n}",
                "CPA Certificate Number": "CPA-1" if n % 2 else f"CPA-{n}",
            },
        )
        for n in range(100, 1300)
    ]
    result = run(engine, write_rows(tmp_path / "cpl.xlsx", rows))
    assert result.entries == 1200
    # ZIG-1 and CPA-1 were known: 1,200 DLMS and 600 CPA certificates are new.
    assert result.certificates_added == 1800
    count = session.exec(select(func.count()).select_from(AssuranceCertificate)).one()
    assert count == 3 + 1800
    imported = session.exec(select(func.count()).where(col(Entry.id) >= 100)).one()
    assert imported == 1200
