"""The fast paths of reading and checking rows give exactly what the one-cell rules give.

Whole columns are settled at once (`checks.plain_*`), parsed flags and dates are reused,
and the formula scan searches for a literal first (`zipsafety._has_formula`). Each is
compared here with the slow path it stands in for, on random and hostile values: an odd
value must always fall through to the rule that reports it, never be taken as it is.
"""

from __future__ import annotations

import itertools
import string
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpl_service.errors import UploadTooLargeError
from cpl_service.workbook import (
    IMPORT,
    UPLOAD,
    CheckContext,
    RawRow,
    RowSource,
    checks,
    zipsafety,
)
from cpl_service.workbook.checks import (
    _MAX_LENGTH,
    _MULTILINE,
    HEX_LENGTHS,
    _check_rows,
    _Checker,
    plain_dates,
    plain_hexes,
    plain_texts,
)
from cpl_service.workbook.headings import CPL_LAYOUT, HEADING_OF, SUBMISSION_LAYOUT
from cpl_service.workbook.reader import ReadLimits, read_workbook
from cpl_service.workbook.report import CheckReport

from .conftest import build_xlsx, make_context, valid_row_dict

FIELD_OF = {heading: field for field, heading in HEADING_OF.items()}
SOURCES = {"upload": UPLOAD, "import": IMPORT}

# Values a cell could hold that some rule refuses, changes or reads specially.
ODD_TEXT = [
    "",
    " ",
    "\t",
    "\n",
    " x",
    "x ",
    "x\ny",
    "x\ty",
    "x\r",
    "\x00",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\u00a0",
    "\u2028",
    "\u3000x",
    "=1+1",
    " =1",
    "'=x",
    "ab01",
    "AB01",
    "AB 01",
    "AB01,",
    ",AB01",
    "AB01,AB01",
    "0002012f",
    "0002012F",
    "0002012G",
    "１２３４",
    "12345678",
    "123",
    "1234",
    "12345",
    "A" * 64,
    "a" * 64,
    "x" * 100,
    "x" * 101,
    "x" * 1000,
    "x" * 1001,
    "Yes",
    "no",
    "TRUE",
    "2030-01-01",
    "2030-1-1",
    "New Device Model",
    "firmware  update",
    "Firmware Update",
    "ESME_SINGLE",
    "GSME",
    "PPMID",
    "IHD",
    "SMETS2 v4.2",
    "SMETS1 v1.2",
    "CHTS v4.2",
    "GBCS v3.2",
    "3.2",
    "Lifetime",
    "fixed term",
    "CPA-OLD",
    "CPA-0001",
    "CPL-000001",
    "cpl-1",
    "CPL-000010",
    "Active",
    "withdrawn",
    "pending_review",
    "compliance@acme.example.com",
    "not an email",
]
ODD_VALUES = st.one_of(
    st.none(),
    st.sampled_from(ODD_TEXT),
    st.text(max_size=12),
    st.text(alphabet="0123456789ABCDEFabcdef ,=\n\t", max_size=10),
    st.integers(-5, 10**9),
    st.floats(),
    st.booleans(),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
    st.times(),
)


def base_row(source: RowSource) -> dict[str, Any]:
    """A row (field -> value) `source` accepts."""
    values = {FIELD_OF[h]: v for h, v in valid_row_dict().items()}
    if source is IMPORT:
        values.update(entry_id="CPL-000010", status="Active")
    return values


def both(rows: list[RawRow], context: CheckContext) -> None:
    """The fast and the slow check of `rows` agree."""
    same(_check_rows(rows, context=context), _check_rows(rows, context=context, fast=False))


def same(fast: CheckReport, slow: CheckReport) -> None:
    assert fast.issues == slow.issues
    assert fast.needs_signature == slow.needs_signature
    assert fast.entries == slow.entries
    for ours, theirs in zip(fast.entries, slow.entries, strict=True):
        assert list(ours) == list(theirs)  # the same fields, in the same order
        assert [type(v) for v in ours.values()] == [type(v) for v in theirs.values()]


