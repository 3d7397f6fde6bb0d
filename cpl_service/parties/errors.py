"""Errors of signing in; `api/errors.py` maps them to 401 and 429."""

from __future__ import annotations

from cpl_service.errors import CplError


class SignInError(CplError):
    slug = "sign-in-failed"
    title = "Sign-in failed"


class SignInLockedError(CplError):
    """Too many failed sign-ins; `retry_after` seconds until the next attempt is heard."""

    slug = "sign-in-locked"
    title = "Too many failed sign-ins"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after_seconds=retry_after)
        self.headers = {"Retry-After": str(retry_after)}
