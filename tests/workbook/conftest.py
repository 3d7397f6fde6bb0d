"""Workbooks built in the tests themselves, and a context like the service would fill."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import openpyxl
import pytest

from cpl_service.workbook import (
    CheckContext,
    CheckReport,
    CpaOnRecord,
    PreviousEntry,
    SpecificationInfo,
    check_workbook,
    read_workbook,
)
from cpl_service.workbook.headings import COLUMNS, SHEET_NAME

UPLOAD_DATE = date(2026, 1, 15)

SPECIFICATIONS = [
    SpecificationInfo("SMETS1 v1.2", "SMETS1"),
    SpecificationInfo("SMETS2 v2.0", "SMETS2", date(2021, 6, 30)),
    SpecificationInfo("SMETS2 v4.2", "SMETS2"),
    SpecificationInfo("CHTS v4.2", "CHTS"),
    SpecificationInfo("GBCS v2.0", "GBCS", date(2021, 6, 30)),
    SpecificationInfo("GBCS v3.2", "GBCS"),
    SpecificationInfo("GBCS v4.0", "GBCS"),
]

HEADINGS = [c.heading for c in COLUMNS]

# CPL-000001: the Active entry a valid Firmware Update follows (firmware 00000001).
ENTRIES = {
    "CPL-000001": PreviousEntry(
        "CPL-000001", "active", "AB01", "1234", "0101", "00000001", "ESME_SINGLE"
    ),
    "CPL-000002": PreviousEntry(
        "CPL-000002", "withdrawn", "AB01", "1234", "0101", "00000001", "ESME_SINGLE"
    ),
    "CPL-000003": PreviousEntry(
        "CPL-000003", "active", "AB01", "9999", "0101", "00000001", "ESME_SINGLE"
    ),
}


def valid_row_dict() -> dict[str, Any]:
    return {
        "Submission Type": "New Device Model",
        "Manufacturer Name": "Acme Meters Ltd",
        "Manufacturer ID": "AB01",
        "Model Name": "Acme E1",
        "Model ID": "1234",
        "Hardware Version": "0101",
        "Firmware Version": "0002012F",
        "Physical Device Type": "Single Element Electricity Metering Equipment",
        "Technical Specification": "SMETS2 v4.2",
        "GBCS Version": "GBCS v3.2",
        "Manufacturer Release Notes": "RN-2026-01",
        "ZigBee Certificate Number": "ZIG-0001",
        "DLMS Certificate Number": "DLMS-0001",
        "CPA Certificate Number": "CPA-0001",
        "CPA Expiry Date": date(2030, 1, 1),
        "CPA Conditional Date": None,
        "CPA Certificate Type": None,
        "CPA Renewal Date": None,
        "Manufacturer Image Hash": None,
        "Manufacturer Image Hash Creator": None,
        "Certificate Mapping Evidence": None,
        "Previous CPL Entry ID": None,
        "SMETS1 Compliance Statement": None,
        "Contact Email": "compliance@acme.example.com",
    }


@pytest.fixture
def valid_row() -> dict[str, Any]:
    """A row (heading -> value) that passes every rule for a manufacturer."""
    return valid_row_dict()


def make_context(role: str = "manufacturer", **overrides: Any) -> CheckContext:
    values: dict[str, Any] = {
        "submitter_role": role,
        "upload_date": UPLOAD_DATE,
        "specifications": {s.name: s for s in SPECIFICATIONS},
        "live_identities": frozenset({("AB01", "5555", "0101", "00000001", "GSME")}),
        "cpa_certificates": {"CPA-OLD": CpaOnRecord(expiry_date=date(2030, 6, 30))},
        "entries": ENTRIES,
    }
    values.update(overrides)
    return CheckContext(**values)


def build_xlsx(
    rows: Sequence[dict[str, Any]],
    *,
    headings: Sequence[str] | None = None,
    sheet_name: str = SHEET_NAME,
    leading_rows: Sequence[Sequence[Any]] = (),
    formulas: bool = False,
) -> bytes:
    """A workbook with `leading_rows`, then the heading row, then one row per dict.

    Text starting with `=` is written as text unless `formulas` is set (openpyxl would
    otherwise write it as a formula without a cached value).
    """
    headings = list(headings if headings is not None else HEADINGS)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_name
    for leading in leading_rows:
        sheet.append(list(leading))
    sheet.append(headings)
    first = len(leading_rows) + 2
    for number, values in enumerate(rows, start=first):
        for column, heading in enumerate(headings, start=1):
            value = values.get(heading)
            if value is None:
                continue
            cell = sheet.cell(row=number, column=column, value=value)
            if not formulas and isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def check_xlsx(data: bytes, *, role: str = "manufacturer", **context: Any) -> CheckReport:
    return check_workbook(read_workbook(data), context=make_context(role, **context))


def check_dicts(rows: Sequence[dict[str, Any]], **kwargs: Any) -> CheckReport:
    return check_xlsx(build_xlsx(rows), **kwargs)


def codes(report: CheckReport) -> set[tuple[int, str, str]]:
    return {(i.row, i.column, i.code) for i in report.issues}
