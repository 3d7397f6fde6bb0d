"""Lifetime CPA certificates (SEC MP209) in the row rules: type, renewal date, expiry date."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cpl_service.certificates.cpa import CpaCertificateType
from cpl_service.workbook import IMPORT, UPLOAD, CpaOnRecord, RowSource
from cpl_service.workbook.checks import parse_cpa_certificate_type
from cpl_service.workbook.headings import COLUMNS, HEADING_OF

from .conftest import UPLOAD_DATE, build_xlsx, check_xlsx, codes, valid_row_dict
from .test_sources import check, found, row_values

LIFETIME = {"cpa_certificate_type": "Lifetime", "cpa_expiry_date": None}
RENEWAL = date(2031, 3, 31)
T, X, R, C = "CPA Certificate Type", "CPA Expiry Date", "CPA Renewal Date", "CPA Conditional Date"
SOURCES = {"upload": UPLOAD, "import": IMPORT}


# (id, row changes, errors expected as (column, code))
ROWS: list[tuple[str, dict[str, Any], set[tuple[str, str]]]] = [
    ("fixed-term-by-default", {}, set()),
    ("fixed-term-named", {"cpa_certificate_type": "Fixed-term"}, set()),
    ("fixed-term-loosely-written", {"cpa_certificate_type": " fixed TERM "}, set()),
    ("lifetime", {**LIFETIME, "cpa_renewal_date": RENEWAL}, set()),
    (
        "lifetime-lower-case",
        {**LIFETIME, "cpa_certificate_type": "lifetime", "cpa_renewal_date": "2031-03-31"},
        set(),
    ),
    ("lifetime-without-renewal", LIFETIME, {(R, "cpa-renewal-required")}),
    (
        "lifetime-with-expiry-too",
        {**LIFETIME, "cpa_renewal_date": RENEWAL, "cpa_expiry_date": date(2030, 1, 1)},
        {(X, "cpa-date-not-applicable")},
    ),
    (
        "lifetime-with-expiry-only",
        {**LIFETIME, "cpa_expiry_date": date(2030, 1, 1)},
        {(X, "cpa-date-not-applicable"), (R, "cpa-renewal-required")},
    ),
    (
        "fixed-term-with-renewal-too",
        {"cpa_renewal_date": RENEWAL},
        {(R, "cpa-date-not-applicable")},
    ),
    (
        "fixed-term-with-renewal-only",
        {"cpa_expiry_date": None, "cpa_renewal_date": RENEWAL},
        {(R, "cpa-date-not-applicable"), (X, "cpa-expiry-required")},
    ),
    ("fixed-term-with-neither", {"cpa_expiry_date": None}, {(X, "cpa-expiry-required")}),
    ("unknown-type", {"cpa_certificate_type": "Perpetual"}, {(T, "invalid-choice")}),
    ("renewal-not-a-date", {**LIFETIME, "cpa_renewal_date": "soon"}, {(R, "invalid-date")}),
    (
        "conditional-before-renewal",
        {**LIFETIME, "cpa_renewal_date": RENEWAL, "cpa_conditional_date": date(2028, 1, 1)},
        set(),
    ),
    (
        "conditional-on-renewal",
        {**LIFETIME, "cpa_renewal_date": RENEWAL, "cpa_conditional_date": RENEWAL},
        set(),
    ),
    (
        "conditional-after-renewal",
        {**LIFETIME, "cpa_renewal_date": RENEWAL, "cpa_conditional_date": date(2031, 4, 1)},
        {(C, "conditional-after-renewal")},
    ),
    (
        "conditional-after-expiry",
        {"cpa_conditional_date": date(2030, 1, 2)},
        {(C, "conditional-after-expiry")},
    ),
]


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
@pytest.mark.parametrize(("changes", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_row_rules(
    changes: dict[str, Any], expected: set[tuple[str, str]], source: RowSource
) -> None:
    report = check(row_values(**changes), source=source)
    assert {(column, code) for _, column, code in found(report)} == expected
    assert bool(report.entries) == (not expected)


def test_entries_carry_the_type_and_dates() -> None:
    (fixed,) = check(row_values(), source=UPLOAD).entries
    assert (fixed["cpa_certificate_type"], fixed["cpa_expiry_date"], fixed["cpa_renewal_date"]) == (
        "Fixed-term",
        date(2030, 1, 1),
        None,
    )
    (lifetime,) = check(row_values(**LIFETIME, cpa_renewal_date=RENEWAL), source=UPLOAD).entries
    assert (
        lifetime["cpa_certificate_type"],
        lifetime["cpa_expiry_date"],
        lifetime["cpa_renewal_date"],
    ) == ("Lifetime", None, RENEWAL)


def test_without_a_cpa_number_the_type_and_dates_are_ignored() -> None:
    row = row_values(
        physical_device_type="PPMID",
        dlms_certificate_number=None,
        cpa_certificate_number=None,
        cpa_expiry_date=None,
        cpa_certificate_type="Lifetime",
        cpa_renewal_date=RENEWAL,
    )
    report = check(row, source=UPLOAD)
    assert report.errors == []
    assert {(i.column, i.code) for i in report.warnings} == {
        (T, "not-applicable"),
        (R, "not-applicable"),
    }
    (entry,) = report.entries
    assert entry["cpa_certificate_type"] is None and entry["cpa_renewal_date"] is None


@pytest.mark.parametrize(
    ("renewal", "status", "source", "expected"),
    [
        (date(2026, 1, 16), "Active", UPLOAD, set()),
        (UPLOAD_DATE, "Active", UPLOAD, {(R, "cpa-expired")}),
        (date(2025, 1, 1), "Active", UPLOAD, {(R, "cpa-expired")}),
        # A published CPL lists entries past their dates until the Panel decides.
        (date(2025, 1, 1), "Active", IMPORT, set()),
        (date(2025, 1, 1), "Expired", IMPORT, set()),
    ],
)
def test_renewal_date_must_be_after_today_on_upload(
    renewal: date, status: str, source: RowSource, expected: set[tuple[str, str]]
) -> None:
    changes: dict[str, Any] = {**LIFETIME, "cpa_renewal_date": renewal, "status": status}
    if status == "Expired":
        changes["panel_decision_ref"] = "SECP_1"
    report = check(row_values(**changes), source=source)
    assert {(column, code) for _, column, code in found(report)} == expected


ON_RECORD_LIFETIME = CpaOnRecord(CpaCertificateType.LIFETIME, renewal_date=RENEWAL)
ON_RECORD_FIXED = CpaOnRecord(expiry_date=date(2030, 1, 1))


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
@pytest.mark.parametrize(
    ("record", "changes", "expected"),
    [
        (ON_RECORD_LIFETIME, {**LIFETIME, "cpa_renewal_date": RENEWAL}, set()),
        (
            ON_RECORD_LIFETIME,
            {**LIFETIME, "cpa_renewal_date": date(2031, 4, 1)},
            {(R, "cpa-renewal-conflict")},
        ),
        # A v1 row (no type: Fixed-term) for a certificate on record as Lifetime.
        (ON_RECORD_LIFETIME, {}, {(T, "cpa-type-conflict")}),
        (ON_RECORD_FIXED, {**LIFETIME, "cpa_renewal_date": RENEWAL}, {(T, "cpa-type-conflict")}),
        (ON_RECORD_FIXED, {}, set()),
        (ON_RECORD_FIXED, {"cpa_expiry_date": date(2030, 1, 2)}, {(X, "cpa-expiry-conflict")}),
    ],
)
def test_one_certificate_one_type_and_date_on_record(
    record: CpaOnRecord,
    changes: dict[str, Any],
    expected: set[tuple[str, str]],
    source: RowSource,
) -> None:
    report = check(row_values(**changes), source=source, cpa_certificates={"CPA-0001": record})
    assert {(column, code) for _, column, code in found(report)} == expected


def test_one_certificate_one_type_and_date_across_rows() -> None:
    first = row_values(**LIFETIME, cpa_renewal_date=RENEWAL)
    same = row_values(entry_id="CPL-000011", model_id="2222", **LIFETIME, cpa_renewal_date=RENEWAL)
    other_date = row_values(
        entry_id="CPL-000012", model_id="3333", **LIFETIME, cpa_renewal_date=date(2031, 4, 1)
    )
    fixed = row_values(entry_id="CPL-000013", model_id="4444")
    report = check(first, same, other_date, fixed, source=UPLOAD)
    assert found(report) == {(4, R, "cpa-renewal-conflict"), (5, T, "cpa-type-conflict")}
    message = {i.row: i.message for i in report.errors}
    assert "in row 2" in message[4] and "2031-04-01" in message[4]
    assert "type Fixed-term here but type Lifetime in row 2" in message[5]


@pytest.mark.parametrize("stray_first", [True, False], ids=["stray-first", "stray-later"])
@pytest.mark.parametrize(
    ("kind", "own", "other"),
    [
        (LIFETIME, {"cpa_renewal_date": RENEWAL}, {"cpa_expiry_date": date(2030, 6, 1)}),
        ({}, {"cpa_expiry_date": date(2030, 1, 1)}, {"cpa_renewal_date": RENEWAL}),
    ],
    ids=["lifetime-with-an-expiry-date", "fixed-term-with-a-renewal-date"],
)
def test_a_date_the_type_has_not_is_refused_in_its_row_alone(
    kind: dict[str, Any], own: dict[str, Any], other: dict[str, Any], stray_first: bool
) -> None:
    """One row of a certificate gives the date its type does not have, another does not:
    only that row is refused, for that date (once this raised AssertionError: a 500)."""
    stray = row_values(**{**kind, **own, **other})
    clean = row_values(entry_id="CPL-000011", model_id="2222", **{**kind, **own})
    rows = (stray, clean) if stray_first else (clean, stray)
    report = check(*rows, source=UPLOAD)
    (column,) = (HEADING_OF[name] for name in other)
    assert found(report) == {(2 if stray_first else 3, column, "cpa-date-not-applicable")}
    on_record = CpaOnRecord(
        CpaCertificateType.LIFETIME if kind else CpaCertificateType.FIXED_TERM,
        expiry_date=own.get("cpa_expiry_date"),
        renewal_date=own.get("cpa_renewal_date"),
    )
    report = check(stray, source=UPLOAD, cpa_certificates={"CPA-0001": on_record})
    assert found(report) == {(2, column, "cpa-date-not-applicable")}


def test_a_v1_workbook_without_the_new_columns_works_unchanged() -> None:
    v1 = [c.heading for c in COLUMNS if c.heading not in (T, R)]
    report = check_xlsx(build_xlsx([valid_row_dict()], headings=v1))
    assert report.issues == []
    (entry,) = report.entries
    assert entry["cpa_certificate_type"] == "Fixed-term"
    assert entry["cpa_renewal_date"] is None
    # ... and still refuses what it refused before.
    missing = check_xlsx(build_xlsx([{**valid_row_dict(), X: None}], headings=v1))
    assert codes(missing) == {(2, X, "cpa-expiry-required")}


def test_a_lifetime_row_in_a_workbook() -> None:
    row = {**valid_row_dict(), T: "Lifetime", X: None, R: "2031-03-31"}
    report = check_xlsx(build_xlsx([row]))
    assert report.issues == []
    assert report.entries[0]["cpa_renewal_date"] == RENEWAL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fixed-term", CpaCertificateType.FIXED_TERM),
        ("fixed term", CpaCertificateType.FIXED_TERM),
        ("FIXEDTERM", CpaCertificateType.FIXED_TERM),
        ("Lifetime", CpaCertificateType.LIFETIME),
        (" life-time ", CpaCertificateType.LIFETIME),
        ("Fixed", None),
        ("Life", None),
        ("", None),
    ],
)
def test_parse_cpa_certificate_type(text: str, expected: CpaCertificateType | None) -> None:
    assert parse_cpa_certificate_type(text) is expected
