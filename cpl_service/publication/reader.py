"""A small, careful reader for CPL workbooks in the layout of `/api/v1/cpl.xlsx`.

The file is checked as a zip first (size, member count, uncompressed size, compression
ratio, encryption, DTDs) and only then parsed, with python-calamine, which never runs
macros or resolves external entities.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from cpl_service.errors import UnreadableWorkbookError, UploadTooLargeError
from cpl_service.workbook.zipsafety import MiB, inspect_workbook

SHEET_NAME = "CPL"
# A whole CPL is larger than one submission: these caps leave room for 200,000 entries.
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_ROWS = 200_000
_HEADING_SEARCH_ROWS = 10


@dataclass(frozen=True)
class SheetRow:
    """One non-blank data row: its Excel row number and its values by heading."""

    number: int
    values: dict[str, Any]


def heading_key(text: str) -> str:
    """Headings compare case-insensitively, ignoring surrounding spaces and a trailing `*`."""
    return " ".join(text.strip().rstrip("*").split()).casefold()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_cpl_sheet(
    path: Path,
    *,
    required: tuple[str, ...],
    max_bytes: int = MAX_FILE_BYTES,
    max_rows: int = MAX_ROWS,
) -> tuple[int, dict[str, str], Iterator[SheetRow]]:
    """Open the `CPL` sheet of a workbook, after the upload reader's safety checks.

    Args:
        path: the workbook.
        required: headings that must be present (their absence is an issue for the caller).
        max_bytes: the file size cap.
        max_rows: the data-row cap.

    Returns:
        (heading row number, {heading key: heading as written}, the non-blank data rows
        with values keyed by heading key).

    Raises:
        UploadTooLargeError, UnreadableWorkbookError: the file is not a safe CPL workbook.
    """
    if not path.is_file():
        raise UnreadableWorkbookError(f"{path} is not a file.")
    if path.stat().st_size > max_bytes:
        raise UploadTooLargeError(f"{path.name} is larger than {max_bytes // MiB} MB.")
    content = path.read_bytes()
    # The same safety checks as uploads: bombs, entity tricks, encrypted or corrupt files.
    inspected = inspect_workbook(
        content,
        sheet_name=SHEET_NAME,
        max_bytes=max_bytes,
        max_uncompressed_bytes=MAX_UNCOMPRESSED_BYTES,
    )
    if not inspected.found:
        sheets = ", ".join(inspected.sheet_names) or "none"
        raise UnreadableWorkbookError(
            f"{path.name} has no sheet named {SHEET_NAME!r} (it has: {sheets})."
        )
    try:
        workbook = CalamineWorkbook.from_object(io.BytesIO(content))
        sheet = workbook.get_sheet_by_name(inspected.sheet)
        first_row = (sheet.start or (0, 0))[0]
        if sheet.height > max_rows + _HEADING_SEARCH_ROWS:
            raise UnreadableWorkbookError(
                f"{path.name} has {sheet.height} rows; the limit is {max_rows} entries."
            )
        rows = sheet.to_python(skip_empty_area=True)
    except UnreadableWorkbookError:
        raise
    except Exception as exc:  # calamine raises several types for broken files
        raise UnreadableWorkbookError(f"{path.name} could not be read: {exc}") from exc

    wanted = {heading_key(h) for h in required}
    heading_index: int | None = None
    for index, row in enumerate(rows[:_HEADING_SEARCH_ROWS]):
        keys = {heading_key(str(v)) for v in row if isinstance(v, str)}
        if wanted & keys:
            heading_index = index
            break
    if heading_index is None:
        raise UnreadableWorkbookError(
            f"The {SHEET_NAME!r} sheet of {path.name} has no heading row "
            f"(looked for {', '.join(required)} in the first {_HEADING_SEARCH_ROWS} rows)."
        )
    columns: dict[int, str] = {}
    written: dict[str, str] = {}
    for position, value in enumerate(rows[heading_index]):
        if isinstance(value, str) and value.strip():
            key = heading_key(value)
            columns.setdefault(position, key)
            written.setdefault(key, value.strip().rstrip("*").strip())

    def data() -> Iterator[SheetRow]:
        for index in range(heading_index + 1, len(rows)):
            row = rows[index]
            if all(_blank(v) for v in row):
                continue
            values = {key: row[pos] for pos, key in columns.items() if pos < len(row)}
            yield SheetRow(number=first_row + index + 1, values=values)

    return first_row + heading_index + 1, written, data()
