"""The template's in-sheet checks agree with the server's rules, as LibreOffice evaluates them.

One table of good and bad values, one per row of a workbook made from the template itself;
beside each row, a cell holding what the column's data validation computes for the value
(`CellRule.accepts_formula`: the validation's own formula, or the list or length it checks).
LibreOffice opens the workbook headless and computes those cells; the server's row rules
check the same rows. The two must say what the table says, and the sheet must never refuse
(stop) what the server accepts.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import openpyxl
import pytest
from defusedxml import ElementTree as SafeET
from fastapi.testclient import TestClient

from cpl_service.workbook import RawRow, build_template, check_rows
from cpl_service.workbook.headings import COLUMNS, SHEET_NAME
from cpl_service.workbook.template import LISTS_SHEET, TEMPLATE_ROWS
from cpl_service.workbook.validations import LETTER, CellRule, cell_rules
from tests.conftest import MakeParty, auth
from tests.libreoffice import convert

from .conftest import SPECIFICATIONS, make_context, valid_row_dict

# ok: both accept; refused: the sheet flags it and the server refuses it; warned: off a
# forgiving drop-down, the sheet warns and the server accepts; server: only the server can
# tell (it needs more than the cell, or checks more than the sheet's shape).
Outcome = Literal["ok", "refused", "warned", "server"]
# The local day, as LibreOffice's TODAY() takes it.
TODAY = datetime.now(UTC).astimezone().date()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Beside the template's columns: the computed check, and LibreOffice's today.
CHECK_COLUMN = len(COLUMNS) + 3
TODAY_COLUMN = CHECK_COLUMN + 1


@dataclass(frozen=True)
class Case:
    heading: str
    value: Any
    expected: Outcome
    row: dict[str, Any] = field(default_factory=dict)


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


LIFETIME = {"CPA Certificate Type": "Lifetime", "CPA Expiry Date": None}
NO_CPA = {"CPA Certificate Number": None}
HASHED = {"Manufacturer Image Hash Creator": "Acme signing team"}

CASES: tuple[Case, ...] = (
    Case("Submission Type", "New Device Model", "ok"),
    Case("Submission Type", "new device model", "ok"),
    Case("Submission Type", "New", "refused"),
    Case("Submission Type", "New*", "refused"),
    Case("Manufacturer Name", "A" * 100, "ok"),
    Case("Manufacturer Name", "A" * 101, "refused"),
    Case("Manufacturer ID", "AB01", "ok"),
    Case("Manufacturer ID", "ab01", "ok"),
    Case("Manufacturer ID", " AB01 ", "ok"),
    Case("Manufacturer ID", 1234, "ok"),
    Case("Manufacturer ID", "AB0", "refused"),
    Case("Manufacturer ID", "AB012", "refused"),
    Case("Manufacturer ID", "AB0G", "refused"),
    Case("Manufacturer ID", "AB 1", "refused"),
    Case("Manufacturer ID", "?B01", "refused"),
    Case("Manufacturer ID", "0x01", "refused"),
    Case("Manufacturer ID", "ＡＢ01", "refused"),
    Case("Manufacturer ID", "   ", "server"),
    Case("Model Name", "B" * 101, "refused"),
    Case("Model ID", "1234", "ok"),
    Case("Model ID", "0002012f", "ok"),
    Case("Model ID", "123", "refused"),
    Case("Model ID", "12345", "refused"),
    Case("Model ID", "123456789", "refused"),
    Case("Hardware Version", "0101", "ok"),
    Case("Hardware Version", "01010", "refused"),
    Case("Hardware Version", "01-1", "refused"),
    Case("Firmware Version", "0002012F", "ok"),
    Case("Firmware Version", "2012F", "refused"),
    Case("Firmware Version", "0002012G", "refused"),
    Case("Physical Device Type", "ESME_SINGLE", "ok"),
    Case("Physical Device Type", "Single Element Electricity Metering Equipment", "ok"),
    Case("Physical Device Type", "esme_single", "ok"),
    Case("Physical Device Type", "Single Element ESME", "warned"),
    Case("Physical Device Type", "In Home Display", "refused"),
    Case("Physical Device Type", "Toaster", "refused"),
    Case("Technical Specification", "SMETS2 v4.2", "ok"),
    Case("Technical Specification", "smets2 v4.2", "ok"),
    Case("Technical Specification", "SMETS2 4.2", "warned"),
    Case("Technical Specification", "SMETS2 v9.9", "refused"),
    Case("Technical Specification", "GBCS v3.2", "refused"),
    Case("GBCS Version", "GBCS v3.2", "ok"),
    Case("GBCS Version", "3.2", "warned"),
    Case("GBCS Version", "v3.2", "warned"),
    Case("GBCS Version", "GBCS v9.9", "refused"),
    Case("Manufacturer Release Notes", "R" * 1000, "ok"),
    Case("Manufacturer Release Notes", "R" * 1001, "refused"),
    Case("ZigBee Certificate Number", "Z" * 101, "refused"),
    Case("DLMS Certificate Number", "D" * 101, "refused"),
    Case("CPA Certificate Number", "C" * 100, "ok"),
    Case("CPA Certificate Number", "C" * 101, "refused"),
    Case("CPA Expiry Date", days(1), "ok"),
    Case("CPA Expiry Date", days(800).isoformat(), "ok"),
    Case("CPA Expiry Date", TODAY, "refused"),
    Case("CPA Expiry Date", days(-1), "refused"),
    Case("CPA Expiry Date", TODAY.isoformat(), "refused"),
    Case("CPA Expiry Date", "30/06/2030", "refused"),
    Case("CPA Expiry Date", "2030-13-01", "refused"),
    Case("CPA Expiry Date", "2030-6-30", "refused"),
    Case("CPA Expiry Date", "soon", "refused"),
    Case("CPA Expiry Date", days(30), "refused", {**LIFETIME, "CPA Renewal Date": days(400)}),
    Case("CPA Expiry Date", days(-10), "ok", NO_CPA),
    Case("CPA Expiry Date", "soon", "refused", NO_CPA),
    Case("CPA Expiry Date", days(30), "refused", {**LIFETIME, "CPA Certificate Type": "life-time"}),
    Case("CPA Conditional Date", days(100), "ok"),
    Case("CPA Conditional Date", days(-5), "ok"),
    Case("CPA Conditional Date", days(800), "ok"),
    Case("CPA Conditional Date", days(801), "refused"),
    Case("CPA Conditional Date", days(801).isoformat(), "refused"),
    Case("CPA Conditional Date", days(700).isoformat(), "ok"),
    Case("CPA Conditional Date", "01/01/2027", "refused"),
    Case("CPA Conditional Date", days(900), "ok", {"CPA Expiry Date": None}),
    Case("CPA Conditional Date", days(900), "ok", {"CPA Expiry Date": "not a date"}),
    Case("CPA Conditional Date", days(400), "ok", {**LIFETIME, "CPA Renewal Date": days(400)}),
    Case("CPA Conditional Date", days(401), "refused", {**LIFETIME, "CPA Renewal Date": days(400)}),
    Case("CPA Conditional Date", days(401), "ok", NO_CPA),
    Case("CPA Conditional Date", "  ", "ok"),
    Case("CPA Expiry Date", "  ", "server"),
    Case("CPA Certificate Type", "Fixed-term", "ok"),
    Case("CPA Certificate Type", "Lifetime", "ok", {**LIFETIME, "CPA Renewal Date": days(400)}),
    Case("CPA Certificate Type", "fixed term", "warned"),
    Case("CPA Certificate Type", "Permanent", "refused"),
    Case("CPA Renewal Date", days(400), "ok", LIFETIME),
    Case("CPA Renewal Date", days(400), "ok", {**LIFETIME, "CPA Certificate Type": "lifetime"}),
    Case("CPA Renewal Date", days(400).isoformat(), "ok", LIFETIME),
    Case("CPA Renewal Date", days(400), "ok", {**LIFETIME, "CPA Certificate Type": "life time"}),
    Case("CPA Renewal Date", TODAY, "refused", LIFETIME),
    Case("CPA Renewal Date", "31/12/2031", "refused", LIFETIME),
    Case("CPA Renewal Date", days(400), "refused"),
    Case("CPA Renewal Date", days(400), "refused", {"CPA Certificate Type": "Fixed-term"}),
    Case("CPA Renewal Date", days(-400), "ok", NO_CPA),
    Case("CPA Renewal Date", "  ", "ok"),
    Case("CPA Renewal Date", "  ", "server", LIFETIME),
    Case("Manufacturer Image Hash", "ab" * 32, "ok", HASHED),
    Case("Manufacturer Image Hash", "AB" * 32, "ok", HASHED),
    Case("Manufacturer Image Hash", "ab" * 31 + "a", "refused", HASHED),
    Case("Manufacturer Image Hash", "ab" * 32 + "a", "refused", HASHED),
    Case("Manufacturer Image Hash", "ab" * 31 + "ag", "refused", HASHED),
    Case("Manufacturer Image Hash", "   ", "ok"),
    Case("Manufacturer Image Hash Creator", "H" * 200, "ok"),
    Case("Manufacturer Image Hash Creator", "H" * 201, "refused"),
    Case("Certificate Mapping Evidence", "E" * 1001, "refused"),
    Case("SMETS1 Compliance Statement", "S" * 1001, "refused"),
    Case("Contact Email", "compliance@acme.example.com", "ok"),
    Case("Contact Email", "  compliance@acme.example.com ", "ok"),
    Case("Contact Email", "acme.example.com", "refused"),
    Case("Contact Email", "a@b@acme.example.com", "refused"),
    Case("Contact Email", "@acme.example.com", "refused"),
    Case("Contact Email", "a@acme", "refused"),
    Case("Contact Email", "a b@acme.example.com", "refused"),
    Case("Contact Email", "a@acme.example.com.", "refused"),
    Case("Contact Email", "a@" + "x" * 250 + ".com", "refused"),
    Case("Contact Email", "a@.example.com", "server"),
    Case("Contact Email", "   ", "server"),
    Case("Contact Email", "a..b@acme.example.com", "server"),
)


def full_row(case: Case) -> dict[str, Any]:
    """The valid row with the case's other cells and its value."""
    row = valid_row_dict()
    row["CPA Expiry Date"] = days(800)
    row.update(case.row)
    row[case.heading] = case.value
    return row


