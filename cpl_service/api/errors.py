"""RFC 9457 problem details for every error, FastAPI's own included."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cpl_service import errors
from cpl_service.extracts.verify import ExtractVerificationError
from cpl_service.parties.errors import SignInError, SignInLockedError
from cpl_service.signing.errors import SigningConfigError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

STATUS_BY_ERROR: dict[type[errors.CplError], int] = {
    errors.NotFoundError: 404,
    errors.PermissionDeniedError: 403,
    errors.ConflictError: 409,
    errors.InvalidInputError: 422,
    errors.UploadTooLargeError: 413,
    errors.UnsupportedFileError: 415,
    errors.UnreadableWorkbookError: 422,
    errors.WorkbookRejectedError: 422,
    errors.SignatureError: 422,
    # Errors defined next to the code that raises them, not in errors.py.
    ExtractVerificationError: 422,
    SigningConfigError: 503,
    SignInError: 401,
    SignInLockedError: 429,
}


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(exc: errors.CplError) -> int:
    """The HTTP status of a domain error (its nearest class in `STATUS_BY_ERROR`, else 400)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def problem_for(exc: errors.CplError) -> JSONResponse:
    """The problem response for a domain error."""
    return problem(
        status_for(exc),
        exc.detail,
        slug=exc.slug,
        title=exc.title,
        headers=getattr(exc, "headers", None),
        **exc.extra,
    )


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.CplError)
    return problem_for(exc)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    """The problem response for an HTTP error raised by routing or a route."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = "There is no resource at this address."
    elif exc.status_code == 405:
        detail = "This method is not allowed on this resource."
    return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err.get("loc", ()))
        fields.append({"field": location, "message": err.get("msg", "invalid")})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
    return problem(
        422,
        f"The request is not valid: {summary}",
        slug="invalid-request",
        title="Invalid request",
        errors=fields,
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "An unexpected error occurred; it has been logged.")


def install(app: FastAPI) -> None:
    """Register the problem-details handlers on an app."""
    app.add_exception_handler(errors.CplError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
