"""`import-cpl`: the round trip through /cpl.xlsx, all-or-nothing checks, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.config import Settings, get_settings
from cpl_service.db import make_engine, upgrade
from cpl_service.entries.models import Entry, EntryEvent
from cpl_service.errors import UnsupportedFileError, WorkbookRejectedError
from cpl_service.publication.importer import import_cpl
from cpl_service.publication.rows import HEADINGS
from tests.publication.conftest import client_for, write_workbook

REF = "SECP_81_1906_12"


@pytest.fixture
def fresh_settings(tmp_path: Path) -> Iterator[Settings]:
    """A second, empty, migrated SQLite database."""
    folder = tmp_path / "fresh"
    settings = Settings(data_dir=folder, secas_email="secas@fresh.test")
    engine = make_engine(settings)
    upgrade(engine)
    engine.dispose()
    yield settings


def listing(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/api/v1/cpl", params={"limit": 1000})
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def export(client: TestClient, path: Path) -> Path:
    response = client.get("/api/v1/cpl.xlsx")
    assert response.status_code == 200
    path.write_bytes(response.content)
    return path


def run_import(settings: Settings, path: Path, ref: str = REF) -> Any:
    engine = make_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return import_cpl(
                session=session, path=path, panel_decision_ref=ref, fallback_email="secas@x.test"
            )
    finally:
        engine.dispose()


def good_row(entry_id: str = "CPL-000010", **changes: Any) -> dict[str, Any]:
    row = {
        "CPL Entry ID": entry_id,
        "Status": "Active",
        "Status Effective Date": "2024-01-02T03:04:05Z",
        "Manufacturer Name": "Acme",
        "Manufacturer ID": "ab01",
        "Model Name": "Acme E1",
        "Model ID": "0001",
        "Hardware Version": "0101",
        "Firmware Version": "0000000A",
        "Physical Device Type": "Single Element Electricity Metering Equipment",
        "Technical Specification": "SMETS2 v4.2",
        "GBCS Version": "3.2",
        "Manufacturer Release Notes": "RN-1",
        "ZigBee Certificate Number": "ZIG-1",
        "DLMS Certificate Number": "DLMS-1",
        "CPA Certificate Number": "CPA-1",
        "CPA Expiry Date": date(2030, 1, 1),
    }
    row.update(changes)
    return row


def write_rows(path: Path, rows: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> Path:
    headings = list(HEADINGS) + list(extra)
    return write_workbook(path, headings, [[r.get(h) for h in headings] for r in rows])


def test_round_trip_keeps_every_entry(
    cpl_client: TestClient,
    mixed_entries: list[Entry],
    fresh_settings: Settings,
    tmp_path: Path,
) -> None:
    before = listing(cpl_client)
    path = export(cpl_client, tmp_path / "cpl.xlsx")

    result = run_import(fresh_settings, path)
    assert result.entries == 5
    assert result.by_status == {"active": 3, "expired": 1, "withdrawn": 1}

    with client_for(fresh_settings) as client:
        assert listing(client) == before
        assert (
            client.get("/api/v1/cpl.csv").content.split(b"\r\n")[1:]
            == cpl_client.get("/api/v1/cpl.csv").content.split(b"\r\n")[1:]
        )

    engine = make_engine(fresh_settings)
    with Session(engine) as session:
        entries = {e.entry_id: e for e in session.exec(select(Entry)).all()}
        assert {e.id for e in entries.values()} == {1, 2, 3, 6, 7}
        assert all(e.first_active_at is not None for e in entries.values())
        assert entries["CPL-000001"].contact_email == "secas@x.test"
        assert entries["CPL-000001"].submission_type == "New Device Model"
        events = session.exec(select(EntryEvent)).all()
        assert len(events) == 5
        assert {(e.action, e.actor_name, e.panel_decision_ref) for e in events} == {
            ("imported", "import-cpl", REF)
        }
        assert {e.to_status for e in events} == {"active", "expired", "withdrawn"}
        assert all(e.reason == "Imported from cpl.xlsx" for e in events)
        certificates = {
            (c.kind, c.number): c for c in session.exec(select(AssuranceCertificate)).all()
        }
        assert set(certificates) == {
            ("ZigBee", "ZIG-100"),
            ("DLMS", "DLMS-200"),
            ("CPA", "CPA-300"),
            ("CPA", "CPA-301"),
        }
        assert certificates[("CPA", "CPA-301")].cpa_conditional_date == date(2026, 12, 31)
        assert certificates[("CPA", "CPA-300")].cpa_expiry_date == date(2030, 6, 30)
    engine.dispose()

    # The same file again: every ID is taken now, so nothing more is imported.
    with pytest.raises(WorkbookRejectedError) as caught:
        run_import(fresh_settings, path)
    assert {i["code"] for i in caught.value.issues} >= {"entry-exists"}


def test_import_into_the_parametrised_database(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    path = write_rows(
        tmp_path / "in.xlsx",
        [
            good_row("CPL-000010"),
            good_row(
                "CPL-000042",
                **{
                    "Status": "Cancelled",
                    "Firmware Version": "0000000B",
                    "Panel Decision Reference": None,
                    "Contact Email": "ops@acme.example",
                },
            ),
        ],
        extra=("Contact Email",),
    )
    result = run_import(settings, path)
    assert result.entries == 2
    with Session(engine) as session:
        cancelled = session.exec(select(Entry).where(Entry.entry_id == "CPL-000042")).one()
        assert cancelled.id == 42 and cancelled.status == "cancelled"
        # A removal always names a Panel decision: the import's, if the file gives none.
        assert cancelled.panel_decision_ref == REF
        assert cancelled.contact_email == "ops@acme.example"
        active = session.exec(select(Entry).where(Entry.id == 10)).one()
        assert active.manufacturer_id == "AB01"
        assert active.gbcs_version == "GBCS v3.2"
        assert active.physical_device_type == "ESME_SINGLE"
        # New entries made by the service carry on after the imported IDs.
        newcomer = Entry(
            **{
                **{k: getattr(active, k) for k in Entry.model_fields if k not in {"id"}},
                "entry_id": "tmp",
                "firmware_version": "000000FF",
            }
        )
        session.add(newcomer)
        session.commit()
        assert newcomer.id is not None and newcomer.id > 42


def test_one_bad_row_imports_nothing(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "bad.xlsx",
        [
            good_row("CPL-000010"),
            good_row("CPL-000011", **{"Firmware Version": "XYZ", "Status": "pending_review"}),
            good_row("CPL-000010", **{"Firmware Version": "0000000C"}),
            good_row("CPL-000012", **{"Physical Device Type": "IHD"}),
            good_row("CPL-000013"),  # same Device Model as CPL-000010, both Active
            good_row(
                "CPL-000014",
                **{"Firmware Version": "0000000D", "CPA Expiry Date": date(2031, 1, 1)},
            ),
            good_row("CPL-15", **{"Firmware Version": "0000000E"}),
            good_row(
                "CPL-000016",
                **{"Firmware Version": "0000000F", "Technical Specification": "SMETS9 v1"},
            ),
        ],
    )
    with pytest.raises(WorkbookRejectedError) as caught:
        run_import(settings, path)
    issues = caught.value.issues
    found = {(i["row"], i["column"], i["code"]) for i in issues}
    assert (3, "Firmware Version", "invalid-hex") in found
    assert (3, "Status", "invalid-status") in found
    assert (4, "CPL Entry ID", "duplicate-entry-id") in found
    assert (5, "Physical Device Type", "invalid-device-type") in found
    assert (6, "Firmware Version", "duplicate-device-model") in found
    assert (7, "CPA Expiry Date", "cpa-dates-conflict") in found
    assert (8, "CPL Entry ID", "invalid-entry-id") in found
    assert (9, "Technical Specification", "unknown-specification") in found
    assert all(i["message"] for i in issues)
    assert "Type 2" in next(i["message"] for i in issues if i["row"] == 5)
    with Session(engine) as session:
        assert session.exec(select(Entry)).all() == []
        assert session.exec(select(AssuranceCertificate)).all() == []


def test_conflict_with_the_register_and_existing_entries(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        session.add(
            AssuranceCertificate(kind="CPA", number="CPA-1", cpa_expiry_date=date(2029, 1, 1))
        )
        session.commit()
    path = write_rows(tmp_path / "c.xlsx", [good_row("CPL-000010")])
    with pytest.raises(WorkbookRejectedError) as caught:
        run_import(settings, path)
    assert [i["code"] for i in caught.value.issues] == ["cpa-dates-conflict"]


def test_missing_columns_and_unreadable_files(settings: Settings, tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "m.xlsx", ["CPL Entry ID", "Status"], [["CPL-000001", "Active"]]
    )
    with pytest.raises(WorkbookRejectedError) as caught:
        run_import(settings, path)
    assert {i["code"] for i in caught.value.issues} == {"missing-column"}
    assert any(i["column"] == "Manufacturer ID" for i in caught.value.issues)

    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook at all")
    with pytest.raises(UnsupportedFileError):
        run_import(settings, junk)


def test_cli_import(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cpl_service.cli import main

    monkeypatch.setenv("CPL_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("CPL_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("CPL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        bad = write_rows(tmp_path / "bad.xlsx", [good_row(**{"Manufacturer ID": "ZZ"})])
        assert main(["import-cpl", str(bad), "--panel-decision-ref", REF]) != 0
        err = capsys.readouterr().err
        assert "row 2, Manufacturer ID" in err and "invalid-hex" in err

        good = write_rows(tmp_path / "good.xlsx", [good_row()])
        assert main(["import-cpl", str(good), "--panel-decision-ref", REF]) == 0
        assert "imported 1 entries" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    with Session(engine) as session:
        event = session.exec(select(EntryEvent)).one()
        assert event.panel_decision_ref == REF and event.action == "imported"
