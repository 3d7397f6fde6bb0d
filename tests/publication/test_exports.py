"""CSV and XLSX downloads: headings, dates, neutralised formulas, Changes and About."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from sqlalchemy import Engine
from sqlmodel import Session

from cpl_service.entries.models import Entry
from cpl_service.extracts.models import Extract
from cpl_service.publication.rows import HEADINGS, neutralise, restore
from tests.publication.conftest import MakeEntry
from tests.workbooks import cell_text

HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)"]


def get_csv(client: TestClient) -> list[dict[str, str]]:
    response = client.get("/api/v1/cpl.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="cpl.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def get_xlsx(client: TestClient) -> Workbook:
    response = client.get("/api/v1/cpl.xlsx")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="cpl.xlsx"'
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return load_workbook(io.BytesIO(response.content))


@pytest.mark.parametrize(
    "text", [*HOSTILE, "\tx", "\rx", "'=x", "''+y", "plain", "'quoted", "", "a=b"]
)
def test_neutralise_is_safe_and_reversible(text: str) -> None:
    safe = neutralise(text)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore(safe) == text


def test_csv_lists_entries_with_headings(
    cpl_client: TestClient, mixed_entries: list[Entry]
) -> None:
    rows = get_csv(cpl_client)
    assert tuple(rows[0]) == HEADINGS
    assert [r["CPL Entry ID"] for r in rows] == [
        "CPL-000001",
        "CPL-000002",
        "CPL-000003",
        "CPL-000006",
        "CPL-000007",
    ]
    expired = rows[1]
    assert expired["Status"] == "Expired"
    assert expired["Status Effective Date"] == "2024-09-02T14:05:07Z"
    assert expired["CPA Conditional Date"] == "2026-12-31"
    assert expired["Physical Device Type"] == "Gas Smart Meter"
    assert rows[4]["Manufacturer Name"] == "Legacy Métering"
    assert rows[4]["SMETS1"] == "Yes" and rows[4]["GBCS Version"] == ""


def test_csv_neutralises_formulas(cpl_client: TestClient, mixed_entries: list[Entry]) -> None:
    hostile = get_csv(cpl_client)[3]
    assert hostile["Model Name"] == "'=cmd|' /C calc'!A0"
    assert hostile["Manufacturer Release Notes"] == "'+1"
    assert hostile["Manufacturer Image Hash Creator"] == "'-1"
    assert hostile["Manufacturer Name"] == "'@SUM(1)"
    for row in get_csv(cpl_client):
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_xlsx_cpl_sheet_is_a_pleasant_table(
    cpl_client: TestClient, mixed_entries: list[Entry]
) -> None:
    workbook = get_xlsx(cpl_client)
    assert workbook.sheetnames == ["CPL", "Changes", "About"]
    sheet = workbook["CPL"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:Z{len(mixed_entries) - 2 + 1}"
    headings = [c.value for c in sheet[1]]
    assert tuple(headings) == HEADINGS
    assert sheet.column_dimensions["A"].width and sheet.column_dimensions["A"].width > 10
    rows = {r[0].value: dict(zip(headings, r, strict=True)) for r in sheet.iter_rows(min_row=2)}
    assert set(rows) == {"CPL-000001", "CPL-000002", "CPL-000003", "CPL-000006", "CPL-000007"}
    expired = rows["CPL-000002"]
    assert expired["CPA Expiry Date"].value == datetime(2029, 1, 31)
    assert expired["CPA Expiry Date"].is_date
    assert "yy" in expired["CPA Expiry Date"].number_format
    assert expired["Status Effective Date"].value == datetime(2024, 9, 2, 14, 5, 7)
    assert expired["Status Effective Date"].is_date
    assert expired["Status"].value == "Expired"
    assert expired["Status"].fill.fgColor.rgb.endswith("FFEB9C")
    assert rows["CPL-000001"]["Status"].fill.fgColor.rgb.endswith("C6EFCE")
    assert rows["CPL-000006"]["Removal Proposed"].value == "Yes"


def test_xlsx_never_holds_a_formula(cpl_client: TestClient, mixed_entries: list[Entry]) -> None:
    workbook = get_xlsx(cpl_client)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
    sheet = workbook["CPL"]
    headings = [c.value for c in sheet[1]]
    hostile = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "CPL-000006")
    by_heading = dict(zip(headings, hostile, strict=True))
    assert by_heading["Model Name"].value == "'=cmd|' /C calc'!A0"
    assert by_heading["Model Name"].data_type == "s"
    assert by_heading["Manufacturer Name"].value == "'@SUM(1)"
    assert by_heading["Manufacturer Release Notes"].value == "'+1"
    assert by_heading["Manufacturer Image Hash Creator"].value == "'-1"


def test_changes_sheet_lists_everything_before_the_first_publication(
    cpl_client: TestClient, mixed_entries: list[Entry]
) -> None:
    sheet = get_xlsx(cpl_client)["Changes"]
    assert sheet.freeze_panes == "A2"
    ids = [r[0].value for r in sheet.iter_rows(min_row=2)]
    assert ids == ["CPL-000001", "CPL-000002", "CPL-000003", "CPL-000006", "CPL-000007"]
    assert {r[1].value for r in sheet.iter_rows(min_row=2)} == {"Added"}


def test_changes_sheet_lists_changes_since_the_last_publication(
    cpl_client: TestClient, engine: Engine, make_entry: MakeEntry
) -> None:
    published = datetime(2024, 6, 1, tzinfo=UTC)
    before = datetime(2024, 5, 1, tzinfo=UTC)
    after = datetime(2024, 7, 1, tzinfo=UTC)
    make_entry(1, status_effective_at=before)  # unchanged since
    make_entry(2, status_effective_at=after)  # added since
    make_entry(
        3, status="cancelled", status_effective_at=after, first_active_at=before
    )  # removed since
    make_entry(4, status="pending_review", status_effective_at=after)
    with Session(engine) as session:
        session.add(
            Extract(
                sequence=1,
                issued_at=published,
                next_update=after,
                sha256="0" * 64,
                entry_count=1,
                change_count=1,
                payload=b"{}",
                signature=b"sig",
            )
        )
        session.commit()
    workbook = get_xlsx(cpl_client)
    rows = [[c.value for c in r] for r in workbook["Changes"].iter_rows(min_row=2)]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("CPL-000002", "Added", "Active"),
        ("CPL-000003", "Status changed", "Cancelled"),
    ]
    about = {r[0].value: r[1].value for r in workbook["About"].iter_rows() if len(r) > 1}
    assert about["Entries listed"] == 3
    assert about["Changes listed"] == 2
    assert "extract 1" in cell_text(about["Changes since"])
    assert isinstance(about["Generated at (UTC)"], datetime)


def test_empty_list_exports(cpl_client: TestClient) -> None:
    assert get_csv(cpl_client) == []
    workbook = get_xlsx(cpl_client)
    assert [c.value for c in workbook["CPL"][1]] == list(HEADINGS)
    assert workbook["CPL"].max_row == 1


def test_about_sheet_counts(cpl_client: TestClient, mixed_entries: list[Entry]) -> None:
    about = {
        r[0].value: r[1].value for r in get_xlsx(cpl_client)["About"].iter_rows() if len(r) > 1
    }
    assert about["Entries listed"] == 5
    assert about["  Active"] == 3 and about["  Expired"] == 1 and about["  Withdrawn"] == 1
    assert about["  Cancelled"] == 0


def test_dates_are_dates_not_text(cpl_client: TestClient, make_entry: MakeEntry) -> None:
    make_entry(1, cpa_conditional_date=date(2027, 2, 3))
    sheet = get_xlsx(cpl_client)["CPL"]
    headings = [c.value for c in sheet[1]]
    row = dict(zip(headings, next(sheet.iter_rows(min_row=2)), strict=True))
    assert row["CPA Conditional Date"].value == datetime(2027, 2, 3)
    assert row["CPA Conditional Date"].number_format == "yyyy-mm-dd"


def test_xlsx_prints_well(cpl_client: TestClient, mixed_entries: list[Entry]) -> None:
    workbook = get_xlsx(cpl_client)
    for title in ("CPL", "Changes"):
        sheet = workbook[title]
        assert sheet.page_setup.orientation == "landscape"
        setup = sheet.sheet_properties.pageSetUpPr
        assert setup is not None and setup.fitToPage
        # OOXML's default for an omitted fitToWidth is 1 page wide.
        assert sheet.page_setup.fitToWidth in (None, 1)
        assert sheet.page_setup.fitToHeight == 0  # as many pages down as needed
        assert sheet.print_title_rows == "$1:$1"  # the heading row on every page
        # Headings wrap instead of being cut off: the row is tall enough for the
        # longest heading in its column's width.
        assert sheet["A1"].alignment.wrap_text
        assert sheet.row_dimensions[1].height >= 30


def test_xlsx_heading_row_is_styled(cpl_client: TestClient, mixed_entries: list[Entry]) -> None:
    heading = get_xlsx(cpl_client)["CPL"]["A1"]
    assert heading.font.b
    assert heading.fill.fgColor.rgb.endswith("1F4E78")
