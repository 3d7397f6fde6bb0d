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


def test_bad_token_is_401(client: TestClient) -> None:
    response = client.post(
        "/api/v1/technical-specifications",
        json={"name": "GBCS v9.8", "kind": "GBCS"},
        headers=auth("cpl_not-a-real-token"),
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
