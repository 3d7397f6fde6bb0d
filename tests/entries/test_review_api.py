"""Review actions over HTTP: wiring, roles, preconditions and every refused transition."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from cpl_service.clock import today
from tests.conftest import MakeParty, auth
from tests.factories import make_entry

API = "/api/v1"


@pytest.fixture
def secas(make_party: MakeParty) -> str:
    return make_party("secas")[1]


def test_approve_makes_active_and_records_history(
    client: TestClient, session: Session, secas: str, make_party: MakeParty
) -> None:
    maker, _ = make_party("manufacturer")
    entry = make_entry(session, party_id=maker.id)
    response = client.post(
        f"{API}/entries/{entry.entry_id}/approve",
        json={"note": "all certificates seen"},
        headers=auth(secas),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "active"
    last = body["history"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == (
        "approved",
        "pending_review",
        "active",
    )
    assert last["reason"] == "all certificates seen" and last["actor"]


def test_reject_needs_a_reason(client: TestClient, session: Session, secas: str) -> None:
    entry = make_entry(session)
    url = f"{API}/entries/{entry.entry_id}/reject"
    assert client.post(url, json={}, headers=auth(secas)).status_code == 422
    response = client.post(
        url, json={"reason": "DLMS certificate is for another model"}, headers=auth(secas)
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"


@pytest.mark.parametrize("start", ["rejected", "active", "expired", "cancelled", "withdrawn"])
def test_approve_and_reject_refused_unless_pending(
    client: TestClient, session: Session, secas: str, start: str
) -> None:
    entry = make_entry(session, status=start)
    approve = client.post(f"{API}/entries/{entry.entry_id}/approve", headers=auth(secas))
    reject = client.post(
        f"{API}/entries/{entry.entry_id}/reject", json={"reason": "x"}, headers=auth(secas)
    )
    assert approve.status_code == 409
    assert reject.status_code == 409
    assert approve.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("removal", ["expired", "cancelled", "withdrawn"])
def test_removal_from_active_needs_panel_decision(
    client: TestClient, session: Session, secas: str, removal: str
) -> None:
    entry = make_entry(session, status="active")
    url = f"{API}/entries/{entry.entry_id}/removal"
    missing = client.post(url, json={"status": removal, "reason": "x"}, headers=auth(secas))
    assert missing.status_code == 422
    blank = client.post(
        url, json={"status": removal, "panel_decision_ref": ""}, headers=auth(secas)
    )
    assert blank.status_code == 422
    done = client.post(
        url,
        json={"status": removal, "panel_decision_ref": "SECP_81_1906_12", "reason": "r"},
        headers=auth(secas),
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == removal and body["panel_decision_ref"] == "SECP_81_1906_12"
    assert body["history"][-1]["panel_decision_ref"] == "SECP_81_1906_12"
    again = client.post(
        url, json={"status": removal, "panel_decision_ref": "SECP_81_1906_12"}, headers=auth(secas)
    )
    assert again.status_code == 409


@pytest.mark.parametrize("start", ["pending_review", "rejected"])
def test_removal_refused_unless_active(
    client: TestClient, session: Session, secas: str, start: str
) -> None:
    entry = make_entry(session, status=start)
    response = client.post(
        f"{API}/entries/{entry.entry_id}/removal",
        json={"status": "withdrawn", "panel_decision_ref": "SECP_1"},
        headers=auth(secas),
    )
    assert response.status_code == 409


def test_removal_status_must_be_a_removal(client: TestClient, session: Session, secas: str) -> None:
    entry = make_entry(session, status="active")
    response = client.post(
        f"{API}/entries/{entry.entry_id}/removal",
        json={"status": "active", "panel_decision_ref": "SECP_1"},
        headers=auth(secas),
    )
    assert response.status_code == 422


def test_manufacturer_firmware_update_needs_supplier_confirmation(
    client: TestClient, session: Session, secas: str, make_party: MakeParty
) -> None:
    maker, maker_token = make_party("manufacturer")
    _, supplier = make_party("supplier")
    entry = make_entry(
        session,
        party_id=maker.id,
        submission_type="Firmware Update",
        certificate_mapping_evidence="mapping letter",
        previous_entry_id="CPL-000001",
    )
    approve = f"{API}/entries/{entry.entry_id}/approve"
    refused = client.post(approve, headers=auth(secas))
    assert refused.status_code == 409
    assert "supplier" in refused.json()["detail"]
    confirm = f"{API}/entries/{entry.entry_id}/supplier-confirmation"
    assert (
        client.post(confirm, json={"reference": "MP-7"}, headers=auth(maker_token)).status_code
        == 403
    )
    assert client.post(confirm, json={"reference": "MP-7"}, headers=auth(secas)).status_code == 403
    confirmed = client.post(confirm, json={"reference": "MP-7"}, headers=auth(supplier))
    assert confirmed.status_code == 200
    assert confirmed.json()["history"][-1]["action"] == "supplier_confirmed"
    assert (
        client.post(confirm, json={"reference": "MP-8"}, headers=auth(supplier)).status_code == 409
    )
    assert client.post(approve, headers=auth(secas)).status_code == 200


def test_supplier_confirmation_only_for_firmware_updates(
    client: TestClient, session: Session, make_party: MakeParty
) -> None:
    _, supplier = make_party("supplier")
    maker, _ = make_party("manufacturer")
    entry = make_entry(session, party_id=maker.id)
    response = client.post(
        f"{API}/entries/{entry.entry_id}/supplier-confirmation",
        json={"reference": "MP-7"},
        headers=auth(supplier),
    )
    # A supplier cannot see another party's new Device Model: it is not theirs to confirm.
    assert response.status_code == 404


def test_supplier_submitted_firmware_update_needs_no_confirmation(
    client: TestClient, session: Session, secas: str, make_party: MakeParty
) -> None:
    supplier, _ = make_party("supplier")
    entry = make_entry(
        session,
        party_id=supplier.id,
        submission_type="Firmware Update",
        certificate_mapping_evidence="m",
        previous_entry_id="CPL-000001",
    )
    assert (
        client.post(f"{API}/entries/{entry.entry_id}/approve", headers=auth(secas)).status_code
        == 200
    )


def test_approval_refused_when_cpa_has_ended(
    client: TestClient, session: Session, secas: str
) -> None:
    entry = make_entry(
        session, cpa_certificate_number="CPA-OLD", cpa_expiry_date=today() - timedelta(days=1)
    )
    response = client.post(f"{API}/entries/{entry.entry_id}/approve", headers=auth(secas))
    assert response.status_code == 409
    assert "CPA-OLD" in response.json()["detail"]


def test_approval_refused_when_conditional_date_has_passed(
    client: TestClient, session: Session, secas: str
) -> None:
    entry = make_entry(session, cpa_certificate_number="CPA-COND", cpa_conditional_date=today())
    assert (
        client.post(f"{API}/entries/{entry.entry_id}/approve", headers=auth(secas)).status_code
        == 409
    )


def test_submission_approval_is_all_or_nothing(
    client: TestClient, session: Session, secas: str, make_party: MakeParty
) -> None:
    from cpl_service.submissions.models import Submission

    maker, _ = make_party("manufacturer")
    assert maker.id is not None
    submission = Submission(
        party_id=maker.id, filename="x.xlsx", content_sha256="0" * 64, size_bytes=1
    )
    session.add(submission)
    session.commit()
    good = make_entry(session, party_id=maker.id, submission_id=submission.id)
    bad = make_entry(
        session,
        party_id=maker.id,
        submission_id=submission.id,
        cpa_certificate_number="CPA-GONE",
        cpa_expiry_date=today() - timedelta(days=3),
    )
    url = f"{API}/submissions/{submission.id}/approve"
    refused = client.post(url, headers=auth(secas))
    assert refused.status_code == 409
    assert bad.entry_id in refused.json()["detail"]
    assert (
        client.get(f"{API}/entries/{good.entry_id}", headers=auth(secas)).json()["status"]
        == "pending_review"
    )
    client.post(
        f"{API}/entries/{bad.entry_id}/reject", json={"reason": "expired"}, headers=auth(secas)
    )
    approved = client.post(url, headers=auth(secas))
    assert approved.status_code == 200
    assert [e["entry_id"] for e in approved.json()] == [good.entry_id]
    read = client.get(f"{API}/submissions/{submission.id}", headers=auth(secas)).json()
    assert read["status"] == "partially_approved"
    assert client.post(url, headers=auth(secas)).status_code == 409


def test_submission_rejection_takes_every_pending_entry(
    client: TestClient, session: Session, secas: str, make_party: MakeParty
) -> None:
    from cpl_service.submissions.models import Submission

    maker, maker_token = make_party("manufacturer")
    assert maker.id is not None
    submission = Submission(
        party_id=maker.id, filename="x.xlsx", content_sha256="1" * 64, size_bytes=1
    )
    session.add(submission)
    session.commit()
    pending = [make_entry(session, party_id=maker.id, submission_id=submission.id) for _ in "ab"]
    approved = make_entry(session, party_id=maker.id, submission_id=submission.id, status="active")
    url = f"{API}/submissions/{submission.id}/reject"
    assert client.post(url, json={"reason": "x"}, headers=auth(maker_token)).status_code == 403
    assert client.post(url, json={}, headers=auth(secas)).status_code == 422
    blank = client.post(url, json={"reason": "  "}, headers=auth(secas))
    assert blank.status_code == 422
    keyed = {**auth(secas), "Idempotency-Key": "reject-once"}
    rejected = client.post(url, json={"reason": "wrong template"}, headers=keyed)
    assert rejected.status_code == 200, rejected.text
    replayed = client.post(url, json={"reason": "wrong template"}, headers=keyed)
    assert replayed.status_code == 200
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == rejected.json()
    assert [e["entry_id"] for e in rejected.json()] == [e.entry_id for e in pending]
    for entry in pending:
        read = client.get(f"{API}/entries/{entry.entry_id}", headers=auth(secas)).json()
        assert read["status"] == "rejected"
        assert read["history"][-1]["reason"] == "wrong template"
    active = client.get(f"{API}/entries/{approved.entry_id}", headers=auth(secas)).json()
    assert active["status"] == "active"
    read = client.get(f"{API}/submissions/{submission.id}", headers=auth(secas)).json()
    assert read["status"] == "partially_approved"
    assert client.post(url, json={"reason": "again"}, headers=auth(secas)).status_code == 409


def test_entry_visibility(client: TestClient, session: Session, make_party: MakeParty) -> None:
    maker, maker_token = make_party("manufacturer")
    _, rival = make_party("manufacturer")
    _, dcc = make_party("dcc")
    entry = make_entry(session, party_id=maker.id)
    url = f"{API}/entries/{entry.entry_id}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=auth(maker_token)).status_code == 200
    assert client.get(url, headers=auth(rival)).status_code == 404
    assert client.get(url, headers=auth(dcc)).status_code == 200
    assert client.get(f"{API}/entries", headers=auth(rival)).json()["total"] == 0
    assert client.get(f"{API}/entries", headers=auth(maker_token)).json()["total"] == 1


def test_entry_listing_filters_and_pages(client: TestClient, session: Session, secas: str) -> None:
    for i in range(5):
        make_entry(
            session,
            physical_device_type="GSME" if i % 2 else "ESME_SINGLE",
            manufacturer_id="AB01" if i < 3 else "CD02",
            model_name=f"Model {i}",
        )
    url = f"{API}/entries"
    assert client.get(url, params={"device_type": "gsme"}, headers=auth(secas)).json()["total"] == 2
    assert (
        client.get(url, params={"manufacturer_id": "cd02"}, headers=auth(secas)).json()["total"]
        == 2
    )
    assert client.get(url, params={"q": "model 3"}, headers=auth(secas)).json()["total"] == 1
    assert client.get(url, params={"q": "100%"}, headers=auth(secas)).json()["total"] == 0
    page = client.get(url, params={"limit": 2, "offset": 2}, headers=auth(secas)).json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["offset"] == 2
    assert client.get(url, params={"status": "bogus"}, headers=auth(secas)).status_code == 422
    assert client.get(url, params={"limit": 0}, headers=auth(secas)).status_code == 422
