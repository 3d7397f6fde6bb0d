"""The story of the issue end to end: who did what, in entry history and the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from cpl_service.clock import utcnow
from tests.conftest import MakeParty, MakePerson, auth, sign_in
from tests.factories import make_entry
from tests.workbooks import build_workbook, valid_row


def test_secas_person_manages_the_dcc_and_every_step_is_named(
    client: TestClient,
    make_party: MakeParty,
    make_person: MakePerson,
    session: Session,
) -> None:
    secas, secas_token = make_party("secas", name="SECAS")
    dcc, _ = make_party("dcc", name="DCC")
    make_person(secas, "Jane Smith", "jane@secas.example")
    as_jane = sign_in(client, "jane@secas.example")

    person = client.post(
        "/api/v1/people",
        json={"name": "Dev Patel", "email": "dev@dcc.example", "party_id": dcc.id},
        headers=as_jane,
    )
    assert person.status_code == 201
    token = client.post(
        "/api/v1/tokens", json={"name": "DCC SMI loader", "party_id": dcc.id}, headers=as_jane
    ).json()
    assert client.get("/api/v1/extracts", headers=auth(token["token"])).status_code == 200
    revoked = client.post(f"/api/v1/tokens/{token['id']}/revoke", headers=as_jane)
    assert revoked.json()["revoked_by"] == "Jane Smith (SECAS)"
    assert client.get("/api/v1/extracts", headers=auth(token["token"])).status_code == 401

    entry = make_entry(session)
    approved = client.post(
        f"/api/v1/entries/{entry.entry_id}/approve", json={"note": "ok"}, headers=as_jane
    )
    assert approved.status_code == 200
    history = client.get(f"/api/v1/entries/{entry.entry_id}", headers=auth(secas_token))
    last = history.json()["history"][-1]
    assert (last["action"], last["actor"]) == ("approved", "Jane Smith (SECAS)")
    assert (last["actor_party"], last["actor_person"], last["actor_token"]) == (
        "SECAS",
        "Jane Smith",
        None,
    )

    published = client.post("/api/v1/extracts", headers=auth(secas_token))
    assert published.status_code == 201
    spec = client.post(
        "/api/v1/technical-specifications",
        json={"name": "GBCS v9.1", "kind": "GBCS"},
        headers=as_jane,
    )
    assert spec.status_code == 201

    events = client.get("/api/v1/audit?limit=1000", headers=as_jane).json()["items"]
    story = [(e["kind"], e["actor"]) for e in reversed(events)]
    assert story[-6:] == [
        ("sign_in", "Jane Smith (SECAS)"),
        ("person_added", "Jane Smith (SECAS)"),
        ("token_created", "Jane Smith (SECAS)"),
        ("token_revoked", "Jane Smith (SECAS)"),
        ("extract_published", 'token "initial token" (SECAS)'),
        ("specification_added", "Jane Smith (SECAS)"),
    ]
    assert events[0]["subject"] == "GBCS v9.1"
    assert all(e["address"] == "testclient" for e in events if e["kind"] == "sign_in")


def test_audit_filters_and_paging(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    secas, secas_token = make_party("secas", name="SECAS")
    dcc, _ = make_party("dcc", name="DCC")
    acme, _ = make_party("manufacturer", name="Acme")
    make_person(secas, "Jane Smith", "jane@secas.example")
    for _ in range(3):
        client.post("/api/v1/session", json={"email": "jane@secas.example", "password": "nope"})
    client.cookies.clear()

    def get(query: str) -> dict[str, object]:
        response = client.get(f"/api/v1/audit?{query}", headers=auth(secas_token))
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    failed = get("kind=sign_in_failed")
    assert failed["total"] == 3
    page = get("kind=sign_in_failed&limit=2&offset=2")
    assert len(page["items"]) == 1 and page["total"] == 3  # type: ignore[arg-type]
    for_dcc = get(f"party_id={dcc.id}")["items"]
    assert isinstance(for_dcc, list)
    assert [e["kind"] for e in for_dcc] == ["token_created", "party_added"]
    assert all("Acme" not in e["subject"] for e in for_dcc)
    assert get(f"party_id={acme.id}")["total"] == 2
    future = (utcnow() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert get(f"since={future}")["total"] == 0
    assert get(f"until={future}")["total"] == get("")["total"]
    naive = client.get("/api/v1/audit?since=2026-01-01T00:00:00", headers=auth(secas_token))
    assert naive.status_code == 422 and naive.headers["content-type"] == "application/problem+json"
    unknown = client.get("/api/v1/audit?kind=made_up", headers=auth(secas_token))
    assert unknown.status_code == 422


@pytest.mark.parametrize(
    "statement", ["UPDATE security_event SET actor = 'x'", "DELETE FROM security_event"]
)
def test_the_audit_log_is_append_only(
    engine: Engine, make_party: MakeParty, statement: str
) -> None:
    make_party("secas")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_a_token_names_itself_in_history(
    client: TestClient, make_party: MakeParty, session: Session
) -> None:
    _, secas_token = make_party("secas", name="SECAS")
    entry = make_entry(session)
    client.post(
        f"/api/v1/entries/{entry.entry_id}/reject",
        json={"reason": "wrong model"},
        headers=auth(secas_token),
    )
    last = client.get(f"/api/v1/entries/{entry.entry_id}", headers=auth(secas_token)).json()[
        "history"
    ][-1]
    assert last["actor"] == 'token "initial token" (SECAS)'
    assert last["actor_token"] == "initial token" and last["actor_person"] is None


def test_an_upload_by_a_person_names_them_in_history(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    acme, _ = make_party("manufacturer", name="Acme Meters")
    _, secas_token = make_party("secas", name="SECAS")
    make_person(acme, "Sam Submitter", "sam@acme.example")
    as_sam = sign_in(client, "sam@acme.example")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    uploaded = client.post(
        "/api/v1/submissions",
        files=[("file", ("cpl.xlsx", build_workbook([valid_row()]), xlsx))],
        headers=as_sam,
    )
    assert uploaded.status_code == 201, uploaded.text
    entry_id = uploaded.json()["entries"][0]["entry_id"]
    first = client.get(f"/api/v1/entries/{entry_id}", headers=auth(secas_token)).json()["history"][
        0
    ]
    assert (first["action"], first["actor"]) == ("submitted", "Sam Submitter (Acme Meters)")
