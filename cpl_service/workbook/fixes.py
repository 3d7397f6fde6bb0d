"""How to fix each kind of workbook problem: one sentence per issue code, as data.

The report of a rejected workbook says what is wrong on each row (`Issue.message`); this
says, once per code, what to do about it, for the pages that show the report. Every code
the checks and the reader can report has an entry here (a test reads them from the code).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cpl_service.workbook.headings import COLUMNS, LISTING_COLUMNS

FIXES: Mapping[str, str] = {
    # The heading row (reported by the reader).
    "missing-column": (
        "Add the column with exactly this heading to the heading row; the simplest way is to "
        "copy your rows into a fresh copy of the template."
    ),
    "duplicate-column": (
        "Keep one column of each heading: delete the second column, after moving any values "
        "you need into the first."
    ),
    "ignored-column": (
        "Nothing to do if the column is yours; if it was meant to be a CPL column, correct "
        "its heading to one of the template's headings."
    ),
    # Any cell.
    "required": "Fill in the cell; the template colours the always-required columns green.",
    "too-long": "Shorten the text to the number of characters the message gives.",
    "invalid-text": (
        "Type the value again as plain text: remove control characters (often pasted from "
        "another program) and do not start it with '='."
    ),
    "invalid-hex": (
        "Format the column as Text, then type the digits again (0-9 and A-F only, exactly "
        "as many as the message says, keeping leading zeros)."
    ),
    "invalid-date": "Enter an Excel date, or write the date as YYYY-MM-DD (e.g. 2027-03-31).",
    "invalid-flag": "Write Yes or No.",
    "invalid-choice": "Pick a value from the cell's drop-down list in the template.",
    "invalid-email": "Give one working email address, like cpl@example.com.",
    # What the row describes.
    "unlisted-device": ("Delete the row: IHDs and other Type 2 devices are not listed on the CPL."),
    "unknown-specification": (
        "Pick a version from the drop-down list; GET /api/v1/technical-specifications lists "
        "the register. Ask SECAS if your version is missing."
    ),
    "specification-ended": (
        "A warning only: the row is accepted. Check that you meant this version."
    ),
    "specification-device-mismatch": (
        "A warning only: check the Technical Specification - CHTS versions are for "
        "Communications Hubs, SMETS versions for meters and other devices."
    ),
    "not-applicable": "A warning only: the value was ignored. Clear the cell to silence it.",
    "submitter-not-allowed": (
        "Ask the DCC to submit this row: only the DCC (or SECAS) may submit SMETS1 and "
        "Communications Hub entries."
    ),
    "smets1-statement-required": "Give the SMETS1 Compliance Statement for the SMETS1 device.",
    "smets1-mismatch": "Set SMETS1 to match the Technical Specification (Yes only for SMETS1).",
    "hash-creator-required": ("Say who created the Manufacturer Image Hash, or remove the hash."),
    # Certificates.
    "certificate-required": (
        "Give the certificate number: the Certificate Matrix sheet of the template says which "
        "certificates each device type needs."
    ),
    "certificate-not-applicable": (
        "Clear the cell: the Certificate Matrix sheet of the template says which certificates "
        "each device type needs."
    ),
    "cpa-expiry-required": "Give the CPA Expiry Date printed on the fixed-term CPA certificate.",
    "cpa-renewal-required": "Give the CPA Renewal Date of the lifetime CPA certificate.",
    "cpa-date-not-applicable": (
        "Clear the date that does not apply, or correct the CPA Certificate Type: a "
        "Fixed-term certificate has an expiry date, a Lifetime one a renewal date."
    ),
    "cpa-expired": (
        "Renew the CPA certificate first, then give the new certificate's number and date."
    ),
    "conditional-after-expiry": (
        "Correct the CPA Conditional Date: it cannot be later than the CPA Expiry Date."
    ),
    "conditional-after-renewal": (
        "Correct the CPA Conditional Date: it cannot be later than the CPA Renewal Date."
    ),
    "cpa-type-conflict": (
        "Give the certificate the type it has on record (or on the earlier row); if the record "
        "is wrong, ask SECAS."
    ),
    "cpa-expiry-conflict": (
        "Give the expiry date the certificate has on record (or on the earlier row); if the "
        "record is wrong, ask SECAS."
    ),
    "cpa-renewal-conflict": (
        "Give the renewal date the certificate has on record (or on the earlier row); if the "
        "record is wrong, ask SECAS."
    ),
    "cpa-conditional-conflict": (
        "Give the conditional date the certificate has on record (or on the earlier row)."
    ),
    # Firmware updates.
    "mapping-evidence-required": (
        "Give the Certificate Mapping Evidence: show that the certificates cover the new "
        "firmware version."
    ),
    "previous-entry-required": (
        "Give the CPL Entry ID (e.g. CPL-000123) of the Active entry this firmware updates."
    ),
    "previous-entry-not-found": (
        "Check the Previous CPL Entry ID on the public CPL (/cpl) and correct it."
    ),
    "previous-entry-not-active": (
        "Name an Active entry: a Firmware Update follows an entry that is on the CPL now."
    ),
    "previous-entry-mismatch": (
        "Keep the previous entry's Manufacturer ID, Model ID, Hardware Version and Physical "
        "Device Type, or submit a New Device Model instead."
    ),
    "same-firmware": "Give the new firmware's version: it must differ from the previous entry's.",
    # The Device Model itself.
    "duplicate-in-file": "Delete one of the two rows: a Device Model is listed once.",
    "duplicate-entry": (
        "Delete the row: this Device Model is already on the CPL or awaiting review. Search "
        "the CPL (/cpl) or your submissions to find it."
    ),
    # Rows of a published CPL loaded by `import-cpl`.
    "invalid-entry-id": "Write the CPL Entry ID like CPL-000123.",
    "duplicate-entry-id": "Keep each CPL Entry ID on one row only.",
    "entry-exists": "Remove the row: that entry is already in this service.",
    "invalid-status": "Use a listed status: Active, Expired, Cancelled or Withdrawn.",
}

GENERIC_FIX = "Correct the cell as the message says and upload the workbook again."


def fix_for(code: str) -> str:
    """How to fix problems of kind `code` (a general sentence for an unknown code).

    Args:
        code: an issue code, e.g. `invalid-hex`.

    Returns:
        One sentence saying what to do.
    """
    return FIXES.get(code, GENERIC_FIX)


# Where each heading sits in the sheet: the template's order, then the columns only a
# published CPL has; anything else (an ignored column's text) after them.
_POSITION: dict[str, int] = {
    column.heading: index for index, column in enumerate((*COLUMNS, *LISTING_COLUMNS))
}


def in_sheet_order(issues: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The issues as they are met reading the sheet: by row, then by column.

    Columns are in the template's order; issues of one cell keep their order.

    Args:
        issues: issues as in a problem response (`row`, `column`, `code`, `message`, …).

    Returns:
        The same issues, sorted.
    """
    return sorted(
        issues,
        key=lambda i: (int(i.get("row") or 0), _POSITION.get(str(i.get("column")), len(_POSITION))),
    )


@dataclass(frozen=True)
class CodeFix:
    """One kind of problem in a report: its code, how often it occurs, how to fix it."""

    code: str
    count: int
    fix: str
    severity: str


def fixes_for(issues: Sequence[Mapping[str, Any]]) -> list[CodeFix]:
    """Each code of `issues` once, with its count and its fix: errors first, then by count.

    Args:
        issues: issues as in a problem response.

    Returns:
        One `CodeFix` per distinct code; a code is an error if any of its issues is one.
    """
    counts = Counter(str(i.get("code")) for i in issues)
    errors = {str(i.get("code")) for i in issues if i.get("severity", "error") == "error"}
    return sorted(
        (
            CodeFix(code, n, fix_for(code), "error" if code in errors else "warning")
            for code, n in counts.items()
        ),
        key=lambda f: (f.severity != "error", -f.count, f.code),
    )
