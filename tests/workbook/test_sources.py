"""One rule set, two row sources: what an upload and `import-cpl` share, and each way they
differ (`RowSource`), as pure checks of rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from cpl_service.entries.models import Entry
from cpl_service.entries.workflow import REMOVAL_STATUSES
from cpl_service.workbook import IMPORT, UPLOAD, CpaOnRecord, RawRow, RowSource, check_rows
from cpl_service.workbook.headings import HEADING_OF
from cpl_service.workbook.report import CheckReport

from .conftest import UPLOAD_DATE, make_context, valid_row_dict

FIELD_OF = {heading: field for field, heading in HEADING_OF.items()}
SOURCES = {"upload": UPLOAD, "import": IMPORT}


def row_values(**changes: Any) -> dict[str, Any]:
    """A row (field -> value) both sources accept: a listed entry's columns included."""
    values = {FIELD_OF[h]: v for h, v in valid_row_dict().items()}
    values.update(entry_id="CPL-000010", status="Active")
    values.update(changes)
    return values


def check(
    *rows: dict[str, Any], source: RowSource, role: str = "secas", **context: Any
) -> CheckReport:
    raw = [RawRow(n, values) for n, values in enumerate(rows, start=2)]
    return check_rows(raw, context=make_context(role, source=source, **context))


def found(report: CheckReport) -> set[tuple[int, str, str]]:
    return {(i.row, i.column, i.code) for i in report.errors}


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
def test_the_valid_row_passes_both(source: RowSource) -> None:
    report = check(row_values(), source=source)
    assert report.issues == []
    assert len(report.entries) == 1


# --- the rules both share: one statement, one test for both -------------------------------

TEXT_LIMITS = {
    name: limit
    for name, info in Entry.model_fields.items()
    for limit in [getattr(m, "max_length", None) for m in info.metadata]
    if isinstance(limit, int) and name in HEADING_OF and name != "entry_id"
}
SHARED_TEXT = sorted(
    set(TEXT_LIMITS)
    & {
        "manufacturer_name",
        "model_name",
        "release_notes",
        "zigbee_certificate_number",
        "dlms_certificate_number",
        "cpa_certificate_number",
        "manufacturer_image_hash_creator",
    }
)


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
@pytest.mark.parametrize("name", SHARED_TEXT)
def test_text_lengths_are_the_entry_models(source: RowSource, name: str) -> None:
    limit = TEXT_LIMITS[name]
    extra = {"manufacturer_image_hash": "AB" * 32} if "hash" in name else {}
    assert found(check(row_values(**extra, **{name: "x" * limit}), source=source)) == set()
    too_long = check(row_values(**extra, **{name: "x" * (limit + 1)}), source=source)
    assert found(too_long) == {(2, HEADING_OF[name], "too-long")}
    assert f"at most {limit}" in too_long.errors[0].message


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
@pytest.mark.parametrize(
    ("changes", "column", "code"),
    [
        ({"manufacturer_id": "AG01"}, "Manufacturer ID", "invalid-hex"),
        ({"physical_device_type": "IHD"}, "Physical Device Type", "unlisted-device"),
        (
            {"technical_specification": "GBCS v3.2"},
            "Technical Specification",
            "unknown-specification",
        ),
        ({"gbcs_version": None}, "GBCS Version", "required"),
        ({"dlms_certificate_number": None}, "DLMS Certificate Number", "certificate-required"),
        (
            {"physical_device_type": "PPMID", "cpa_expiry_date": None},
            "CPA Certificate Number",
            "certificate-not-applicable",
        ),
        ({"cpa_expiry_date": None}, "CPA Expiry Date", "cpa-expiry-required"),
        (
            {"cpa_conditional_date": date(2030, 1, 2)},
            "CPA Conditional Date",
            "conditional-after-expiry",
        ),
        ({"manufacturer_name": "Acme\x07"}, "Manufacturer Name", "invalid-text"),
        ({"contact_email": "someone@"}, "Contact Email", "invalid-email"),
    ],
)
def test_shared_rules_hold_for_both(
    source: RowSource, changes: dict[str, Any], column: str, code: str
) -> None:
    report = check(row_values(**changes), source=source)
    assert (2, column, code) in found(report)
    assert report.entries == []


# --- how the two differ -------------------------------------------------------------------


def test_statuses_upload_rows_are_new_and_carry_none() -> None:
    report = check(row_values(status="withdrawn", entry_id="junk"), source=UPLOAD)
    (entry,) = report.entries
    assert "status" not in entry and "entry_id" not in entry


@pytest.mark.parametrize("word", ["Active", "expired", "CANCELLED", " Withdrawn "])
def test_statuses_an_import_row_carries_a_listed_status(word: str) -> None:
    (entry,) = check(row_values(status=word), source=IMPORT).entries
    assert entry["status"] == word.strip().lower()


