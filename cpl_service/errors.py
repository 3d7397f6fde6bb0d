"""The domain's error tree. `api/errors.py` maps each class to a problem response."""

from __future__ import annotations

from typing import Any


class CplError(Exception):
    """Base of every error the domain raises on purpose."""

    slug = "error"
    title = "Request failed"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFoundError(CplError):
    slug = "not-found"
    title = "Not found"


class PermissionDeniedError(CplError):
    slug = "forbidden"
    title = "Not allowed for your role"


class ConflictError(CplError):
    """The request is valid but the current state forbids it (e.g. a refused transition)."""

    slug = "conflict"
    title = "Conflict with the current state"


class InvalidInputError(CplError):
    """A field of the request is wrong in a way the caller can fix."""

    slug = "invalid-input"
    title = "Invalid input"


class UploadTooLargeError(CplError):
    slug = "upload-too-large"
    title = "Upload too large"


class UnsupportedFileError(CplError):
    slug = "unsupported-file"
    title = "Unsupported file"


class UnreadableWorkbookError(CplError):
    """The file could not be read safely as a workbook (corrupt, encrypted, bomb, …)."""

    slug = "unreadable-workbook"
    title = "The workbook could not be read"


class WorkbookRejectedError(CplError):
    """The workbook was read but rows break the rules; `issues` lists every problem."""

    slug = "workbook-rejected"
    title = "The workbook has problems"

    def __init__(self, detail: str, issues: list[dict[str, Any]]) -> None:
        super().__init__(detail, issues=issues)
        self.issues = issues


class SignatureError(CplError):
    slug = "bad-signature"
    title = "Signature not accepted"
