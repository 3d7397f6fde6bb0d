"""The blank submission workbook served at `GET /api/v1/template` (SPEC §3)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from cpl_service.certificates.cpa import CpaCertificateType
from cpl_service.devices import DEVICE_TYPES, CertificateKind
from cpl_service.workbook.context import SUBMISSION_TYPES
from cpl_service.workbook.headings import COLUMNS, SHEET_NAME
from cpl_service.workbook.specifications import SpecificationInfo
from cpl_service.workbook.validations import cell_rules

REQUIRED_FILL = PatternFill(fill_type="solid", start_color="C6EFCE", end_color="C6EFCE")
OPTIONAL_FILL = PatternFill(fill_type="solid", start_color="F2F2F2", end_color="F2F2F2")
LISTS_SHEET = "Lists"
INSTRUCTIONS_SHEET = "Instructions"
MATRIX_SHEET = "Certificate Matrix"
# Validations and formats cover this many rows below the heading (the upload row limit).
TEMPLATE_ROWS = 20_000
_DATE_FORMAT = "yyyy-mm-dd"
_WIDTHS = {"text": 28, "hex": 18, "date": 16, "choice": 30, "email": 32}


def build_template(*, specifications: Sequence[SpecificationInfo]) -> bytes:
    """Write the blank submission workbook.

    Args:
        specifications: the technical-specification register; its non-GBCS names feed the
            Technical Specification drop-down, its GBCS names the GBCS Version drop-down.

    Returns:
        The .xlsx file's bytes: the `CPL - New Entry` sheet (heading row 1, frozen, required
        headings light green, date and text formats, and on every column a data validation
        with the column's input prompt: drop-downs and the checks of `validations`), `Instructions`,
        `Certificate Matrix` and a hidden `Lists` sheet the drop-downs refer to.
    """
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET_NAME
    lists = book.create_sheet(LISTS_SHEET)
    _entry_sheet(sheet, lists, specifications)
    _instructions(book.create_sheet(INSTRUCTIONS_SHEET), specifications)
    _matrix(book.create_sheet(MATRIX_SHEET))
    lists.sheet_state = "hidden"
    book.active = 0
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _list_range(lists: Worksheet, column: int, title: str, values: Sequence[str]) -> str | None:
    """Write one drop-down list on the Lists sheet; the range formula, or None if empty."""
    lists.cell(row=1, column=column, value=title).font = Font(bold=True)
    for offset, value in enumerate(values, start=2):
        lists.cell(row=offset, column=column, value=value)
    lists.column_dimensions[get_column_letter(column)].width = 48
    if not values:
        return None
    letter = get_column_letter(column)
    return f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"


def _entry_sheet(
    sheet: Worksheet, lists: Worksheet, specifications: Sequence[SpecificationInfo]
) -> None:
    tech = [s.name for s in specifications if not s.is_gbcs]
    gbcs = [s.name for s in specifications if s.is_gbcs]
    devices = [t.name for t in DEVICE_TYPES] + [t.code for t in DEVICE_TYPES]
    sources = {
        "submission_type": _list_range(lists, 1, "Submission Type", list(SUBMISSION_TYPES)),
        "physical_device_type": _list_range(lists, 2, "Physical Device Type", devices),
        "technical_specification": _list_range(lists, 3, "Technical Specification", tech),
        "gbcs_version": _list_range(lists, 4, "GBCS Version", gbcs),
        "cpa_certificate_type": _list_range(
            lists, 5, "CPA Certificate Type", [t.value for t in CpaCertificateType]
        ),
    }
    for rule in cell_rules(sources):
        sheet.add_data_validation(rule.data_validation(TEMPLATE_ROWS + 1))
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index, value=column.heading)
        cell.font = Font(bold=True)
        cell.fill = REQUIRED_FILL if column.required else OPTIONAL_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(_WIDTHS[column.kind], len(column.heading) + 4)
        if column.kind == "date":
            dimension.number_format = _DATE_FORMAT
        elif column.kind == "hex":
            # Text, so Excel keeps leading zeros of IDs such as 0002012F.
            dimension.number_format = "@"
    sheet.row_dimensions[1].height = 32
    sheet.freeze_panes = "A2"


def _instructions(sheet: Worksheet, specifications: Sequence[SpecificationInfo]) -> None:
    sheet["A1"] = "How to fill in the CPL submission workbook"
    sheet["A1"].font = Font(bold=True, size=14)
    notes = [
        f"Fill one row per Device Model on the '{SHEET_NAME}' sheet, below the heading row. "
        "Light-green headings must be filled in on every row; the others depend on the row "
        "(see each column below and the Certificate Matrix sheet).",
        "Type identifiers (Manufacturer ID, Model ID, Hardware and Firmware Version, Image "
        "Hash) as text so that leading zeros are kept; these columns are formatted as Text.",
        "Dates: use an Excel date or write YYYY-MM-DD.",
        "The sheet checks as you type: selecting a cell shows what to enter, and a value the "
        "service would refuse (a wrong number of hexadecimal digits, an email address without "
        "an @, a CPA date not after today …) is refused there and then; a value off a "
        "drop-down list is refused, or warned about where the service also reads other "
        "spellings (such as 3.2 for GBCS v3.2). The service checks every row again on upload.",
        "CPA certificates: a Fixed-term certificate (the default) has a CPA Expiry Date; an "
        "NCSC Lifetime certificate (SEC modification MP209) has a CPA Renewal Date instead. "
        "Choose the CPA Certificate Type and fill in exactly one of the two dates. A "
        "certificate ends on the earliest of its expiry, renewal and conditional dates.",
        "Upload the saved .xlsx (or .xlsm; macros are never run) to the CPL service. At most "
        "20,000 rows and 10 MB per workbook. If any row has a Manufacturer Image Hash, the "
        "upload must carry a detached signature over the workbook file.",
    ]
    for offset, note in enumerate(notes, start=2):
        sheet.cell(row=offset, column=1, value=note).alignment = Alignment(wrap_text=True)
        sheet.merge_cells(start_row=offset, start_column=1, end_row=offset, end_column=3)
        sheet.row_dimensions[offset].height = 45
    header_row = len(notes) + 3
    for index, title in enumerate(("Column", "Required", "What to enter"), start=1):
        cell = sheet.cell(row=header_row, column=index, value=title)
        cell.font = Font(bold=True)
    for offset, column in enumerate(COLUMNS, start=header_row + 1):
        heading = sheet.cell(row=offset, column=1, value=column.heading)
        heading.fill = REQUIRED_FILL if column.required else OPTIONAL_FILL
        sheet.cell(row=offset, column=2, value="Yes" if column.required else "Depends")
        text = sheet.cell(row=offset, column=3, value=column.description)
        text.alignment = Alignment(wrap_text=True, vertical="top")
    row = header_row + len(COLUMNS) + 2
    sheet.cell(row=row, column=1, value="Technical specification register").font = Font(bold=True)
    for spec in specifications:
        row += 1
        sheet.cell(row=row, column=1, value=spec.name)
        sheet.cell(row=row, column=2, value=spec.kind)
        end = spec.installation_end_date
        sheet.cell(
            row=row,
            column=3,
            value=f"Installation ended {end.isoformat()}" if end else "Open for installation",
        )
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 12
    sheet.column_dimensions["C"].width = 100


def _matrix(sheet: Worksheet) -> None:
    kinds = (CertificateKind.ZIGBEE, CertificateKind.CPA, CertificateKind.DLMS)
    titles = ["Physical Device Type", "Code", *(f"{k.value} certificate" for k in kinds)]
    for index, title in enumerate(titles, start=1):
        cell = sheet.cell(row=1, column=index, value=title)
        cell.font = Font(bold=True)
        cell.fill = REQUIRED_FILL
    for row, device in enumerate(DEVICE_TYPES, start=2):
        sheet.cell(row=row, column=1, value=device.name)
        sheet.cell(row=row, column=2, value=device.code)
        for index, kind in enumerate(kinds, start=3):
            sheet.cell(row=row, column=index, value="Required" if kind in device.required else "-")
    note_row = len(DEVICE_TYPES) + 3
    sheet.cell(
        row=note_row,
        column=1,
        value="SMETS1 devices need no CPA certificate; they need a SMETS1 Compliance Statement "
        "instead. A certificate number a type does not need must be left empty. IHDs and other "
        "Type 2 devices are not listed on the CPL.",
    )
    sheet.cell(
        row=note_row + 1,
        column=1,
        value="A CPA certificate is Fixed-term (it has an expiry date) or Lifetime (it has a "
        "renewal date, SEC MP209); give CPA Certificate Type and the one date that type has.",
    )
    sheet.column_dimensions["A"].width = 48
    sheet.column_dimensions["B"].width = 14
    for letter in ("C", "D", "E"):
        sheet.column_dimensions[letter].width = 20
    sheet.freeze_panes = "A2"