def rule_of(heading: str, rules: tuple[CellRule, ...]) -> CellRule:
    return next(r for r in rules if r.column.heading == heading)


def template_rules(book: Any) -> tuple[CellRule, ...]:
    """The rules of the template, with the Lists ranges it was built with."""
    sheet = book[SHEET_NAME]
    ranges: dict[str, str | None] = {}
    for validation in sheet.data_validations.dataValidation:
        if validation.type == "list":
            column = next(c for c in COLUMNS if f"{LETTER[c.field]}2" in validation.sqref)
            ranges[column.field] = validation.formula1.lstrip("=")
    assert all(LISTS_SHEET in r for r in ranges.values() if r)
    return cell_rules(ranges)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[object], date]:
    """What LibreOffice computes for each case's check, and the day it takes as today."""
    book = openpyxl.load_workbook(io.BytesIO(build_template(specifications=SPECIFICATIONS)))
    rules = template_rules(book)
    sheet = book[SHEET_NAME]
    for number, case in enumerate(CASES, start=2):
        row = full_row(case)
        for index, column in enumerate(COLUMNS, start=1):
            if row[column.heading] is not None:
                sheet.cell(row=number, column=index, value=row[column.heading])
        check = rule_of(case.heading, rules).accepts_formula(number)
        sheet.cell(row=number, column=CHECK_COLUMN, value=f"={check}")
    sheet.cell(row=2, column=TODAY_COLUMN, value="=TODAY()")
    buffer = io.BytesIO()
    book.save(buffer)
    saved = convert(buffer.getvalue(), tmp_path_factory.mktemp("libreoffice"))
    computed = openpyxl.load_workbook(io.BytesIO(saved), data_only=True)[SHEET_NAME]
    results: list[object] = [
        computed.cell(row=number, column=CHECK_COLUMN).value for number in range(2, len(CASES) + 2)
    ]
    today = computed.cell(row=2, column=TODAY_COLUMN).value  # a serial: no date format
    assert isinstance(today, int), today
    return results, date(1899, 12, 30) + timedelta(days=today)


