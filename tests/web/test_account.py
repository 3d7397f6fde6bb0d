"""Signing in and out, who you are, passwords — through the pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cpl_service.web.pages import CONTENT_SECURITY_POLICY, safe_next
from tests.conftest import PASSWORD, MakeParty, MakePerson
from tests.web.pages import assert_secured, csrf_of, page_sign_in

NEW_PASSWORD = "a quite different secret"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/review", "/review"),
        ("/cpl?q=abc&page=2", "/cpl?q=abc&page=2"),
        ("", "/"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/path", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("review", "/"),
    ],
)
def test_next_is_only_ever_a_path_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_csp_admits_no_inline_script_and_no_other_site() -> None:
    script = next(p for p in CONTENT_SECURITY_POLICY.split("; ") if p.startswith("script-src"))
    assert script == "script-src 'self'"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


def test_signed_out_visit_goes_to_sign_in_and_comes_back(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    party, _ = make_party("manufacturer", name="Acme Meters")
    make_person(party, "Jane Smith", "jane@acme.example")

    first = client.get("/me", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/sign-in?next=/me"
    assert_secured(first.headers)

    form = client.get(first.headers["location"])
    assert form.status_code == 200
    assert_secured(form.headers)
    assert 'name="next" value="/me"' in form.text
    done = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_of(form.text),
            "email": "jane@acme.example",
            "password": PASSWORD,
            "next": "/me",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/me"
    me = client.get("/me")
    assert me.status_code == 200
    assert "Jane Smith" in me.text
    assert "Acme Meters" in me.text
    assert "manufacturer" in me.text


def test_wrong_password_shows_the_form_again_without_a_session(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    party, _ = make_party("supplier")
    make_person(party, "Sam", "sam@supplier.example")
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"csrf_token": csrf_of(form.text), "email": "sam@supplier.example", "password": "x"},
    )
    assert response.status_code == 401
    assert "wrong email or password" in response.text.lower()
    assert "cpl_session" not in response.cookies
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_sign_in_form_without_its_token_is_refused(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    party, _ = make_party("dcc")
    make_person(party, "Dee", "dee@dcc.example")
    client.get("/sign-in")  # the browser holds a form cookie …
    for token in (None, "not-the-token"):  # … but the form does not repeat it
        data = {"email": "dee@dcc.example", "password": PASSWORD}
        if token:
            data["csrf_token"] = token
        response = client.post("/sign-in", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert_secured(response.headers)
        assert "reload the page" in response.text
        assert "cpl_session" not in response.cookies


def test_sign_out_needs_the_session_token_and_then_ends_the_session(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    party, _ = make_party("secas")
    make_person(party, "Sue", "sue@secas.example")
    token = page_sign_in(client, "sue@secas.example")

    refused = client.post("/sign-out", data={"csrf_token": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/me").status_code == 200  # still signed in

    out = client.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_change_password(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    party, _ = make_party("manufacturer")
    make_person(party, "Mo", "mo@maker.example")
    token = page_sign_in(client, "mo@maker.example")

    wrong = client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": "not it",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 422
    assert "current password is not right" in wrong.text

    mismatch = client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD + "!",
        },
    )
    assert mismatch.status_code == 422
    assert "not the same" in mismatch.text

    done = client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "password is changed" in client.get(done.headers["location"]).text

    client.cookies.clear()
    page_sign_in(client, "mo@maker.example", NEW_PASSWORD)
    client.cookies.clear()
    form = client.get("/sign-in")
    old = client.post(
        "/sign-in",
        data={"csrf_token": csrf_of(form.text), "email": "mo@maker.example", "password": PASSWORD},
    )
    assert old.status_code == 401


def test_set_password_by_link_then_sign_in(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("secas", name="SECAS")
    headers = {"Authorization": f"Bearer {token}"}
    added = client.post(
        "/api/v1/people",
        json={"name": "New Person", "email": "new@secas.example"},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    link = added.json()["set_password_url"]
    path = link[link.index("/set-password") :]

    page = client.get(path)
    assert page.status_code == 200
    secret = path.split("token=")[1]
    assert f'value="{secret}"' in page.text
    done = client.post(
        "/set-password",
        data={
            "csrf_token": csrf_of(page.text),
            "token": secret,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "password is set" in client.get(done.headers["location"]).text
    again = client.post(
        "/set-password",
        data={
            "csrf_token": csrf_of(page.text),
            "token": secret,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert again.status_code == 422
    assert "unknown, used or expired" in again.text
    page_sign_in(client, "new@secas.example", NEW_PASSWORD)


def test_pages_and_assets_load_nothing_from_another_site(client: TestClient) -> None:
    from cpl_service.web.pages import HERE

    for path in [*HERE.glob("templates/*.html"), *HERE.glob("static/*")]:
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
    css = client.get("/static/site.css")
    assert css.status_code == 200
    assert css.headers["x-content-type-options"] == "nosniff"
    assert css.headers["content-type"].startswith("text/css")


def test_front_page_is_public(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert_secured(response.headers)
    assert 'href="/sign-in"' in response.text


def test_an_address_with_no_page_is_a_404_page_for_a_browser_and_a_problem_otherwise(
    client: TestClient,
) -> None:
    page = client.get("/no-such-page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text
    assert_secured(page.headers)
    problem = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert problem.status_code == 404
    assert problem.headers["content-type"] == "application/problem+json"
    api = client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.headers["content-type"] == "application/problem+json"
