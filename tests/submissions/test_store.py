"""Storing an accepted upload: entries, their first events and the certificates they name."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.clock import today, utcnow
from cpl_service.config import Settings
from cpl_service.entries.models import Entry, EntryEvent, EntryStatus, format_entry_id
from cpl_service.submissions import service
from cpl_service.submissions.models import Submission
from tests.conftest import MakeParty
from tests.factories import make_entry, submit_rows
from tests.workbooks import valid_row

EXPIRY = today() + timedelta(days=800)


# named_certificates: a pure function of the drafts --------------------------------------


def test_named_certificates_are_by_kind_then_number_and_skip_empty_numbers() -> None:
    drafts: list[dict[str, Any]] = [
        {"zigbee_certificate_number": "Z-2", "dlms_certificate_number": "D-1"},
        {"zigbee_certificate_number": "Z-1", "dlms_certificate_number": ""},
        {"zigbee_certificate_number": None, "cpa_certificate_number": "C-1"},
        {"zigbee_certificate_number": "Z-2"},
        {},  # a draft naming nothing
    ]
    named = service.named_certificates(drafts)
    # The order a single insert sorted by (kind, number) would take.
    assert list(named) == ["CPA", "DLMS", "ZigBee"]
    assert [row["number"] for row in named["ZigBee"]] == ["Z-1", "Z-2"]
    assert named["DLMS"] == [{"number": "D-1"}]
    assert [row["number"] for row in named["CPA"]] == ["C-1"]


def test_named_certificates_of_no_drafts() -> None:
    assert service.named_certificates([]) == {"CPA": [], "DLMS": [], "ZigBee": []}


def test_a_cpa_certificate_takes_its_first_rows_details_and_first_condition() -> None:
    first, later = date(2030, 1, 1), date(2031, 1, 1)
    drafts: list[dict[str, Any]] = [
        {"cpa_certificate_number": "C-2", "cpa_expiry_date": first},
        {
            "cpa_certificate_number": "C-1",
            "cpa_certificate_type": "Lifetime",
            "cpa_renewal_date": later,
            "cpa_conditional_date": None,
        },
        {
            "cpa_certificate_number": "C-1",
            "cpa_certificate_type": "Fixed-term",
            "cpa_expiry_date": first,
            "cpa_conditional_date": first,
        },
        {"cpa_certificate_number": "C-1", "cpa_conditional_date": later},
        {"cpa_certificate_number": "C-2", "cpa_expiry_date": later, "cpa_conditional_date": None},
    ]
    assert service.named_certificates(drafts)["CPA"] == [
        {
            "number": "C-1",
            "cpa_certificate_type": "Lifetime",
            "cpa_expiry_date": None,
            "cpa_renewal_date": later,
            "cpa_conditional_date": first,
        },
        {
            "number": "C-2",
            "cpa_certificate_type": None,
            "cpa_expiry_date": first,
            "cpa_renewal_date": None,
            "cpa_conditional_date": None,
        },
    ]


# Storing, on every database ---------------------------------------------------------------


def _entries(session: Session, submission: Submission) -> list[Entry]:
    return list(
        session.exec(
            select(Entry).where(Entry.submission_id == submission.id).order_by(col(Entry.id))
        ).all()
    )


@pytest.mark.parametrize("role", ["supplier", "manufacturer"])
def test_stored_entries_and_their_first_events(
    settings: Settings, engine: Engine, session: Session, make_party: MakeParty, role: str
) -> None:
    previous = make_entry(session, status="active")
    party, _ = make_party(role, name=f"The {role}")
    update = {
        "Submission Type": "Firmware Update",
        "Certificate Mapping Evidence": "Letter from the CPA lab, ref 42",
        "Previous CPL Entry ID": previous.entry_id,
    }
    rows = [
        valid_row(**update, **{"Firmware Version": "0000F001"}),
        valid_row(**{"Model ID": "0002", "Firmware Version": "0000F003"}),
    ]
    result = submit_rows(settings, engine, party, rows)
    assert result.created
    submission = result.submission
    stored = _entries(session, submission)
    assert [e.firmware_version for e in stored] == ["0000F001", "0000F003"]
    assert [e.submission_type for e in stored] == ["Firmware Update", "New Device Model"]
    # A supplier's own firmware update is confirmed by its submission; nothing else is.
    confirmed = "submitted by supplier The supplier" if role == "supplier" else None
    assert [e.supplier_confirmation_ref for e in stored] == [confirmed, None]
    assert stored[0].previous_entry_id == previous.entry_id
    assert (stored[1].previous_entry_id, stored[1].certificate_mapping_evidence) == (None, None)
    for entry in stored:
        assert entry.entry_id == format_entry_id(entry.id or 0)
        assert entry.status == EntryStatus.PENDING_REVIEW
        assert entry.submitted_by_party_id == party.id
        assert entry.status_effective_at == entry.created_at == entry.updated_at
        assert entry.created_at == submission.created_at
        assert entry.removal_proposed is False
        assert entry.first_active_at is None
        assert (entry.manufacturer_id, entry.cpa_expiry_date) == ("AB01", EXPIRY)
        events = session.exec(select(EntryEvent).where(EntryEvent.entry_pk == entry.id)).all()
        assert [(e.action, e.from_status, e.to_status) for e in events] == [
            ("submitted", None, EntryStatus.PENDING_REVIEW)
        ]
        assert events[0].actor_party_id == party.id
        assert events[0].reason == f"Submission {submission.id} (cpl.xlsx)"
    # The summaries the upload answers with are the stored entries, in their order.
    assert service.entry_summaries(session, submission) == [
        {
            "entry_id": e.entry_id,
            "status": "pending_review",
            "manufacturer_id": e.manufacturer_id,
            "model_id": e.model_id,
            "hardware_version": e.hardware_version,
            "firmware_version": e.firmware_version,
            "physical_device_type": e.physical_device_type,
            "model_name": e.model_name,
        }
        for e in stored
    ]


def test_a_draft_lacking_a_field_stores_it_empty(session: Session, make_party: MakeParty) -> None:
    party, _ = make_party("dcc")
    submission = Submission(
        party_id=party.id or 0, filename="x.xlsx", content_sha256="0" * 64, size_bytes=1
    )
    session.add(submission)
    session.flush()
    draft = {
        "excel_row": 2,  # not a column: left out
        "submission_type": "New Device Model",
        "manufacturer_name": "Acme Meters",
        "manufacturer_id": "AB01",
        "model_name": "Acme E1",
        "model_id": "0001",
        "hardware_version": "0100",
        "physical_device_type": "ESME_SINGLE",
        "technical_specification": "SMETS2 v4.2",
        "release_notes": "RN-1",
        "smets1": False,
        "contact_email": "maker@example.com",
        "gbcs_version": "GBCS v3.2",
    }
    drafts = [
        {**draft, "firmware_version": "0000000A"},
        {**draft, "firmware_version": "0000000B", "gbcs_version": None},
        {key: value for key, value in draft.items() if key != "gbcs_version"}
        | {"firmware_version": "0000000C"},
    ]
    ids = service.reserve_entry_ids(session, len(drafts))
    service._insert_entries(
        session.connection(),
        drafts,
        ids,
        submission_id=submission.id or 0,
        party=party,
        now=utcnow(),
    )
    stored = _entries(session, submission)
    assert [e.id for e in stored] == ids
    assert [e.gbcs_version for e in stored] == ["GBCS v3.2", None, None]
    session.rollback()


def test_certificates_get_ids_in_kind_and_number_order(session: Session) -> None:
    drafts = [
        {
            "zigbee_certificate_number": f"Z-{n}",
            "dlms_certificate_number": f"D-{n}",
            "cpa_certificate_number": f"C-{n}",
            "cpa_expiry_date": EXPIRY,
        }
        for n in (3, 1, 2)
    ]
    now = utcnow()
    service._register_certificates(session, drafts, now)
    session.commit()
    registered = session.exec(
        select(AssuranceCertificate).order_by(col(AssuranceCertificate.id))
    ).all()
    pairs = [(c.kind, c.number) for c in registered]
    assert pairs == sorted(pairs)
    assert len(pairs) == 9
    assert {c.status for c in registered} == {"valid"}
    assert {c.created_at for c in registered} == {now}
    assert {c.cpa_expiry_date for c in registered if c.kind == "CPA"} == {EXPIRY}
    assert {c.cpa_expiry_date for c in registered if c.kind != "CPA"} == {None}


def test_live_identities_across_batches(session: Session) -> None:
    """More identities than one statement takes: every live one is found, only those."""
    live = [
        make_entry(session, status=status, manufacturer_id="AB07", firmware_version=f"{n:08X}")
        for n, status in enumerate(["active", "pending_review", "rejected"])
    ]
    asked = {("AB07", "0001", "0100", f"{n:08X}", "ESME_SINGLE") for n in range(1200)}
    found = service.live_identities(session, asked)
    assert found == {
        (e.manufacturer_id, e.model_id, e.hardware_version, e.firmware_version, "ESME_SINGLE")
        for e in live[:2]
    }
    assert service.live_identities(session, set()) == set()