def server_accepts(case: Case) -> bool:
    """No error of the server's row rules names the case's column."""
    row = full_row(case)
    raw = RawRow(2, {c.field: row[c.heading] for c in COLUMNS})
    report = check_rows([raw], context=make_context(upload_date=TODAY))
    return not any(i.column == case.heading for i in report.errors)


def sheet_accepts(value: object) -> bool:
    """What a validation makes of its formula's result: TRUE or a number other than 0
    accepts; FALSE, 0, text and an error (`#VALUE!`) refuse, in Excel as in LibreOffice."""
    if isinstance(value, bool):
        return value
    return isinstance(value, int | float) and value != 0


def outcome(sheet: bool, server: bool, rule: CellRule) -> str:
    if sheet == server:
        return "ok" if sheet else "refused"
    if server:
        return "warned" if rule.style == "warning" else "REFUSED BY THE SHEET ONLY"
    return "server"


def test_libreoffice_computes_today(evaluated: tuple[list[object], date]) -> None:
    _, today = evaluated
    assert today == TODAY, "the day changed during the test; run it again"


def test_the_sheet_and_the_server_agree_on_every_value(
    evaluated: tuple[list[object], date],
) -> None:
    results, _ = evaluated
    rules = cell_rules({c.field: "" for c in COLUMNS if c.kind == "choice"})
    found = []
    for case, computed in zip(CASES, results, strict=True):
        rule = rule_of(case.heading, rules)
        found.append(outcome(sheet_accepts(computed), server_accepts(case), rule))
    wrong = [
        f"{c.heading} {c.value!r} {c.row or ''}: expected {c.expected}, found {f} "
        f"(LibreOffice computed {r!r})"
        for c, f, r in zip(CASES, found, results, strict=True)
        if f != c.expected
    ]
    assert wrong == []