@st.composite
def rows_of(draw: st.DrawFn, source: RowSource) -> list[RawRow]:
    """Rows mostly valid, some cells odd, some fields missing; neighbours share values."""
    fields = sorted(base_row(source))
    count = draw(st.integers(1, 12))
    rows = []
    for number in range(2, 2 + count):
        values = base_row(source)
        values["firmware_version"] = f"{number:08X}"
        for name in draw(st.lists(st.sampled_from(fields), max_size=4)):
            values[name] = draw(ODD_VALUES)
        for name in draw(st.lists(st.sampled_from(fields), max_size=1)):
            values.pop(name, None)
        rows.append(RawRow(number, values))
    return rows


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_and_slow_checks_agree(source: RowSource, data: st.DataObject) -> None:
    rows = data.draw(rows_of(source))
    context = make_context(data.draw(st.sampled_from(["manufacturer", "dcc"])), source=source)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "SETTLE_BLOCK", data.draw(st.sampled_from([1, 3, 512])))
        both(rows, context)


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
def test_fast_and_slow_checks_agree_on_each_odd_value_in_each_field(source: RowSource) -> None:
    context = make_context("dcc", source=source)
    for name in sorted(base_row(source)):
        rows = []
        for number, value in enumerate(
            [*ODD_TEXT, 1234.0, 1, 1.0, True, 0, 0.0, False, 7, None], start=2
        ):
            values = base_row(source)
            values["firmware_version"] = f"{number:08X}"
            values[name] = value
            rows.append(RawRow(number, values))
        both(rows, context)


def test_the_valid_rows_are_settled_whole() -> None:
    """Not vacuous: the columns of valid rows are settled, so their rules are skipped."""
    checker = _Checker(make_context())
    checker.settle([RawRow(2, base_row(UPLOAD)), RawRow(3, base_row(UPLOAD))])
    given = {name for name, value in base_row(UPLOAD).items() if value is not None}
    settled = {name for name, _ in checker.settlers}
    assert settled & given <= checker.plain
    assert {"manufacturer_name", "model_id", "firmware_version", "cpa_expiry_date"} <= (
        checker.plain
    )


# --- each column predicate against its one-cell rule ---------------------------------------


def one_cell(source: RowSource, kind: str, name: str, value: object) -> tuple[object, list[Any]]:
    """What the one-cell rule makes of `value` (not required) and the issues it reports."""
    checker = _Checker(make_context(source=source), fast=False)
    checker.row, checker.values, checker.issues = 2, {name: value}, []
    result: object
    if kind == "text":
        result = checker._text(name)
    elif kind == "hex":
        result = checker._hex(name)
    else:
        result = checker._date(name)
    return result, checker.issues


TEXT_FIELDS = [
    *sorted(c.field for c in SUBMISSION_LAYOUT.columns if c.kind in ("text", "email")),
    "entry_id",
    "panel_decision_ref",
]


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_plain_text_column_is_what_its_rule_takes_as_it_is(
    source: RowSource, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(TEXT_FIELDS))
    values = data.draw(st.lists(ODD_VALUES | st.sampled_from(["Acme", "x y"]), max_size=5))
    plain = plain_texts(
        values,
        limit=_MAX_LENGTH[name],
        multiline=name in _MULTILINE,
        formula_allowed=source.formula_text_allowed,
    )
    if plain:
        for value in values:
            assert one_cell(source, "text", name, value) == (value, [])


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_plain_hex_column_is_what_its_rule_takes_as_it_is(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(HEX_LENGTHS)))
    hexes = st.text(alphabet="0123456789ABCDEFa ,", min_size=3, max_size=9)
    values = data.draw(st.lists(ODD_VALUES | hexes, max_size=5))
    if plain_hexes(values, HEX_LENGTHS[name]):
        for value in values:
            assert one_cell(UPLOAD, "hex", name, value) == (value, [])


@settings(max_examples=200, deadline=None)
@given(values=st.lists(ODD_VALUES, max_size=5))
def test_a_plain_date_column_is_what_its_rule_takes_as_it_is(values: list[object]) -> None:
    if plain_dates(values):
        for value in values:
            assert one_cell(UPLOAD, "date", "cpa_expiry_date", value) == (value, [])


