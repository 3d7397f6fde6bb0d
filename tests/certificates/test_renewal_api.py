"""Recording a lifetime CPA certificate's renewal over HTTP, and the register showing it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from cpl_service.clock import today
from cpl_service.entries.models import Entry
from tests.conftest import MakeParty, auth
from tests.factories import make_entry

API = "/api/v1"


@pytest.fixture
def tokens(make_party: MakeParty) -> dict[str, str]:
    return {r: make_party(r)[1] for r in ("secas", "dcc", "manufacturer", "supplier")}


def lifetime_entry(
    session: Session, number: str = "CPA-L", days: int = 400, **changes: Any
) -> Entry:
    changes.setdefault("status", "active")
    return make_entry(
        session,
        cpa_certificate_number=number,
        cpa_certificate_type="Lifetime",
        cpa_expiry_date=None,
        cpa_renewal_date=today() + timedelta(days=days),
        **changes,
    )


def test_secas_records_a_renewal_into_every_relying_entry(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    first = lifetime_entry(session)
    second = lifetime_entry(session, model_id="0002")
    other = lifetime_entry(session, number="CPA-OTHER", model_id="0003")
    new_date = today() + timedelta(days=1500)
    old_date = today() + timedelta(days=400)
    url = f"{API}/certificates/cpa/CPA-L/renewal"
    body = {"renewal_date": new_date.isoformat(), "reference": "NCSC renewal 2026/17"}
    response = client.post(url, json=body, headers=auth(tokens["secas"]))
    assert response.status_code == 200, response.text
    certificate = response.json()
    assert certificate["cpa_certificate_type"] == "Lifetime"
    assert certificate["cpa_renewal_date"] == new_date.isoformat()
    assert certificate["end_date"] == new_date.isoformat()
    assert certificate["end_date_kind"] == "renewal"
    assert sorted(certificate["entry_ids"]) == sorted([first.entry_id, second.entry_id])
    for entry in (first, second):
        detail = client.get(f"{API}/entries/{entry.entry_id}", headers=auth(tokens["secas"]))
        shown = detail.json()
        assert shown["cpa_renewal_date"] == new_date.isoformat()
        last = shown["history"][-1]
        assert last["action"] == "cpa_renewed"
        assert (last["from_status"], last["to_status"]) == ("active", "active")
        assert old_date.isoformat() in last["reason"] and new_date.isoformat() in last["reason"]
        assert "NCSC renewal 2026/17" in last["reason"]
    untouched = client.get(f"{API}/entries/{other.entry_id}", headers=auth(tokens["secas"]))
    assert untouched.json()["cpa_renewal_date"] == old_date.isoformat()
    assert untouched.json()["history"][-1]["action"] != "cpa_renewed"
    # The same date again changes nothing and says so.
    again = client.post(url, json=body, headers=auth(tokens["secas"]))
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("role", ["dcc", "manufacturer", "supplier"])
def test_only_secas_records_a_renewal(
    client: TestClient, session: Session, tokens: dict[str, str], role: str
) -> None:
    lifetime_entry(session)
    body = {"renewal_date": (today() + timedelta(days=900)).isoformat(), "reference": "R"}
    url = f"{API}/certificates/cpa/CPA-L/renewal"
    assert client.post(url, json=body, headers=auth(tokens[role])).status_code == 403
    assert client.post(url, json=body).status_code == 401


def test_renewal_refusals(client: TestClient, session: Session, tokens: dict[str, str]) -> None:
    lifetime_entry(session)
    make_entry(session, status="active", cpa_certificate_number="CPA-FIXED", model_id="0009")
    secas = auth(tokens["secas"])
    later = (today() + timedelta(days=900)).isoformat()

    def post(number: str, body: dict[str, object]) -> tuple[int, str]:
        response = client.post(f"{API}/certificates/cpa/{number}/renewal", json=body, headers=secas)
        return response.status_code, response.text

    assert post("CPA-NOPE", {"renewal_date": later, "reference": "R"})[0] == 404
    status, text = post("CPA-FIXED", {"renewal_date": later, "reference": "R"})
    assert status == 409 and "Fixed-term" in text
    for past in (today(), today() - timedelta(days=1)):
        status, text = post("CPA-L", {"renewal_date": past.isoformat(), "reference": "R"})
        assert status == 422 and "after today" in text
    assert post("CPA-L", {"renewal_date": later, "reference": ""})[0] == 422
    assert post("CPA-L", {"renewal_date": later, "reference": "   "})[0] == 422
    assert post("CPA-L", {"renewal_date": "next year", "reference": "R"})[0] == 422
    assert post("CPA-L", {"reference": "R"})[0] == 422
    revoke = client.post(
        f"{API}/certificates/revocations",
        json={"kind": "CPA", "number": "CPA-L", "reason": "withdrawn by NCSC"},
        headers=secas,
    )
    assert revoke.status_code == 200
    assert post("CPA-L", {"renewal_date": later, "reference": "R"})[0] == 409


def test_the_register_shows_type_and_what_sets_the_end(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    lifetime_entry(session, number="CPA-L", days=20)
    lifetime_entry(
        session,
        number="CPA-LC",
        days=900,
        model_id="0002",
        cpa_conditional_date=today() + timedelta(days=25),
    )
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-F",
        cpa_expiry_date=today() + timedelta(days=700),
        model_id="0003",
    )
    secas = auth(tokens["secas"])
    everything = client.get(f"{API}/certificates", params={"kind": "CPA"}, headers=secas).json()
    shown = {
        c["number"]: (c["cpa_certificate_type"], c["end_date_kind"], c["end_date"])
        for c in everything["items"]
    }
    assert shown == {
        "CPA-L": ("Lifetime", "renewal", (today() + timedelta(days=20)).isoformat()),
        "CPA-LC": ("Lifetime", "conditional", (today() + timedelta(days=25)).isoformat()),
        "CPA-F": ("Fixed-term", "expiry", (today() + timedelta(days=700)).isoformat()),
    }
    soon = client.get(
        f"{API}/certificates", params={"expiring_within_days": 30}, headers=secas
    ).json()
    assert sorted(c["number"] for c in soon["items"]) == ["CPA-L", "CPA-LC"]


def test_approval_is_refused_once_a_lifetime_certificate_reaches_its_renewal_date(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    lapsed = lifetime_entry(session, number="CPA-LAPSED", days=0, status="pending_review")
    current = lifetime_entry(session, number="CPA-CURRENT", days=1, model_id="0002")
    secas = auth(tokens["secas"])
    refused = client.post(f"{API}/entries/{lapsed.entry_id}/approve", json={}, headers=secas)
    assert refused.status_code == 409
    assert f"CPA certificate CPA-LAPSED, which ended on {today().isoformat()}" in refused.text
    pending = lifetime_entry(
        session, number="CPA-CURRENT", days=1, model_id="0003", status="pending_review"
    )
    assert current.status == "active"
    approved = client.post(f"{API}/entries/{pending.entry_id}/approve", json={}, headers=secas)
    assert approved.status_code == 200, approved.text
