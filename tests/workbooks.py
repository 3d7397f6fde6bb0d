"""Submission workbooks built by the tests, in the template's layout."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from openpyxl import Workbook

from cpl_service.clock import today
from cpl_service.workbook.headings import COLUMNS, SHEET_NAME


def valid_row(**overrides: Any) -> dict[str, Any]:
    """A row (heading -> value) every rule accepts for a manufacturer; override by heading."""
    row: dict[str, Any] = {
        "Submission Type": "New Device Model",
        "Manufacturer Name": "Acme Meters",
        "Manufacturer ID": "ab01",
        "Model Name": "Acme E1",
        "Model ID": "0001",
        "Hardware Version": "0100",
        "Firmware Version": "0002012F",
        "Physical Device Type": "ESME_SINGLE",
        "Technical Specification": "SMETS2 v4.2",
        "GBCS Version": "3.2",
        "Manufacturer Release Notes": "RN-2026-01",
        "ZigBee Certificate Number": "ZIG-100",
        "DLMS Certificate Number": "DLMS-100",
        "CPA Certificate Number": "CPA-100",
        "CPA Expiry Date": today() + timedelta(days=800),
        "Contact Email": "cpl@acme.example",
    }
    row.update(overrides)
    return row


def build_workbook(rows: list[dict[str, Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = SHEET_NAME
    headings = [c.heading for c in COLUMNS]
    sheet.append(headings)
    for row in rows:
        sheet.append([row.get(h) for h in headings])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def cell_text(value: object) -> str:
    """A cell value that must be text: openpyxl types every cell as any value a cell can hold."""
    assert isinstance(value, str), f"expected text in the cell, found {value!r}"
    return value