@pytest.mark.parametrize("word", ["pending_review", "Rejected", "Live"])
def test_statuses_an_import_row_may_not_carry_another(word: str) -> None:
    report = check(row_values(status=word), source=IMPORT)
    assert found(report) == {(2, "Status", "invalid-status")}
    assert "Active, Expired, Cancelled or Withdrawn" in report.errors[0].message


def test_statuses_an_import_row_must_give_one() -> None:
    assert found(check(row_values(status=None), source=IMPORT)) == {(2, "Status", "required")}


def test_entry_id_an_import_row_gives_a_new_canonical_one() -> None:
    rows = [
        row_values(entry_id="cpl-000010"),
        row_values(entry_id="CPL-000010", model_id="2222"),
        row_values(entry_id="CPL-15", model_id="3333"),
        row_values(entry_id="CPL-000042", model_id="4444"),
        row_values(entry_id=None, model_id="5555"),
    ]
    report = check(*rows, source=IMPORT, taken_entry_ids={"CPL-000042"})
    assert found(report) == {
        (3, "CPL Entry ID", "duplicate-entry-id"),
        (4, "CPL Entry ID", "invalid-entry-id"),
        (5, "CPL Entry ID", "entry-exists"),
        (6, "CPL Entry ID", "required"),
    }
    assert [e["entry_id"] for e in report.entries] == ["CPL-000010"]


@pytest.mark.parametrize("status", ["Active", "Withdrawn"])
def test_past_cpa_expiry_an_import_keeps_what_was_listed(status: str) -> None:
    past = row_values(status=status, cpa_expiry_date=UPLOAD_DATE)
    assert found(check(past, source=IMPORT)) == set()
    assert found(check(past, source=UPLOAD)) == {(2, "CPA Expiry Date", "cpa-expired")}


def test_past_cpa_expiry_allowed_is_decided_per_status() -> None:
    removed_only = replace(IMPORT, past_cpa_expiry_allowed=frozenset(REMOVAL_STATUSES))
    past = {"cpa_expiry_date": UPLOAD_DATE}
    assert found(check(row_values(status="Expired", **past), source=removed_only)) == set()
    assert found(check(row_values(status="Active", **past), source=removed_only)) == {
        (2, "CPA Expiry Date", "cpa-expired")
    }


def test_submission_evidence_needed_on_upload_not_in_a_listing() -> None:
    firmware_update = row_values(submission_type="Firmware Update")
    smets1 = row_values(
        technical_specification="SMETS1 v1.2",
        gbcs_version=None,
        cpa_certificate_number=None,
        cpa_expiry_date=None,
        model_id="7777",
    )
    assert found(check(firmware_update, smets1, source=UPLOAD)) == {
        (2, "Certificate Mapping Evidence", "mapping-evidence-required"),
        (2, "Previous CPL Entry ID", "previous-entry-required"),
        (3, "SMETS1 Compliance Statement", "smets1-statement-required"),
    }
    smets1["entry_id"] = "CPL-000011"
    report = check(firmware_update, smets1, source=IMPORT)
    assert report.issues == []
    assert [e["previous_entry_id"] for e in report.entries] == [None, None]


def test_formula_like_text_refused_on_upload_kept_from_a_listing() -> None:
    row = row_values(model_name="=cmd|' /C calc'!A0")
    assert found(check(row, source=UPLOAD)) == {(2, "Model Name", "invalid-text")}
    (entry,) = check(row, source=IMPORT).entries
    assert entry["model_name"] == "=cmd|' /C calc'!A0"


def test_contact_email_required_on_upload_not_in_a_listing() -> None:
    row = row_values(contact_email=None)
    assert found(check(row, source=UPLOAD)) == {(2, "Contact Email", "required")}
    (entry,) = check(row, source=IMPORT).entries
    assert entry["contact_email"] is None


def test_submission_type_required_on_upload_defaulted_in_a_listing() -> None:
    row = row_values(submission_type=None)
    assert found(check(row, source=UPLOAD)) == {(2, "Submission Type", "required")}
    (entry,) = check(row, source=IMPORT).entries
    assert entry["submission_type"] == "New Device Model"


def test_cpa_conditional_date_fixed_in_a_listing_not_on_upload() -> None:
    record: dict[str, Any] = {
        "cpa_certificates": {
            "CPA-0001": CpaOnRecord(expiry_date=date(2030, 1, 1), conditional_date=date(2028, 1, 1))
        }
    }
    row = row_values(cpa_conditional_date=date(2029, 1, 1))
    assert found(check(row, source=UPLOAD, **record)) == set()
    report = check(row, source=IMPORT, **record)
    assert found(report) == {(2, "CPA Conditional Date", "cpa-conditional-conflict")}
    assert "conditional date 2028-01-01" in report.errors[0].message

    first = row_values()
    second = row_values(entry_id="CPL-000011", model_id="2222", cpa_conditional_date=None)
    third = row_values(
        entry_id="CPL-000012", model_id="3333", cpa_conditional_date=date(2029, 1, 1)
    )
    assert found(check(first, second, third, source=UPLOAD)) == set()
    assert found(check(first, second, third, source=IMPORT)) == {
        (4, "CPA Conditional Date", "cpa-conditional-conflict")
    }


