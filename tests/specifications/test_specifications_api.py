"""The technical-specification register over HTTP: seeded, public, extended by SECAS."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import MakeParty, auth


def test_specifications_are_seeded_and_public(client: TestClient) -> None:
    response = client.get("/api/v1/technical-specifications")
    assert response.status_code == 200
    names = {s["name"] for s in response.json()["items"]}
    assert {"SMETS2 v4.2", "CHTS v4.2", "SMETS1 v1.2", "GBCS v3.2"} <= names


def test_secas_adds_a_specification(client: TestClient, make_party: MakeParty) -> None:
    _, secas = make_party("secas")
    _, maker = make_party("manufacturer")
    body = {"name": "GBCS v9.9", "kind": "GBCS", "installation_end_date": None}
    assert client.post("/api/v1/technical-specifications", json=body).status_code == 401
    assert (
        client.post("/api/v1/technical-specifications", json=body, headers=auth(maker)).status_code
        == 403
    )
    created = client.post("/api/v1/technical-specifications", json=body, headers=auth(secas))
    assert created.status_code == 201
    assert created.json()["name"] == "GBCS v9.9"
    again = client.post("/api/v1/technical-specifications", json=body, headers=auth(secas))
    assert again.status_code == 409
    bad = client.post(
        "/api/v1/technical-specifications",
        json={"name": "GBCS nine", "kind": "GBCS"},
        headers=auth(secas),
    )
    assert bad.status_code == 422
