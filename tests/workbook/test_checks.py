"""Every rule of SPEC §3: a row that passes it and a row that breaks it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cpl_service.workbook import RawRow, check_rows, referenced_entry_ids
from cpl_service.workbook.headings import HEADING_OF, REQUIRED_FIELDS

from .conftest import build_xlsx, check_dicts, check_xlsx, codes, make_context, valid_row_dict

FIRMWARE_UPDATE = {
    "Submission Type": "Firmware Update",
    "Firmware Version": "00000002",
    "Certificate Mapping Evidence": "Letter from the CPA lab, ref 42",
    "Previous CPL Entry ID": "CPL-000001",
}
SMETS1 = {
    "Technical Specification": "SMETS1 v1.2",
    "GBCS Version": None,
    "CPA Certificate Number": None,
    "CPA Expiry Date": None,
    "SMETS1 Compliance Statement": "SMETS1 statement ref S1-7",
}
PPMID = {
    "Physical Device Type": "PPMID",
    "DLMS Certificate Number": None,
    "CPA Certificate Number": None,
    "CPA Expiry Date": None,
}
CH = {
    "Physical Device Type": "Communications Hub",
    "Technical Specification": "CHTS v4.2",
    "DLMS Certificate Number": None,
}
HASH = "ab" * 32

# (id, role, good overrides, bad overrides, column, code, severity)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str, str, str]] = [
    (
        "submission-type",
        "manufacturer",
        {"Submission Type": " new device MODEL "},
        {"Submission Type": "Upgrade"},
        "Submission Type",
        "invalid-choice",
        "error",
    ),
    (
        "manufacturer-name-length",
        "manufacturer",
        {"Manufacturer Name": "M" * 100},
        {"Manufacturer Name": "M" * 101},
        "Manufacturer Name",
        "too-long",
        "error",
    ),
    (
        "model-name-length",
        "manufacturer",
        {"Model Name": "x"},
        {"Model Name": "x" * 40_000},
        "Model Name",
        "too-long",
        "error",
    ),
    (
        "manufacturer-id-hex",
        "manufacturer",
        {"Manufacturer ID": "ab01"},
        {"Manufacturer ID": "AG01"},
        "Manufacturer ID",
        "invalid-hex",
        "error",
    ),
    (
        "manufacturer-id-length",
        "manufacturer",
        {"Manufacturer ID": "AB01"},
        {"Manufacturer ID": "AB012"},
        "Manufacturer ID",
        "invalid-hex",
        "error",
    ),
    (
        "model-id-4-or-8",
        "manufacturer",
        {"Model ID": "1234abcd"},
        {"Model ID": "123456"},
        "Model ID",
        "invalid-hex",
        "error",
    ),
    (
        "model-id-typed-as-number",
        "manufacturer",
        {"Model ID": 1234},
        {"Model ID": 123},
        "Model ID",
        "invalid-hex",
        "error",
    ),
    (
        "hardware-version",
        "manufacturer",
        {"Hardware Version": "0A0b"},
        {"Hardware Version": "101"},
        "Hardware Version",
        "invalid-hex",
        "error",
    ),
    (
        "firmware-version",
        "manufacturer",
        {"Firmware Version": "0002012f"},
        {"Firmware Version": "2012F"},
        "Firmware Version",
        "invalid-hex",
        "error",
    ),
    (
        "device-type-unknown",
        "manufacturer",
        {"Physical Device Type": "esme_single"},
        {"Physical Device Type": "Toaster"},
        "Physical Device Type",
        "invalid-choice",
        "error",
    ),
    (
        "device-type-ihd",
        "manufacturer",
        {"Physical Device Type": "ESME_SINGLE"},
        {"Physical Device Type": "IHD"},
        "Physical Device Type",
        "unlisted-device",
        "error",
    ),
    (
        "device-type-type2",
        "manufacturer",
        {"Physical Device Type": "ESME_SINGLE"},
        {"Physical Device Type": "In-Home Display"},
        "Physical Device Type",
        "unlisted-device",
        "error",
    ),
    (
        "specification-unknown",
        "manufacturer",
        {"Technical Specification": "smets2   V4.2"},
        {"Technical Specification": "SMETS2 v9.9"},
        "Technical Specification",
        "unknown-specification",
        "error",
    ),
    (
        "specification-is-gbcs",
        "manufacturer",
        {"Technical Specification": "SMETS2v4.2"},
        {"Technical Specification": "GBCS v3.2"},
        "Technical Specification",
        "unknown-specification",
        "error",
    ),
    (
        "specification-ended",
        "manufacturer",
        {"Technical Specification": "SMETS2 v4.2"},
        {"Technical Specification": "SMETS2 v2.0"},
        "Technical Specification",
        "specification-ended",
        "warning",
    ),
    (
        "gbcs-required",
        "manufacturer",
        {"GBCS Version": "v3.2"},
        {"GBCS Version": None},
        "GBCS Version",
        "required",
        "error",
    ),
    (
        "gbcs-unknown",
        "manufacturer",
        {"GBCS Version": 3.2},
        {"GBCS Version": "9.9"},
        "GBCS Version",
        "unknown-specification",
        "error",
    ),
    (
        "gbcs-whole-number",
        "manufacturer",
        {"GBCS Version": 4},
        {"GBCS Version": "SMETS2 v4.2"},
        "GBCS Version",
        "unknown-specification",
        "error",
    ),
    (
        "gbcs-ended",
        "manufacturer",
        {"GBCS Version": "3.2"},
        {"GBCS Version": "2.0"},
        "GBCS Version",
        "specification-ended",
        "warning",
    ),
    (
        "zigbee-required",
        "manufacturer",
        {"ZigBee Certificate Number": 12345},
        {"ZigBee Certificate Number": None},
        "ZigBee Certificate Number",
        "certificate-required",
        "error",
    ),
    (
        "dlms-required-for-esme",
        "manufacturer",
        {"Physical Device Type": "ESME_POLY"},
        {"DLMS Certificate Number": None},
        "DLMS Certificate Number",
        "certificate-required",
        "error",
    ),
    (
        "cpa-required",
        "manufacturer",
        {"Physical Device Type": "GSME", "DLMS Certificate Number": None},
        {"CPA Certificate Number": None, "CPA Expiry Date": None},
        "CPA Certificate Number",
        "certificate-required",
        "error",
    ),
    (
        "dlms-not-applicable",
        "manufacturer",
        {"Physical Device Type": "GSME", "DLMS Certificate Number": None},
        {"Physical Device Type": "GSME"},
        "DLMS Certificate Number",
        "certificate-not-applicable",
        "error",
    ),
    (
        "cpa-not-applicable-ppmid",
        "manufacturer",
        PPMID,
        {**PPMID, "CPA Certificate Number": "CPA-9", "CPA Expiry Date": date(2030, 1, 1)},
        "CPA Certificate Number",
        "certificate-not-applicable",
        "error",
    ),
    (
        "cpa-not-applicable-smets1",
        "dcc",
        SMETS1,
        {**SMETS1, "CPA Certificate Number": "CPA-9", "CPA Expiry Date": date(2030, 1, 1)},
        "CPA Certificate Number",
        "certificate-not-applicable",
        "error",
    ),
    (
        "cpa-expiry-required",
        "manufacturer",
        {"CPA Expiry Date": "2030-01-01"},
        {"CPA Expiry Date": None},
        "CPA Expiry Date",
        "cpa-expiry-required",
        "error",
    ),
    (
        "cpa-expiry-format",
        "manufacturer",
        {"CPA Expiry Date": 47484.0},  # an Excel serial number: 2030-01-01
        {"CPA Expiry Date": "01/01/2030"},
        "CPA Expiry Date",
        "invalid-date",
        "error",
    ),
    (
        "cpa-expiry-invalid-day",
        "manufacturer",
        {"CPA Expiry Date": "2028-02-29"},
        {"CPA Expiry Date": "2027-02-30"},
        "CPA Expiry Date",
        "invalid-date",
        "error",
    ),
    (
        "cpa-expired",
        "manufacturer",
        {"CPA Expiry Date": date(2026, 1, 16)},
        {"CPA Expiry Date": date(2026, 1, 15)},
        "CPA Expiry Date",
        "cpa-expired",
        "error",
    ),
    (
        "conditional-after-expiry",
        "manufacturer",
        {"CPA Conditional Date": date(2030, 1, 1)},
        {"CPA Conditional Date": date(2030, 1, 2)},
        "CPA Conditional Date",
        "conditional-after-expiry",
        "error",
    ),
    (
        "conditional-date-format",
        "manufacturer",
        {"CPA Conditional Date": "2029-06-30"},
        {"CPA Conditional Date": "soon"},
        "CPA Conditional Date",
        "invalid-date",
        "error",
    ),
    (
        "image-hash-hex",
        "manufacturer",
        {"Manufacturer Image Hash": HASH, "Manufacturer Image Hash Creator": "Acme PKI"},
        {"Manufacturer Image Hash": HASH[:-1], "Manufacturer Image Hash Creator": "Acme"},
        "Manufacturer Image Hash",
        "invalid-hex",
        "error",
    ),
    (
        "hash-creator-required",
        "manufacturer",
        {"Manufacturer Image Hash": HASH, "Manufacturer Image Hash Creator": "Acme PKI"},
        {"Manufacturer Image Hash": HASH},
        "Manufacturer Image Hash Creator",
        "hash-creator-required",
        "error",
    ),
    (
        "mapping-evidence-required",
        "manufacturer",
        FIRMWARE_UPDATE,
        {**FIRMWARE_UPDATE, "Certificate Mapping Evidence": None},
        "Certificate Mapping Evidence",
        "mapping-evidence-required",
        "error",
    ),
    (
        "previous-entry-required",
        "manufacturer",
        FIRMWARE_UPDATE,
        {**FIRMWARE_UPDATE, "Previous CPL Entry ID": None},
        "Previous CPL Entry ID",
        "previous-entry-required",
        "error",
    ),
    (
        "previous-entry-not-found",
        "manufacturer",
        {**FIRMWARE_UPDATE, "Previous CPL Entry ID": "cpl-1"},
        {**FIRMWARE_UPDATE, "Previous CPL Entry ID": "CPL-999999"},
        "Previous CPL Entry ID",
        "previous-entry-not-found",
        "error",
    ),
    (
        "previous-entry-garbage",
        "manufacturer",
        FIRMWARE_UPDATE,
        {**FIRMWARE_UPDATE, "Previous CPL Entry ID": "=HYPERLINK(1)"},
        "Previous CPL Entry ID",
        "previous-entry-not-found",
        "error",
    ),
    (
        "previous-entry-not-active",
        "manufacturer",
        FIRMWARE_UPDATE,
        {**FIRMWARE_UPDATE, "Previous CPL Entry ID": "CPL-000002"},
        "Previous CPL Entry ID",
        "previous-entry-not-active",
        "error",
    ),
    (
        "previous-entry-mismatch",
        "manufacturer",
        FIRMWARE_UPDATE,
        {**FIRMWARE_UPDATE, "Previous CPL Entry ID": "CPL-000003"},
        "Previous CPL Entry ID",
        "previous-entry-mismatch",
        "error",
    ),
    (
        "previous-entry-other-device-type",
        "manufacturer",
        FIRMWARE_UPDATE,
        {**FIRMWARE_UPDATE, "Physical Device Type": "ESME_TWIN"},
        "Previous CPL Entry ID",
        "previous-entry-mismatch",
        "error",
    ),
    (
        "same-firmware",
        "manufacturer",
        FIRMWARE_UPDATE,
        {**FIRMWARE_UPDATE, "Firmware Version": "00000001"},
        "Firmware Version",
        "same-firmware",
        "error",
    ),
    (
        "smets1-statement-required",
        "dcc",
        SMETS1,
        {**SMETS1, "SMETS1 Compliance Statement": None},
        "SMETS1 Compliance Statement",
        "smets1-statement-required",
        "error",
    ),
    (
        "smets1-submitter",
        "dcc",
        SMETS1,
        SMETS1,  # submitted by a manufacturer, see the role override below
        "Technical Specification",
        "submitter-not-allowed",
        "error",
    ),
    (
        "comms-hub-submitter",
        "secas",
        CH,
        CH,
        "Physical Device Type",
        "submitter-not-allowed",
        "error",
    ),
    (
        "contact-email",
        "manufacturer",
        {"Contact Email": "  Someone@Example.COM "},
        {"Contact Email": "someone@"},
        "Contact Email",
        "invalid-email",
        "error",
    ),
    (
        "duplicate-entry",
        "manufacturer",
        {"Model ID": "5555", "Firmware Version": "00000001"},
        {
            "Model ID": "5555",
            "Firmware Version": "00000001",
            "Physical Device Type": "GSME",
            "DLMS Certificate Number": None,
        },
        "Firmware Version",
        "duplicate-entry",
        "error",
    ),
    (
        "cpa-expiry-conflict-with-record",
        "manufacturer",
        {"CPA Certificate Number": "CPA-OLD", "CPA Expiry Date": date(2030, 6, 30)},
        {"CPA Certificate Number": "CPA-OLD", "CPA Expiry Date": date(2030, 1, 1)},
        "CPA Expiry Date",
        "cpa-expiry-conflict",
        "error",
    ),
    (
        "formula-like-text",
        "manufacturer",
        {"Manufacturer Release Notes": "- fixes\n- more fixes"},
        {"Manufacturer Release Notes": "=cmd|' /C calc'!A0"},
        "Manufacturer Release Notes",
        "invalid-text",
        "error",
    ),
    (
        "control-characters",
        "manufacturer",
        {"Manufacturer Name": "Acme\u00a0Meters"},
        {"Manufacturer Name": "Acme_x0007_Meters"},  # Excel's escape for U+0007
        "Manufacturer Name",
        "invalid-text",
        "error",
    ),
]

# Roles of the failing row where it differs from the passing row's.
BAD_ROLE = {"smets1-submitter": "manufacturer", "comms-hub-submitter": "supplier"}


@pytest.mark.parametrize(
    ("role", "good", "bad", "column", "code", "severity"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_rule(
    request: pytest.FixtureRequest,
    role: str,
    good: dict[str, Any],
    bad: dict[str, Any],
    column: str,
    code: str,
    severity: str,
) -> None:
    passing = check_dicts([{**valid_row_dict(), **good}], role=role)
    assert passing.errors == [], passing.errors
    assert len(passing.entries) == 1

    bad_role = BAD_ROLE.get(request.node.callspec.id, role)
    failing = check_dicts([{**valid_row_dict(), **bad}], role=bad_role)
    found = [i for i in failing.issues if (i.row, i.column, i.code) == (2, column, code)]
    assert found, failing.issues
    assert found[0].severity == severity
    assert found[0].message and len(found[0].message) < 600
    if severity == "error":
        assert failing.entries == []
    else:
        assert failing.errors == [] and len(failing.entries) == 1


@pytest.mark.parametrize("field", sorted(REQUIRED_FIELDS))
def test_required_fields(field: str) -> None:
    heading = HEADING_OF[field]
    report = check_dicts([{**valid_row_dict(), heading: "   "}])
    assert (2, heading, "required") in codes(report)
    assert report.entries == []


def test_valid_row_values_are_normalised(valid_row: dict[str, Any]) -> None:
    row = {
        **valid_row,
        "Manufacturer ID": "ab01",
        "Model ID": 1234,
        "Firmware Version": "0002012f",
        "Physical Device Type": "Single Element ESME",
        "Technical Specification": "smets2 v4.2",
        "GBCS Version": 3.2,
        "CPA Expiry Date": "2030-01-01",
        "CPA Conditional Date": date(2029, 1, 1),
        "Manufacturer Image Hash": HASH,
        "Manufacturer Image Hash Creator": "Acme PKI",
        "Contact Email": "Compliance@Acme.Example.com",
    }
    report = check_dicts([row])
    assert report.issues == []
    assert report.needs_signature is True
    (entry,) = report.entries
    assert entry["excel_row"] == 2
    assert entry["manufacturer_id"] == "AB01"
    assert entry["model_id"] == "1234"
    assert entry["firmware_version"] == "0002012F"
    assert entry["physical_device_type"] == "ESME_SINGLE"
    assert entry["technical_specification"] == "SMETS2 v4.2"
    assert entry["gbcs_version"] == "GBCS v3.2"
    assert entry["cpa_expiry_date"] == date(2030, 1, 1)
    assert entry["cpa_conditional_date"] == date(2029, 1, 1)
    assert entry["manufacturer_image_hash"] == HASH.upper()
    assert entry["smets1"] is False
    assert entry["contact_email"] == "Compliance@acme.example.com"
    from cpl_service.entries.models import EntryFields

    fields = {k: v for k, v in entry.items() if k != "excel_row"}
    assert set(fields) == set(EntryFields.model_fields)
    EntryFields.model_validate(fields)


def test_smets1_entry_by_dcc(valid_row: dict[str, Any]) -> None:
    report = check_dicts([{**valid_row, **SMETS1}], role="dcc")
    assert report.errors == []
    (entry,) = report.entries
    assert entry["smets1"] is True
    assert entry["gbcs_version"] is None
    assert entry["cpa_certificate_number"] is None


def test_no_signature_needed_without_hash(valid_row: dict[str, Any]) -> None:
    assert check_dicts([valid_row]).needs_signature is False


def test_duplicate_in_file_names_the_other_row(valid_row: dict[str, Any]) -> None:
    other_type = {**valid_row, "Physical Device Type": "ESME_TWIN"}
    report = check_dicts([valid_row, other_type, valid_row])
    issues = [i for i in report.issues if i.code == "duplicate-in-file"]
    assert [(i.row, i.column) for i in issues] == [(4, "Firmware Version")]
    assert "row 2" in issues[0].message
    # The same hardware and firmware under another Physical Device Type is allowed.
    assert [e["excel_row"] for e in report.entries] == [2, 3]


def test_cpa_expiry_conflict_within_file(valid_row: dict[str, Any]) -> None:
    second = {**valid_row, "Model ID": "4321", "CPA Expiry Date": date(2031, 1, 1)}
    same = {**valid_row, "Model ID": "4322"}
    report = check_dicts([valid_row, second, same])
    assert {(i.row, i.column, i.code) for i in report.errors} == {
        (3, "CPA Expiry Date", "cpa-expiry-conflict")
    }
    assert "row 2" in report.errors[0].message


def test_all_problems_are_reported(valid_row: dict[str, Any]) -> None:
    bad = {
        **valid_row,
        "Manufacturer ID": "XX",
        "Model ID": "1",
        "Physical Device Type": "IHD",
        "Contact Email": "nope",
        "CPA Expiry Date": "yesterday",
    }
    report = check_dicts([bad, {**valid_row, "Submission Type": "?"}])
    assert {(i.row, i.code) for i in report.errors} >= {
        (2, "invalid-hex"),
        (2, "unlisted-device"),
        (2, "invalid-email"),
        (2, "invalid-date"),
        (3, "invalid-choice"),
    }


def test_unknown_specification_lists_the_known_ones(valid_row: dict[str, Any]) -> None:
    report = check_dicts([{**valid_row, "Technical Specification": "SMETS3"}])
    (issue,) = report.errors
    assert "SMETS2 v4.2" in issue.message and "CHTS v4.2" in issue.message
    assert "GBCS v3.2" not in issue.message


def test_new_register_version_is_data_not_code(valid_row: dict[str, Any]) -> None:
    from cpl_service.workbook import SpecificationInfo

    from .conftest import SPECIFICATIONS

    specs = [*SPECIFICATIONS, SpecificationInfo("GBCS v1.1", "GBCS")]
    report = check_dicts(
        [{**valid_row, "GBCS Version": "1.1"}],
        specifications={s.name: s for s in specs},
    )
    assert report.errors == []
    assert report.entries[0]["gbcs_version"] == "GBCS v1.1"


def test_referenced_entry_ids() -> None:
    rows = [
        RawRow(2, {"previous_entry_id": "cpl-000001"}),
        RawRow(3, {"previous_entry_id": 7.0}),
        RawRow(4, {"previous_entry_id": None}),
        RawRow(5, {"previous_entry_id": "junk"}),
    ]
    assert referenced_entry_ids(rows) == {"CPL-000001", "CPL-000007"}


def test_check_rows_directly_with_hostile_values() -> None:
    values: dict[str, Any] = {f: "\x00" * 50_000 for f in HEADING_OF}
    values["cpa_expiry_date"] = float("nan")
    values["model_id"] = float("inf")
    values["manufacturer_id"] = True
    report = check_rows([RawRow(9, values)], context=make_context())
    assert report.entries == []
    assert all(i.row == 9 for i in report.issues)
    assert all(len(i.message) < 1000 for i in report.issues)


def test_missing_column_reported_once() -> None:
    headings = [h for h in HEADING_OF.values() if h != "Contact Email"]
    rows = [{**valid_row_dict(), "Model ID": f"000{n}"} for n in range(3)]
    report = check_xlsx(build_xlsx(rows, headings=headings))
    assert [(i.row, i.column, i.code) for i in report.errors] == [
        (1, "Contact Email", "missing-column")
    ]
    assert report.entries == []