def test_the_column_predicates_refuse_each_odd_value() -> None:
    limit = _MAX_LENGTH["model_name"]
    for value in ["", " ", " x", "x ", "\x00", "x\ny", "=1", "x" * (limit + 1), 7, 1.5, True]:
        assert not plain_texts(["Acme", value], limit=limit, multiline=False, formula_allowed=False)
    assert plain_texts(["=1", None], limit=limit, multiline=False, formula_allowed=True)
    assert plain_texts(["a\nb", "c\td"], limit=limit, multiline=True, formula_allowed=False)
    assert not plain_texts(["a\x0bb"], limit=limit, multiline=True, formula_allowed=False)
    assert plain_texts([None, None], limit=limit, multiline=False, formula_allowed=False)
    for value in ["ab01", "AB0", "AB012", " AB01", "AB01,AB01", "１２３４", 1234, 1234.0, ""]:
        assert not plain_hexes(["CD02", value], (4,))
    assert plain_hexes(["CD02", None, "0000"], (4,))
    assert plain_hexes(["CD02", "0000ABCD"], (4, 8))
    assert not plain_hexes(["CD02", "0000ABC"], (4, 8))
    assert not plain_dates([date(2030, 1, 1), datetime(2030, 1, 1)])
    assert not plain_dates([date(2030, 1, 1), "2030-01-01"])
    assert plain_dates([date(2030, 1, 1), None])


# --- the rows read from a sheet -----------------------------------------------------------


def test_blank_rows_are_skipped_and_rows_keep_their_numbers() -> None:
    blank: dict[str, Any] = {}
    spaces = {"Manufacturer Name": "   ", "Model Name": "\t"}
    rows = [valid_row_dict(), blank, spaces, valid_row_dict(), blank, blank, valid_row_dict()]
    rows[3]["Model Name"] = "  "
    parsed = read_workbook(build_xlsx(rows, leading_rows=[["a note"]]))
    assert parsed.heading_row == 2
    assert [r.excel_row for r in parsed.rows] == [3, 6, 9]
    assert parsed.rows[1].values["model_name"] is None
    assert parsed.rows[0].values["cpa_conditional_date"] is None
    assert parsed.rows[0].values["manufacturer_name"] == "Acme Meters Ltd"


def test_the_row_limit_counts_filled_rows() -> None:
    data = build_xlsx([valid_row_dict(), {}, valid_row_dict(), {}, valid_row_dict()])
    assert len(read_workbook(data, limits=ReadLimits(max_rows=3)).rows) == 3
    with pytest.raises(UploadTooLargeError, match="more than 2 data rows"):
        read_workbook(data, limits=ReadLimits(max_rows=2))


# --- the formula scan -----------------------------------------------------------------------


def test_the_formula_search_agrees_with_the_pattern_on_every_short_text() -> None:
    alphabet = [b"<", b"f", b":", b"x", b"_", b" ", b">", b"/", b"\n"]
    for size in range(7):
        for letters in itertools.product(alphabet, repeat=size):
            text = b"".join(letters)
            assert zipsafety._has_formula(text) == bool(zipsafety._HAS_FORMULA.search(text))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=string.ascii_letters[:8] + "<f:/> \t\r\n=\"'", max_size=40).map(str.encode))
def test_the_formula_search_agrees_with_the_pattern(text: bytes) -> None:
    assert zipsafety._has_formula(text) == bool(zipsafety._HAS_FORMULA.search(text))


def test_a_sheet_with_one_known_column_is_read_cell_by_cell() -> None:
    rows = [{"CPL Entry ID": "CPL-000001"}, {}, {"Junk": "x"}, {"CPL Entry ID": " "}]
    data = build_xlsx(rows, headings=["Junk", "CPL Entry ID"], sheet_name="CPL")
    parsed = read_workbook(data, layout=CPL_LAYOUT)
    assert [(r.excel_row, r.values) for r in parsed.rows] == [(2, {"entry_id": "CPL-000001"})]