def test_the_table_exercises_every_check() -> None:
    rules = cell_rules({c.field: "" for c in COLUMNS if c.kind == "choice"})
    for rule in rules:
        if rule.kind == "any":
            continue
        outcomes = {c.expected for c in CASES if c.heading == rule.column.heading}
        assert "refused" in outcomes, rule.column.heading
        if rule.kind != "textLength":
            assert "ok" in outcomes, rule.column.heading


def test_libreoffice_keeps_each_column_prompt_and_check(tmp_path: Path) -> None:
    template = build_template(specifications=SPECIFICATIONS)
    rules = template_rules(openpyxl.load_workbook(io.BytesIO(template)))
    saved = openpyxl.load_workbook(io.BytesIO(convert(template, tmp_path)))[SHEET_NAME]
    for rule in rules:
        cell = f"{LETTER[rule.column.field]}2"
        (validation,) = [v for v in saved.data_validations.dataValidation if cell in v.sqref]
        assert validation.showInputMessage, rule.column.heading
        assert validation.promptTitle == rule.column.heading
        assert validation.prompt == rule.column.description
        assert bool(validation.showErrorMessage) == (rule.kind != "any"), rule.column.heading
        if rule.kind != "any":
            assert validation.type == rule.kind
            assert (validation.errorStyle or "stop") == rule.style
            assert validation.error == rule.error
        if rule.kind == "custom":  # LibreOffice writes the constant TRUE as 1
            assert validation.formula1 == rule.formula_at(2).replace(",TRUE,", ",1,").replace(
                ",TRUE)", ",1)"
            )


def test_a_template_saved_by_libreoffice_is_checked_on_upload(
    client: TestClient, make_party: MakeParty, tmp_path: Path
) -> None:
    book = openpyxl.load_workbook(io.BytesIO(client.get("/api/v1/template").content))
    sheet = book[SHEET_NAME]
    good = full_row(Case("Manufacturer ID", "AB01", "ok"))
    bad = {**good, "Manufacturer ID": "AB0G", "Firmware Version": "00020130"}
    for number, row in enumerate((good, bad), start=2):
        for index, column in enumerate(COLUMNS, start=1):
            sheet.cell(row=number, column=index, value=row[column.heading])
    buffer = io.BytesIO()
    book.save(buffer)
    saved = convert(buffer.getvalue(), tmp_path)
    _, token = make_party("manufacturer")
    files = {"file": ("cpl.xlsx", saved, XLSX)}
    response = client.post("/api/v1/submissions", files=files, headers=auth(token))
    assert response.status_code == 422, response.text
    issues = [(i["row"], i["column"], i["code"]) for i in response.json()["issues"]]
    assert issues == [(3, "Manufacturer ID", "invalid-hex")]


ODF = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


def _odf(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{ODF[prefix]}}}{local}"


def test_opened_in_libreoffice_every_row_shows_each_column_prompt(tmp_path: Path) -> None:
    """Saved as LibreOffice's own format, the template is what Calc holds once open: each
    cell of the 20,000 data rows names its column's validation, whose help is displayed."""
    template = build_template(specifications=SPECIFICATIONS)
    ods = zipfile.ZipFile(io.BytesIO(convert(template, tmp_path, to="ods")))
    root = SafeET.fromstring(ods.read("content.xml"))
    validations = {
        v.get(_odf("table:name")): v for v in root.iter(_odf("table:content-validation"))
    }
    table = next(
        t for t in root.iter(_odf("table:table")) if t.get(_odf("table:name")) == SHEET_NAME
    )
    rows = list(table.iter(_odf("table:table-row")))
    data = rows[1]
    assert data.get(_odf("table:number-rows-repeated")) == str(TEMPLATE_ROWS)
    names: list[str | None] = []
    for cell in data.iter(_odf("table:table-cell")):
        repeated = int(cell.get(_odf("table:number-columns-repeated"), "1"))
        names.extend(
            [cell.get(_odf("table:content-validation-name"))] * min(repeated, len(COLUMNS))
        )
    rules = cell_rules({c.field: "" for c in COLUMNS if c.kind == "choice"})
    for rule, name in zip(rules, names[: len(COLUMNS)], strict=True):
        assert name is not None, rule.column.heading
        help_message = validations[name].find(_odf("table:help-message"))
        assert help_message is not None, rule.column.heading
        assert help_message.get(_odf("table:display")) == "true"
        assert help_message.get(_odf("table:title")) == rule.column.heading
        text = "".join(help_message.itertext())
        assert text == rule.column.description
        error = validations[name].find(_odf("table:error-message"))
        assert error is not None
        assert error.get(_odf("table:display")) == str(rule.kind != "any").lower()
        if rule.kind != "any":
            assert error.get(_odf("table:message-type")) == rule.style
