"""Rendering pages: the templates, the security headers, and errors as pages.

Every page route is a `PageRoute`: whatever a page's dependencies or services raise becomes
a page, never a stack trace or a JSON problem — a domain error shows its message with the
API's status (403 for the wrong role, 404, 409, 422…), and a signed-out visit to a private
page is sent to sign-in with `next=` so it comes back. Every page answer carries the
security headers (`SECURITY_HEADERS`): a Content-Security-Policy that admits scripts,
styles and images from this server only (no `unsafe-inline`), no sniffing, no framing.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from cpl_service import errors
from cpl_service.api.errors import status_for
from cpl_service.parties.actors import Principal
from cpl_service.parties.sessions import CSRF_FIELD, SESSION_COOKIE, csrf_token_for

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD

# The signed-out forms (sign in, set a password) are protected by a double-submit token:
# a random value in this cookie that the form must repeat.
FORM_COOKIE = "cpl_form"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SignInRequired(Exception):
    """A private page was asked for without a live session: go to sign-in and come back."""


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else `/` (never an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def sign_in_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/sign-in?next={quote(here, safe='/')}"


def viewer_of(request: Request) -> Principal | None:
    """The signed-in person of this request, once a page dependency has looked (else None)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


def form_token(request: Request) -> str:
    """The CSRF token the forms of this page must carry.

    Signed in: the session's token. Signed out: the double-submit cookie's value (a new one
    is made, and `render` sets the cookie, when the browser has none).
    """
    secret = request.cookies.get(SESSION_COOKIE)
    if viewer_of(request) is not None and secret:
        return csrf_token_for(secret)
    token: str | None = getattr(request.state, "form_token", None)
    if token is None:
        token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
        request.state.form_token = token
    return token


def form_token_ok(request: Request, presented: str | None) -> bool:
    """True when a submitted form carries the token `form_token` gave it."""
    if not presented:
        return False
    return hmac.compare_digest(form_token(request), presented)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page `template` with `context`, plus what every page needs (viewer, CSRF token)."""
    values: dict[str, Any] = {
        "viewer": viewer_of(request),
        "csrf_token": form_token(request),
        **(context or {}),
    }
    response = templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=dict(headers or {})
    )
    if viewer_of(request) is None and request.cookies.get(FORM_COOKIE) != values["csrf_token"]:
        response.set_cookie(
            FORM_COOKIE, values["csrf_token"], httponly=True, samesite="strict", path="/"
        )
    return response


def redirect(url: str) -> RedirectResponse:
    """See other: the answer to a form post (the browser then GETs `url`)."""
    return RedirectResponse(url, status_code=303)


def error_page(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"status": status, "title": title or HTTPStatus(status).phrase, "detail": detail},
        status_code=status,
        headers=headers,
    )


def page_for_error(request: Request, exc: Exception) -> Response:
    """The page that answers `exc` raised by a page route or its dependencies."""
    if isinstance(exc, SignInRequired):
        return redirect(sign_in_url(request))
    if isinstance(exc, errors.CplError):
        return error_page(
            request,
            status_for(exc),
            exc.detail,
            title=exc.title,
            headers=getattr(exc, "headers", None),
        )
    if isinstance(exc, RequestValidationError):
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return error_page(request, 422, f"The form is not complete or not valid: {fields}")
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else ""
        if exc.status_code == 404:
            detail = "There is no page at this address."
        return error_page(request, exc.status_code, detail, headers=exc.headers)
    log.exception("unhandled error on a page", exc_info=exc)
    return error_page(request, 500, "An unexpected error occurred; it has been logged.")


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


class PageRoute(APIRoute):
    """A route that answers with pages: errors become pages, every answer is secured."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:  # every error of a page is answered with a page
                response = page_for_error(request, exc)
            return secure(response)

        return page_handler