def test_cpa_expiry_is_one_per_certificate_for_both() -> None:
    second = row_values(entry_id="CPL-000011", model_id="2222", cpa_expiry_date=date(2031, 1, 1))
    for source in SOURCES.values():
        assert found(check(row_values(), second, source=source)) == {
            (3, "CPA Expiry Date", "cpa-expiry-conflict")
        }


def test_duplicate_device_models_only_among_live_rows() -> None:
    withdrawn = row_values(entry_id="CPL-000011", status="Withdrawn")
    assert found(check(row_values(), withdrawn, source=IMPORT)) == set()
    active = row_values(entry_id="CPL-000011")
    assert found(check(row_values(), active, source=IMPORT)) == {
        (3, "Firmware Version", "duplicate-in-file")
    }
    live: dict[str, Any] = {
        "live_identities": frozenset({("AB01", "1234", "0101", "0002012F", "ESME_SINGLE")})
    }
    assert found(check(withdrawn, source=IMPORT, **live)) == set()
    assert found(check(row_values(), source=IMPORT, **live)) == {
        (2, "Firmware Version", "duplicate-entry")
    }
    # An upload's rows are all new, pending review: each one is live.
    assert found(check(row_values(), row_values(), source=UPLOAD)) == {
        (3, "Firmware Version", "duplicate-in-file")
    }


def test_submitter_rules_follow_the_role_not_the_source() -> None:
    comms_hub = row_values(
        physical_device_type="CH", technical_specification="CHTS v4.2", dlms_certificate_number=None
    )
    for source in SOURCES.values():
        assert found(check(comms_hub, source=source, role="secas")) == set()
        assert found(check(comms_hub, source=source, role="manufacturer")) == {
            (2, "Physical Device Type", "submitter-not-allowed")
        }


# --- what only a listing records ----------------------------------------------------------


def test_listing_columns_are_read_into_the_entry() -> None:
    row = row_values(
        status="Cancelled",
        status_effective_at=datetime(2024, 1, 2, 3, 4, 5, 999_000),
        panel_decision_ref="SECP_81_1906_12",
        removal_proposed="yes",
        smets1="No",
    )
    (entry,) = check(row, source=IMPORT).entries
    assert entry["status"] == "cancelled"
    assert entry["status_effective_at"] == datetime(2024, 1, 2, 3, 4, 6, tzinfo=UTC)
    assert entry["panel_decision_ref"] == "SECP_81_1906_12"
    assert entry["removal_proposed"] is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T04:04:05+01:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (date(2024, 1, 2), datetime(2024, 1, 2, tzinfo=UTC)),
        (None, None),
    ],
)
def test_status_effective_date(value: Any, expected: datetime | None) -> None:
    (entry,) = check(row_values(status_effective_at=value), source=IMPORT).entries
    assert entry["status_effective_at"] == expected


@pytest.mark.parametrize(
    ("changes", "column", "code"),
    [
        ({"status_effective_at": "last Tuesday"}, "Status Effective Date", "invalid-date"),
        ({"removal_proposed": "maybe"}, "Removal Proposed", "invalid-flag"),
        ({"smets1": "Yes"}, "SMETS1", "smets1-mismatch"),
        ({"panel_decision_ref": "R" * 101}, "Panel Decision Reference", "too-long"),
    ],
)
def test_listing_columns_are_checked(changes: dict[str, Any], column: str, code: str) -> None:
    report = check(row_values(**changes), source=IMPORT)
    assert found(report) == {(2, column, code)}
    # An upload has no such columns: whatever those fields hold is not read.
    assert found(check(row_values(**changes), source=UPLOAD)) == set()


def test_smets1_follows_the_technical_specification() -> None:
    smets1 = row_values(
        technical_specification="SMETS1 v1.2",
        gbcs_version=None,
        cpa_certificate_number=None,
        cpa_expiry_date=None,
    )
    (entry,) = check({**smets1, "smets1": "Yes"}, source=IMPORT).entries
    assert entry["smets1"] is True
    report = check({**smets1, "smets1": False}, source=IMPORT)
    assert found(report) == {(2, "SMETS1", "smets1-mismatch")}
    assert "SMETS1 v1.2 is a SMETS1 specification" in report.errors[0].message
