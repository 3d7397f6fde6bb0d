"""Fixtures for the public CPL: entries made straight in the database, an app with the
CPL router mounted, and a writer for hand-made CPL workbooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session

from cpl_service.config import Settings
from cpl_service.entries.models import Entry, format_entry_id

LISTED = {"active", "expired", "cancelled", "withdrawn"}
BASE_TIME = datetime(2024, 3, 1, 9, 30, 15, tzinfo=UTC)


def entry_fields(number: int, **overrides: Any) -> dict[str, Any]:
    """A valid SMETS2 ESME entry; `overrides` change any field."""
    fields: dict[str, Any] = {
        "id": number,
        "entry_id": format_entry_id(number),
        "submission_type": "New Device Model",
        "manufacturer_name": "Acme Meters Ltd",
        "manufacturer_id": "AB01",
        "model_name": f"Acme E{number}",
        "model_id": f"{number:04X}",
        "hardware_version": "0101",
        "firmware_version": f"{number:08X}",
        "physical_device_type": "ESME_SINGLE",
        "technical_specification": "SMETS2 v4.2",
        "gbcs_version": "GBCS v3.2",
        "release_notes": f"RN-{number}",
        "zigbee_certificate_number": "ZIG-100",
        "dlms_certificate_number": "DLMS-200",
        "cpa_certificate_number": "CPA-300",
        "cpa_expiry_date": date(2030, 6, 30),
        "cpa_conditional_date": None,
        "contact_email": "contact@acme.example",
        "status": "active",
        "status_effective_at": BASE_TIME,
    }
    fields.update(overrides)
    if "cpa_certificate_type" not in overrides:
        fields["cpa_certificate_type"] = "Fixed-term" if fields["cpa_certificate_number"] else None
    if "first_active_at" not in overrides:
        fields["first_active_at"] = (
            fields["status_effective_at"] if fields["status"] in LISTED else None
        )
    return fields


MakeEntry = Callable[..., Entry]


@pytest.fixture
def make_entry(engine: Engine) -> MakeEntry:
    """Insert an entry directly (bypassing the workflow) and return it."""

    def make(number: int, **overrides: Any) -> Entry:
        with Session(engine, expire_on_commit=False) as session:
            entry = Entry(**entry_fields(number, **overrides))
            session.add(entry)
            session.commit()
            return entry

    return make


def mount_cpl(app: Any) -> None:
    """Mount the CPL router unless `create_app` already does."""
    from cpl_service.api.routes import cpl

    if not any(getattr(r, "path", "") == "/api/v1/cpl" for r in app.routes):
        app.include_router(cpl.router, prefix="/api/v1")


@contextmanager
def client_for(settings: Settings) -> Iterator[TestClient]:
    """A client of an app with the public CPL routes; its engine is disposed on leaving."""
    from cpl_service.main import create_app

    app = create_app(settings)
    mount_cpl(app)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.state.engine.dispose()


@pytest.fixture
def cpl_client(settings: Settings) -> Iterator[TestClient]:
    """A client of an app with the public CPL routes."""
    with client_for(settings) as test_client:
        yield test_client


@pytest.fixture
def mixed_entries(make_entry: MakeEntry) -> list[Entry]:
    """Entries in every status, one with hostile text, one SMETS1."""
    later = datetime(2024, 9, 2, 14, 5, 7, tzinfo=UTC)
    return [
        make_entry(1),
        make_entry(
            2,
            physical_device_type="GSME",
            dlms_certificate_number=None,
            cpa_certificate_number="CPA-301",
            cpa_expiry_date=date(2029, 1, 31),
            cpa_conditional_date=date(2026, 12, 31),
            status="expired",
            panel_decision_ref="SECP_80_0101_01",
            status_effective_at=later,
            first_active_at=BASE_TIME,
        ),
        make_entry(
            3,
            manufacturer_name="Zeta Devices",
            manufacturer_id="CD02",
            physical_device_type="PPMID",
            dlms_certificate_number=None,
            cpa_certificate_number=None,
            cpa_expiry_date=None,
            status="withdrawn",
            panel_decision_ref="SECP_81_1906_12",
            status_effective_at=later,
            first_active_at=BASE_TIME,
        ),
        make_entry(4, status="pending_review", model_name="Secret Pending Model"),
        make_entry(5, status="rejected", model_name="Secret Rejected Model"),
        make_entry(
            6,
            manufacturer_name="@SUM(1)",
            model_name="=cmd|' /C calc'!A0",
            release_notes="+1",
            manufacturer_image_hash="AB" * 32,
            manufacturer_image_hash_creator="-1",
            removal_proposed=True,
        ),
        make_entry(
            7,
            manufacturer_name="Legacy Métering",
            manufacturer_id="EF03",
            physical_device_type="CH",
            technical_specification="SMETS1 v1.2",
            gbcs_version=None,
            smets1=True,
            dlms_certificate_number=None,
            cpa_certificate_number=None,
            cpa_expiry_date=None,
        ),
    ]


def write_workbook(path: Path, headings: list[str], rows: list[list[Any]]) -> Path:
    """A hand-made workbook with a `CPL` sheet."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "CPL"
    sheet.append(headings)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path
