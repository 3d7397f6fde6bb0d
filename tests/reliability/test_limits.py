"""Every input the service takes has a stated limit, refused with a problem response."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session

from cpl_service.api.input_guard import (
    MAX_HEADER_BYTES,
    MAX_QUERY_BYTES,
    MAX_REQUEST_HEAD_BYTES,
)
from cpl_service.config import Settings
from cpl_service.main import create_app
from tests.conftest import MakeParty, auth
from tests.factories import make_entry
from tests.server import running_server

API = "/api/v1"


def _problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def test_oversized_headers_are_a_431(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Padding": "a" * MAX_HEADER_BYTES})
    _problem(response, 431)
    assert client.get("/healthz", headers={"X-Padding": "a" * 1000}).status_code == 200


def test_long_query_string_is_a_414(client: TestClient) -> None:
    response = client.get(f"{API}/cpl?q={'a' * (MAX_QUERY_BYTES + 1)}")
    _problem(response, 414)


def test_json_body_over_the_limit_is_a_413(
    settings: Settings, session: Session, make_party: MakeParty
) -> None:
    app = create_app(settings.model_copy(update={"max_json_bytes": 1000}))
    _, secas = make_party("secas")
    entry = make_entry(session)
    with TestClient(app) as client:
        url = f"{API}/entries/{entry.entry_id}/reject"
        _problem(client.post(url, json={"reason": "x" * 2000}, headers=auth(secas)), 413)
        assert client.post(url, json={"reason": "x" * 500}, headers=auth(secas)).status_code == 200
    app.state.engine.dispose()


def test_deeply_nested_json_is_a_422(client: TestClient, make_party: MakeParty) -> None:
    _, secas = make_party("secas")
    body = "[" * 30000 + "]" * 30000
    response = client.post(
        f"{API}/certificates/revocations",
        content=body,
        headers={**auth(secas), "Content-Type": "application/json"},
    )
    _problem(response, 422)


def test_too_many_multipart_parts_is_a_4xx(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("manufacturer")
    files = [("documents", (f"d{i}.pdf", b"%PDF-", "application/pdf")) for i in range(1100)]
    response = client.post(f"{API}/submissions", files=files, headers=auth(token))
    assert response.status_code in (400, 413, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_real_server_refuses_huge_heads_without_a_5xx(settings: Settings, tmp_path: Path) -> None:
    with running_server(settings, tmp_path / "serve.log") as base:
        just_over = httpx.get(f"{base}/healthz", headers={"X-Padding": "a" * 20_000})
        assert just_over.status_code == 431
        assert just_over.headers["content-type"] == "application/problem+json"
        # Beyond what uvicorn reads of a head at all, the server itself refuses it.
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: "
                + b"a" * (MAX_REQUEST_HEAD_BYTES + 1000)
                + b"\r\n\r\n"
            )
            status_line = sock.recv(100).split(b"\r\n")[0]
        assert status_line.split()[1].startswith(b"4"), status_line
