"""Helpers for page tests: read a form's CSRF token, sign in through the sign-in form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cpl_service.web.pages import SECURITY_HEADERS
from tests.conftest import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token carried by the first form of a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def page_sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign `client` in through the form (its cookie jar keeps the session).

    Returns the session's CSRF token, for the forms of later pages.
    """
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"csrf_token": csrf_of(form.text), "email": email, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/me").text)


def assert_secured(headers: object) -> None:
    """Every page answer carries the security headers."""
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name  # type: ignore[index]
