"""Health, problem details for FastAPI's own errors, the specification register."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import MakeParty, auth


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_path_is_a_problem(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["title"] and body["detail"] and body["type"]


def test_wrong_method_is_a_problem(client: TestClient) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


def test_validation_error_is_a_problem(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("secas")
    response = client.post(
        "/api/v1/technical-specifications", json={"name": 5}, headers=auth(token)
    )
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert "kind" in body["detail"]


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


def test_bad_token_is_401(client: TestClient) -> None:
    response = client.post(
        "/api/v1/technical-specifications",
        json={"name": "GBCS v9.8", "kind": "GBCS"},
        headers=auth("cpl_not-a-real-token"),
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
