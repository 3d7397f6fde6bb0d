"""Every route of the API by every role (and no token): the expected status of each cell.

Resources named by ID do not exist (an allowed caller gets 404), except extract 1, which
the fixture publishes. A route added to the app without a row here fails the last test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import MakeParty, auth

ROLES = ("manufacturer", "supplier", "dcc", "secas")
CALLERS = (None, *ROLES)


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    route: str  # the route's path template, to check coverage
    expected: dict[str | None, int]
    body: Any = None
    files: Any = None


def everyone(status: int) -> dict[str | None, int]:
    return dict.fromkeys(CALLERS, status)


def authenticated(status: int) -> dict[str | None, int]:
    return {None: 401, **dict.fromkeys(ROLES, status)}


def only(allowed: dict[str, int]) -> dict[str | None, int]:
    return {None: 401, **{r: allowed.get(r, 403) for r in ROLES}}


E = "/api/v1/entries/CPL-999999"
ROWS = [
    Row("GET", "/healthz", "/healthz", everyone(200)),
    Row("GET", "/api/v1/template", "/api/v1/template", everyone(200)),
    Row(
        "GET", "/api/v1/technical-specifications", "/api/v1/technical-specifications", everyone(200)
    ),
    Row(
        "POST",
        "/api/v1/technical-specifications",
        "/api/v1/technical-specifications",
        only({"secas": 201}),
        body={"name": "GBCS v9.1", "kind": "GBCS"},
    ),
    Row(
        "POST",
        "/api/v1/submissions",
        "/api/v1/submissions",
        authenticated(415),
        files={"file": ("notes.txt", b"hello", "text/plain")},
    ),
    Row("GET", "/api/v1/submissions", "/api/v1/submissions", authenticated(200)),
    Row(
        "GET", "/api/v1/submissions/999", "/api/v1/submissions/{submission_id}", authenticated(404)
    ),
    Row(
        "GET",
        "/api/v1/submissions/999/documents",
        "/api/v1/submissions/{submission_id}/documents",
        authenticated(404),
    ),
    Row(
        "GET",
        "/api/v1/submissions/999/documents/1",
        "/api/v1/submissions/{submission_id}/documents/{document_id}",
        authenticated(404),
    ),
    Row(
        "POST",
        "/api/v1/submissions/999/approve",
        "/api/v1/submissions/{submission_id}/approve",
        only({"secas": 404}),
    ),
    Row("GET", "/api/v1/entries", "/api/v1/entries", authenticated(200)),
    Row("GET", E, "/api/v1/entries/{entry_id}", authenticated(404)),
    Row("POST", f"{E}/approve", "/api/v1/entries/{entry_id}/approve", only({"secas": 404})),
    Row(
        "POST",
        f"{E}/reject",
        "/api/v1/entries/{entry_id}/reject",
        only({"secas": 404}),
        body={"reason": "x"},
    ),
    Row(
        "POST",
        f"{E}/supplier-confirmation",
        "/api/v1/entries/{entry_id}/supplier-confirmation",
        only({"supplier": 404}),
        body={"reference": "x"},
    ),
    Row(
        "POST",
        f"{E}/removal",
        "/api/v1/entries/{entry_id}/removal",
        only({"secas": 404}),
        body={"status": "withdrawn", "panel_decision_ref": "SECP_1"},
    ),
    Row("GET", "/api/v1/certificates", "/api/v1/certificates", only({"secas": 200})),
    Row(
        "POST",
        "/api/v1/certificates/revocations",
        "/api/v1/certificates/revocations",
        only({"secas": 404}),
        body={"kind": "CPA", "number": "NOPE", "reason": "x"},
    ),
    Row(
        "POST",
        "/api/v1/certificates/cpa/NOPE/conditional-clearance",
        "/api/v1/certificates/cpa/{number}/conditional-clearance",
        only({"secas": 404}),
        body={"reference": "x"},
    ),
    Row(
        "POST",
        "/api/v1/certificates/cpa/NOPE/renewal",
        "/api/v1/certificates/cpa/{number}/renewal",
        only({"secas": 404}),
        body={"renewal_date": "2099-01-01", "reference": "x"},
    ),
    Row("POST", "/api/v1/extracts", "/api/v1/extracts", only({"secas": 201})),
    Row("GET", "/api/v1/extracts", "/api/v1/extracts", only({"dcc": 200, "secas": 200})),
    Row(
        "GET",
        "/api/v1/extracts/latest",
        "/api/v1/extracts/latest",
        only({"dcc": 200, "secas": 200}),
    ),
    Row(
        "GET", "/api/v1/extracts/1", "/api/v1/extracts/{sequence}", only({"dcc": 200, "secas": 200})
    ),
    Row(
        "GET",
        "/api/v1/extracts/1/signature",
        "/api/v1/extracts/{sequence}/signature",
        only({"dcc": 200, "secas": 200}),
    ),
    Row(
        "POST",
        "/api/v1/extracts/999/acknowledgement",
        "/api/v1/extracts/{sequence}/acknowledgement",
        only({"dcc": 404}),
        body={"status": "loaded"},
    ),
    Row("GET", "/api/v1/signing/certificates", "/api/v1/signing/certificates", everyone(200)),
    Row("GET", "/api/v1/notices", "/api/v1/notices", only({"secas": 200})),
    Row("GET", "/api/v1/notices/999", "/api/v1/notices/{notice_id}", only({"secas": 404})),
    Row("GET", "/api/v1/cpl", "/api/v1/cpl", everyone(200)),
    Row("GET", "/api/v1/cpl.csv", "/api/v1/cpl.csv", everyone(200)),
    Row("GET", "/api/v1/cpl.xlsx", "/api/v1/cpl.xlsx", everyone(200)),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.method} {r.path}")
def test_role_matrix(client: TestClient, make_party: MakeParty, row: Row) -> None:
    tokens = {role: make_party(role)[1] for role in ROLES}
    assert client.post("/api/v1/extracts", headers=auth(tokens["secas"])).status_code == 201
    seen = {}
    for caller in CALLERS:
        headers = auth(tokens[caller]) if caller else {}
        response = client.request(
            row.method, row.path, headers=headers, json=row.body, files=row.files
        )
        seen[caller] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
    assert seen == row.expected


def test_every_route_is_in_the_matrix(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    documented = {(row.method, row.route) for row in ROWS}
    assert routes == documented
