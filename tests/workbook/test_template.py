"""The blank workbook of GET /api/v1/template, and a round trip through the reader."""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
import pytest

from cpl_service.workbook import build_template, read_workbook
from cpl_service.workbook.headings import COLUMNS, SHEET_NAME
from cpl_service.workbook.validations import (
    LETTER,
    MAX_FORMULA,
    MAX_MESSAGE,
    MAX_TITLE,
    cell_rules,
)

from .conftest import SPECIFICATIONS, check_xlsx, valid_row_dict


@pytest.fixture(scope="module")
def template() -> bytes:
    return build_template(specifications=SPECIFICATIONS)


def _open(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_sheets_and_headings(template: bytes) -> None:
    book = _open(template)
    assert book.sheetnames[0] == SHEET_NAME
    assert {"Instructions", "Certificate Matrix", "Lists"} <= set(book.sheetnames)
    assert book["Lists"].sheet_state == "hidden"
    sheet = book[SHEET_NAME]
    assert [c.value for c in sheet[1]] == [c.heading for c in COLUMNS]
    assert sheet.freeze_panes == "A2"


def test_required_headings_are_light_green(template: bytes) -> None:
    sheet = _open(template)[SHEET_NAME]
    for column, cell in zip(COLUMNS, sheet[1], strict=True):
        colour = cell.fill.fgColor.rgb
        if column.required:
            assert colour.endswith("C6EFCE"), column.heading
        else:
            assert not colour.endswith("C6EFCE"), column.heading


def test_drop_downs(template: bytes) -> None:
    book = _open(template)
    sheet = book[SHEET_NAME]
    lists = {
        str(v.sqref).split(":")[0]: v.formula1
        for v in sheet.data_validations.dataValidation
        if v.type == "list"
    }
    letter = {c.heading: openpyxl.utils.get_column_letter(i) for i, c in enumerate(COLUMNS, 1)}
    for heading in ("Submission Type", "Physical Device Type", "Technical Specification"):
        assert f"{letter[heading]}2" in lists, heading
    assert f"{letter['GBCS Version']}2" in lists

    def values(formula: str) -> list[str]:
        ref = formula.lstrip("=").split("!")[1].replace("$", "")
        column = book["Lists"][ref]
        return [row[0].value for row in column]

    assert values(lists[f"{letter['Submission Type']}2"]) == ["New Device Model", "Firmware Update"]
    tech = values(lists[f"{letter['Technical Specification']}2"])
    assert "SMETS2 v4.2" in tech and "GBCS v3.2" not in tech
    assert values(lists[f"{letter['GBCS Version']}2"]) == ["GBCS v2.0", "GBCS v3.2", "GBCS v4.0"]
    assert "ESME_SINGLE" in values(lists[f"{letter['Physical Device Type']}2"])
    assert values(lists[f"{letter['CPA Certificate Type']}2"]) == ["Fixed-term", "Lifetime"]


def test_instructions_and_matrix(template: bytes) -> None:
    book = _open(template)
    text = [c.value for row in book["Instructions"].iter_rows() for c in row if c.value]
    for column in COLUMNS:
        assert column.heading in text
    matrix = {row[1]: row[2:5] for row in book["Certificate Matrix"].iter_rows(values_only=True)}
    assert matrix["PPMID"] == ("Required", "-", "-")
    assert matrix["ESME_POLY"] == ("Required", "Required", "Required")
    instructions = " ".join(str(t) for t in text)
    assert "Lifetime certificate (SEC modification MP209) has a CPA Renewal Date" in instructions
    notes = [c for row in book["Certificate Matrix"].iter_rows(values_only=True) for c in row if c]
    assert any("Lifetime (it has a renewal date" in str(n) for n in notes)


def test_date_and_text_formats(template: bytes) -> None:
    sheet = _open(template)[SHEET_NAME]
    letter = {c.heading: openpyxl.utils.get_column_letter(i) for i, c in enumerate(COLUMNS, 1)}
    assert sheet.column_dimensions[letter["CPA Expiry Date"]].number_format == "yyyy-mm-dd"
    assert sheet.column_dimensions[letter["CPA Renewal Date"]].number_format == "yyyy-mm-dd"
    assert sheet.column_dimensions[letter["Firmware Version"]].number_format == "@"


def test_round_trip(template: bytes) -> None:
    book = _open(template)
    sheet = book[SHEET_NAME]
    row = valid_row_dict()
    for index, column in enumerate(COLUMNS, start=1):
        sheet.cell(row=2, column=index, value=row[column.heading])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    parsed = read_workbook(data)
    assert parsed.heading_row == 1 and parsed.issues == []
    report = check_xlsx(data)
    assert report.issues == []
    assert len(report.entries) == 1


def test_empty_register_still_builds() -> None:
    book = _open(build_template(specifications=[]))
    assert SHEET_NAME in book.sheetnames


def test_every_column_prompts_and_checks_every_row(template: bytes) -> None:
    sheet = _open(template)[SHEET_NAME]
    validations = sheet.data_validations.dataValidation
    for index, column in enumerate(COLUMNS, start=1):
        letter = openpyxl.utils.get_column_letter(index)
        (validation,) = [v for v in validations if f"{letter}2" in v.sqref]
        assert str(validation.sqref) == f"{letter}2:{letter}20001"
        assert validation.showInputMessage
        assert validation.promptTitle == column.heading
        assert validation.prompt == column.description
        assert validation.allow_blank
        if column.field == "previous_entry_id":
            assert validation.type is None  # a prompt only: see validations.PROMPT_ONLY
            continue
        assert validation.showErrorMessage, column.heading
        assert validation.errorStyle in ("stop", "warning")
        assert column.description in validation.error
        expected = {"choice": "list", "hex": "custom", "date": "custom", "email": "custom"}
        assert validation.type == expected.get(column.kind, "textLength"), column.heading


def test_prompts_alerts_and_formulas_fit_excel_limits(template: bytes) -> None:
    """Excel refuses (or repairs away) longer titles, messages and formulas."""
    for validation in _open(template)[SHEET_NAME].data_validations.dataValidation:
        assert len(validation.promptTitle) <= MAX_TITLE
        assert len(validation.errorTitle) <= MAX_TITLE
        assert len(validation.prompt) <= MAX_MESSAGE
        assert len(validation.error) <= MAX_MESSAGE
        assert len(validation.formula1 or "") <= MAX_FORMULA
        assert not (validation.formula1 or "").startswith("=")


def test_only_drop_downs_the_server_reads_in_other_spellings_warn(template: bytes) -> None:
    sheet = _open(template)[SHEET_NAME]
    styles = {
        next(c.heading for c in COLUMNS if f"{LETTER[c.field]}2" in v.sqref): (v.errorStyle)
        for v in sheet.data_validations.dataValidation
        if v.type == "list"
    }
    assert styles == {
        "Submission Type": "stop",
        "Physical Device Type": "warning",
        "Technical Specification": "warning",
        "GBCS Version": "warning",
        "CPA Certificate Type": "warning",
    }
    others = [v for v in sheet.data_validations.dataValidation if v.type != "list" and v.type]
    assert {v.errorStyle for v in others} == {"stop"}


def test_date_checks_read_the_row_they_are_typed_in() -> None:
    rules = {r.column.field: r for r in cell_rules({c.field: "R" for c in COLUMNS})}
    assert "O7" in rules["cpa_expiry_date"].formula_at(7)
    conditional = rules["cpa_conditional_date"].formula_at(7)
    assert {"N7", "O7", "P7", "Q7", "R7"} <= set(re.findall(r"[A-Z]+\d+", conditional))
    assert "{" not in conditional and "2" not in re.findall(r"[A-Z](\d+)", conditional)
