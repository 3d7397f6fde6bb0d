"""The rules every page keeps, checked over a table of every page the app serves.

`PAGES` says who may see each page (GET) and `FORMS` who may post each state-changing form
(POST). The table is held against the app's own routes: a page route without an entry fails
`test_the_tables_name_every_page_route`, so a new page cannot miss these checks. For every
page: each wrong role gets the 403 page, a signed-out visit to a private page goes to sign-in
(and says where to come back), and every answer carries the security headers (CSP first).
For every form: a missing or a wrong CSRF token is refused with 403, and so is a wrong role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from cpl_service.web.pages import CONTENT_SECURITY_POLICY, PageRoute
from tests.conftest import MakeParty, MakePerson, sign_in
from tests.web.pages import assert_secured

ROLES = ("secas", "dcc", "manufacturer", "supplier")
PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed in"  # any signed-in person, whatever the role
SECAS = ("secas",)
DCC = ("dcc",)
DCC_OR_SECAS = ("dcc", "secas")
SUPPLIER = ("supplier",)

Access = str | tuple[str, ...]

# GET: who may see each page (the same role set as the API route it shows).
PAGES: dict[str, Access] = {
    "/": PUBLIC,
    "/sign-in": PUBLIC,
    "/set-password": PUBLIC,
    "/me": SIGNED_IN,
    "/cpl": PUBLIC,
    "/cpl/entries/{entry_id}": PUBLIC,
    "/extracts": DCC_OR_SECAS,
    "/extracts/{sequence}": DCC_OR_SECAS,
    "/review": SECAS,
    "/review/submissions/{submission_id}": SECAS,
    "/review/entries/{entry_id}": SECAS,
    "/certificates": SECAS,
    "/certificates/{certificate_id}": SECAS,
    "/submit": SIGNED_IN,  # any party may upload (`POST /api/v1/submissions`)
    "/submissions": SIGNED_IN,
    "/submissions/{submission_id}": SIGNED_IN,  # another party's answers 404
    "/firmware-updates": SUPPLIER,
    "/dashboard": SECAS,
}

# POST: who may send each state-changing form.
FORMS: dict[str, Access] = {
    "/sign-in": PUBLIC,
    "/sign-out": PUBLIC,  # signed out, it only sends the browser to sign-in
    "/set-password": PUBLIC,
    "/me/password": SIGNED_IN,
    "/extracts/{sequence}/acknowledgement": DCC,
    "/review/entries/{entry_id}/approve": SECAS,
    "/review/entries/{entry_id}/reject": SECAS,
    "/review/entries/{entry_id}/remove": SECAS,
    "/review/submissions/{submission_id}/approve": SECAS,
    "/review/submissions/{submission_id}/reject": SECAS,
    "/certificates/{certificate_id}/revoke": SECAS,
    "/submit": SIGNED_IN,
    "/firmware-updates/{entry_id}/confirm": SUPPLIER,
    "/dashboard/publish": SECAS,
}

CSRF_REFUSAL = "did not come from this site"


def page_routes(routes: Iterable[BaseRoute]) -> Iterator[PageRoute]:
    """Every page route of the app, into included routers however FastAPI nests them."""
    for route in routes:
        if isinstance(route, PageRoute):
            yield route
        nested = getattr(route, "original_router", None) or getattr(route, "app", None)
        if nested is not None and hasattr(nested, "routes"):
            yield from page_routes(nested.routes)


def app_pages(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in page_routes(app.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }


def allowed(access: Access, role: str) -> bool:
    return access in (PUBLIC, SIGNED_IN) or role in access


def concrete(path: str) -> str:
    """The path with each parameter filled in (an id that need not exist: roles come first)."""
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.fixture
def people(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> dict[str, dict[str, str]]:
    """A signed-in person of each role: role -> headers (session cookie, its CSRF token)."""
    headers = {}
    for role in ROLES:
        party, _ = make_party(role)
        make_person(party, f"A {role} person", f"person@{role}.example")
        headers[role] = sign_in(client, f"person@{role}.example")
    return headers


def test_the_tables_name_every_page_route(client: TestClient) -> None:
    served = app_pages(client.app)  # type: ignore[arg-type]
    tabled = {("GET", p) for p in PAGES} | {("POST", p) for p in FORMS}
    assert served, "no page routes found: has FastAPI changed how it nests routers?"
    assert served - tabled == set(), "pages missing from PAGES/FORMS in this file"
    assert tabled - served == set(), "PAGES/FORMS name pages the app does not serve"


def test_every_page_refuses_each_wrong_role_with_the_403_page(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    wrong: list[str] = []
    for path, access in PAGES.items():
        for role, headers in people.items():
            response = client.get(
                concrete(path), headers={"Cookie": headers["Cookie"]}, follow_redirects=False
            )
            assert_secured(response.headers)
            refused = response.status_code == 403
            to_sign_in = response.headers.get("location", "").startswith("/sign-in")
            if allowed(access, role):
                if refused or to_sign_in:
                    wrong.append(f"{path} refuses {role}: {response.status_code}")
            elif not refused:
                wrong.append(f"{path} lets {role} in: {response.status_code}")
            elif "text/html" not in response.headers["content-type"] or (
                "Error 403" not in response.text
            ):
                wrong.append(f"{path} refuses {role} without the 403 page")
    assert wrong == []


def test_every_private_page_sends_a_signed_out_visit_to_sign_in(client: TestClient) -> None:
    wrong: list[str] = []
    for path, access in PAGES.items():
        client.cookies.clear()
        here = concrete(path)
        response = client.get(here, follow_redirects=False)
        assert_secured(response.headers)
        location = response.headers.get("location", "")
        if access == PUBLIC:
            if response.status_code in (401, 403) or location.startswith("/sign-in"):
                wrong.append(f"{path} is public but answered {response.status_code} {location}")
        elif response.status_code != 303 or location != f"/sign-in?next={quote(here)}":
            wrong.append(f"{path} answered a signed-out visit {response.status_code} {location}")
    assert wrong == []


def test_every_page_and_form_answer_carries_the_csp(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    visitors = {"signed out": {}, **{r: {"Cookie": h["Cookie"]} for r, h in people.items()}}
    for who, headers in visitors.items():
        for path in PAGES:
            response = client.get(concrete(path), headers=headers, follow_redirects=False)
            assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, (
                f"GET {path} as {who}"
            )
        for path in FORMS:
            response = client.post(concrete(path), headers=headers, follow_redirects=False)
            assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, (
                f"POST {path} as {who}"
            )


def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    wrong: list[str] = []
    for path, access in FORMS.items():
        if access == PUBLIC:
            client.cookies.clear()
            client.get("/sign-in")  # the browser holds the signed-out form cookie
            cookie: dict[str, str] = {}
        else:
            role = next(r for r in ROLES if allowed(access, r))
            cookie = {"Cookie": people[role]["Cookie"]}
            client.cookies.clear()
        for token in (None, "not-the-token", ""):
            data = {} if token is None else {"csrf_token": token}
            response = client.post(
                concrete(path), data=data, headers=cookie, follow_redirects=False
            )
            assert_secured(response.headers)
            if response.status_code != 403 or CSRF_REFUSAL not in response.text:
                wrong.append(f"{path} with token {token!r}: {response.status_code}")
    assert wrong == []


def test_every_form_refuses_each_wrong_role(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    wrong: list[str] = []
    for path, access in FORMS.items():
        if access in (PUBLIC, SIGNED_IN):
            continue
        for role, headers in people.items():
            if allowed(access, role):
                continue
            response = client.post(
                concrete(path),
                data={"csrf_token": headers["X-CSRF-Token"]},  # a good token, the wrong role
                headers={"Cookie": headers["Cookie"]},
                follow_redirects=False,
            )
            assert_secured(response.headers)
            if response.status_code != 403 or CSRF_REFUSAL in response.text:
                wrong.append(f"{path} as {role}: {response.status_code}")
    assert wrong == []
