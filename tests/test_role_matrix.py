"""Every route of the API by every role (and no token): the expected status of each cell.

Each role calls once with its party's token and once as a signed-in admin person of the
party (session cookie and CSRF token). Resources named by ID do not exist (an allowed caller
gets 404), except extract 1, which the fixture publishes. A route added to the app without
a row here fails the last test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import MakeParty, MakePerson, auth, sign_in

ROLES = ("manufacturer", "supplier", "dcc", "secas")
PEOPLE = tuple(f"{role} person" for role in ROLES)
CALLERS = (None, *ROLES, *PEOPLE)


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
    return {None: 401, **dict.fromkeys(ROLES + PEOPLE, status)}


def only(allowed: dict[str, int]) -> dict[str | None, int]:
    """The roles in `allowed`, by token or as a person; everyone else 403."""
    return {
        None: 401,
        **{r: allowed.get(r, 403) for r in ROLES},
        **{f"{r} person": allowed.get(r, 403) for r in ROLES},
    }


def managers(status: int) -> dict[str | None, int]:
    """SECAS (token or person) and every party's admin person; other tokens 403."""
    return {**only({"secas": status}), **dict.fromkeys(PEOPLE, status)}


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
        body=lambda caller: {"name": f"GBCS v9.{CALLERS.index(caller)}", "kind": "GBCS"},
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
    Row(
        "POST",
        "/api/v1/submissions/999/reject",
        "/api/v1/submissions/{submission_id}/reject",
        only({"secas": 404}),
        body={"reason": "x"},
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
    Row("GET", "/api/v1/parties", "/api/v1/parties", only({"secas": 200})),
    Row("GET", "/api/v1/audit", "/api/v1/audit", only({"secas": 200})),
    Row("GET", "/api/v1/tokens", "/api/v1/tokens", managers(200)),
    Row(
        "POST",
        "/api/v1/tokens",
        "/api/v1/tokens",
        managers(201),
        body=lambda caller: {"name": f"made by {caller}"},
    ),
    Row("POST", "/api/v1/tokens/999/revoke", "/api/v1/tokens/{token_id}/revoke", managers(404)),
    Row("GET", "/api/v1/people", "/api/v1/people", managers(200)),
    Row(
        "POST",
        "/api/v1/people",
        "/api/v1/people",
        managers(201),
        body=lambda caller: {"name": "x", "email": f"new{CALLERS.index(caller)}@example.com"},
    ),
    Row(
        "POST",
        "/api/v1/people/999/disable",
        "/api/v1/people/{person_id}/disable",
        managers(404),
    ),
    Row("GET", "/api/v1/session", "/api/v1/session", authenticated(200)),
    Row(
        "POST",
        "/api/v1/session",
        "/api/v1/session",
        everyone(401),
        body=lambda caller: {
            "email": f"nobody{CALLERS.index(caller)}@example.com",
            "password": "wrong",
        },
    ),
    Row("DELETE", "/api/v1/session", "/api/v1/session", authenticated(204)),
    Row(
        "POST",
        "/api/v1/session/password",
        "/api/v1/session/password",
        everyone(404),
        body={"token": "unknown", "password": "correct horse battery"},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.method} {r.path}")
def test_role_matrix(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, row: Row
) -> None:
    headers_of: dict[str | None, dict[str, str]] = {None: {}}
    for role in ROLES:
        party, token = make_party(role)
        headers_of[role] = auth(token)
        make_person(party, f"{role} admin", f"admin@{role}.example", is_admin=True)
        headers_of[f"{role} person"] = sign_in(client, f"admin@{role}.example")
    assert client.post("/api/v1/extracts", headers=headers_of["secas"]).status_code == 201
    seen = {}
    for caller in CALLERS:
        headers = headers_of[caller]
        response = client.request(
            row.method,
            row.path,
            headers=headers,
            json=row.body(caller) if callable(row.body) else row.body,
            files=row.files,
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
