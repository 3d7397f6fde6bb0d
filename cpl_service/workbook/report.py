"""The report a workbook check produces: typed issues, never an exception per problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem found in a workbook.

    Attributes:
        row: the Excel row number as Excel shows it (1-based).
        column: the heading text as in SPEC §3 (e.g. `Manufacturer ID`).
        code: a stable slug, e.g. `invalid-hex`.
        message: a sentence a manufacturer understands.
        severity: `error` (the upload is refused) or `warning` (accepted, reported).
    """

    row: int
    column: str
    code: str
    message: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        """The issue as the `issues` item of a problem response."""
        return {
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass
class CheckReport:
    """What checking a workbook's rows found.

    Attributes:
        entries: for each row without errors, in row order, a dict keyed by `EntryFields`
            names plus `excel_row`.
        issues: every problem found, errors and warnings, sorted by row.
        needs_signature: True when any row gives a Manufacturer Image Hash, so the upload
            must carry a detached signature.
    """

    entries: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    needs_signature: bool = False

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing refuses the upload."""
        return not self.errors
