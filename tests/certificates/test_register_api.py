"""The certificate register over HTTP: listing, revocation and conditional clearance."""

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


def test_revocation_flags_active_entries_and_blocks_approval(
    client: TestClient, session: Session, secas: str
) -> None:
    active = make_entry(session, status="active", zigbee_certificate_number="ZIG-R")
    pending = make_entry(session, zigbee_certificate_number="ZIG-R")
    other = make_entry(session, status="active", zigbee_certificate_number="ZIG-OK")
    response = client.post(
        f"{API}/certificates/revocations",
        json={"kind": "ZigBee", "number": "ZIG-R", "reason": "CSA withdrew it"},
        headers=auth(secas),
    )
    assert response.status_code == 200, response.text
    assert response.json()["removal_proposed"] == [active.entry_id]
    assert response.json()["certificate"]["status"] == "revoked"
    flagged = client.get(f"{API}/entries", params={"removal_proposed": True}, headers=auth(secas))
    assert [e["entry_id"] for e in flagged.json()["items"]] == [active.entry_id]
    still = client.get(f"{API}/entries/{active.entry_id}", headers=auth(secas)).json()
    assert still["status"] == "active" and still["removal_proposed"] is True
    assert still["history"][-1]["action"] == "removal_proposed"
    assert (
        client.post(f"{API}/entries/{pending.entry_id}/approve", headers=auth(secas)).status_code
        == 409
    )
    assert (
        client.get(f"{API}/entries/{other.entry_id}", headers=auth(secas)).json()[
            "removal_proposed"
        ]
        is False
    )
    again = client.post(
        f"{API}/certificates/revocations",
        json={"kind": "ZigBee", "number": "ZIG-R", "reason": "again"},
        headers=auth(secas),
    )
    assert again.status_code == 409
    unknown = client.post(
        f"{API}/certificates/revocations",
        json={"kind": "ZigBee", "number": "NOPE", "reason": "x"},
        headers=auth(secas),
    )
    assert unknown.status_code == 404


def test_certificate_register_lists_relying_entries_and_expiring(
    client: TestClient, session: Session, secas: str
) -> None:
    soon = make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-SOON",
        cpa_expiry_date=today() + timedelta(days=20),
    )
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-LATER",
        cpa_expiry_date=today() + timedelta(days=400),
    )
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-COND-SOON",
        cpa_expiry_date=today() + timedelta(days=900),
        cpa_conditional_date=today() + timedelta(days=10),
    )
    everything = client.get(f"{API}/certificates", headers=auth(secas)).json()
    by_number = {c["number"]: c for c in everything["items"]}
    assert by_number["CPA-SOON"]["entry_ids"] == [soon.entry_id]
    assert {"ZigBee", "DLMS", "CPA"} <= {c["kind"] for c in everything["items"]}
    expiring = client.get(
        f"{API}/certificates", params={"expiring_within_days": 30}, headers=auth(secas)
    ).json()
    assert sorted(c["number"] for c in expiring["items"]) == ["CPA-COND-SOON", "CPA-SOON"]


def test_clearing_a_conditional_date(client: TestClient, session: Session, secas: str) -> None:
    entry = make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-C",
        cpa_conditional_date=today() + timedelta(days=30),
    )
    url = f"{API}/certificates/cpa/CPA-C/conditional-clearance"
    response = client.post(url, json={"reference": "NCSC letter 12"}, headers=auth(secas))
    assert response.status_code == 200
    assert response.json()["cpa_conditional_date"] is None
    detail = client.get(f"{API}/entries/{entry.entry_id}", headers=auth(secas)).json()
    assert detail["cpa_conditional_date"] is None
    assert detail["history"][-1]["action"] == "conditional_date_cleared"
    assert client.post(url, json={"reference": "again"}, headers=auth(secas)).status_code == 409
