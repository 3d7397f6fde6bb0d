"""Reading the rows of a workbook safely and fast: an uploaded submission workbook, or a
published CPL for `import-cpl`.

Everything that could hurt the server is checked on the raw zip first (`zipsafety`); only
then does python-calamine (Rust, far faster than openpyxl) read the cell values. The sheet's
heading row is found and matched to the layout's columns, and each non-blank row becomes a
`RawRow` keyed by field name.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook

from cpl_service.errors import UnreadableWorkbookError, UploadTooLargeError
from cpl_service.workbook.headings import HEADING_OF, SUBMISSION_LAYOUT, Layout
from cpl_service.workbook.report import Issue
from cpl_service.workbook.zipsafety import MiB, inspect_workbook

_HEADING_SCAN_ROWS = 10
_MAX_COLUMNS = 1024


@dataclass(frozen=True)
class ReadLimits:
    """How much a workbook may hold.

    Attributes:
        max_bytes: size of the file.
        max_rows: data rows on the sheet (blank rows not counted).
        max_uncompressed_bytes: total decompressed size of every part of the zip.
    """

    max_bytes: int = 10 * MiB
    max_rows: int = 20_000
    max_uncompressed_bytes: int = 200 * MiB


@dataclass(frozen=True)
class RawRow:
    """One non-blank data row, before any rule is applied.

    Attributes:
        excel_row: the row number as Excel shows it.
        values: raw cell values keyed by field name (str, float, int, bool, date, datetime
            or None for an empty cell). Only columns present in the sheet appear.
    """

    excel_row: int
    values: dict[str, Any]


@dataclass
class ParsedWorkbook:
    """The rows of the sheet read and what was learnt about its layout.

    Attributes:
        sheet_name: the sheet the rows were read from.
        heading_row: the Excel row number of the heading row.
        headings: field name -> the heading text as written in the file.
        rows: the non-blank data rows in sheet order.
        issues: layout problems (`missing-column`, `duplicate-column` errors and
            `ignored-column` warnings), reported at the heading row.
    """

    sheet_name: str
    heading_row: int
    headings: dict[str, str]
    rows: list[RawRow]
    issues: list[Issue] = field(default_factory=list)


def read_workbook(
    data: bytes, *, limits: ReadLimits | None = None, layout: Layout = SUBMISSION_LAYOUT
) -> ParsedWorkbook:
    """Read the rows of an .xlsx/.xlsm workbook: by default, an uploaded submission.

    Args:
        data: the file's bytes.
        limits: size limits; the SPEC defaults when omitted.
        layout: the sheet to read and its columns (the `CPL - New Entry` sheet when
            omitted).

    Returns:
        The parsed workbook: heading row, the column headings found, the non-blank data
        rows keyed by field name, and layout issues (missing required columns etc.).

    Raises:
        UploadTooLargeError: the file exceeds `max_bytes`, or the sheet has more than
            `max_rows` data rows (or an absurdly wide used range).
        UnsupportedFileError: the file is not an .xlsx/.xlsm workbook (PDF, text, .xls,
            .xlsb, some other zip).
        UnreadableWorkbookError: the workbook cannot be read safely: corrupt, encrypted,
            a zip bomb, XML entity declarations, formulas without cached values, no
            such sheet, no heading row or no data rows.
    """
    limits = limits or ReadLimits()
    inspected = inspect_workbook(
        data,
        sheet_name=layout.sheet_name,
        max_bytes=limits.max_bytes,
        max_uncompressed_bytes=limits.max_uncompressed_bytes,
    )
    return _read_cells(
        data,
        inspected.sheet,
        fallback=not inspected.found,
        sheet_names=inspected.sheet_names,
        limits=limits,
        layout=layout,
    )


# --- cells --------------------------------------------------------------------------------


def _read_cells(
    data: bytes,
    sheet_name: str,
    *,
    fallback: bool,
    sheet_names: list[str],
    limits: ReadLimits,
    layout: Layout,
) -> ParsedWorkbook:
    def missing_sheet() -> UnreadableWorkbookError:
        found = ", ".join(repr(n) for n in sheet_names)
        return UnreadableWorkbookError(
            f"The workbook has no sheet named {layout.sheet_name!r} (sheets found: {found}). "
            "Fill in the template's sheet, or rename your sheet to that name."
        )

    try:
        book = CalamineWorkbook.from_object(io.BytesIO(data))
        sheet = book.get_sheet_by_name(sheet_name)
    except Exception as exc:  # calamine raises its own error classes and ValueError
        raise UnreadableWorkbookError(
            "The workbook could not be read; save it again from Excel as .xlsx and upload it."
        ) from exc

    if sheet.end is None or sheet.start is None:
        if fallback:
            raise missing_sheet()
        raise UnreadableWorkbookError(
            f"The sheet {sheet_name!r} is empty: it has no heading row and no data rows."
        )
    first_col = sheet.start[1]
    width = sheet.end[1] - first_col + 1
    if width > _MAX_COLUMNS:
        raise UploadTooLargeError(
            f"The sheet {sheet_name!r} uses {width} columns; the template has "
            f"{len(layout.columns)}. Delete the stray cells to the right of the data."
        )

    rows = sheet.iter_rows()
    head: list[list[Any]] = []
    for row in rows:
        head.append(row)
        if len(head) == _HEADING_SCAN_ROWS:
            break
    best_index, best_score = -1, 0
    for index, row in enumerate(head):
        score = len({c.field for c in map(layout.match, row) if c is not None})
        if score > best_score:
            best_index, best_score = index, score
    if best_score < layout.min_heading_matches:
        if fallback:
            raise missing_sheet()
        first, second = (c.heading for c in layout.columns[:2])
        raise UnreadableWorkbookError(
            f"No heading row was found in the first {_HEADING_SCAN_ROWS} rows of the sheet "
            f"{sheet_name!r}. Keep the template's heading row ({first}, {second}, …) above "
            "the data."
        )
    heading_row = best_index + 1
    mapping, headings, issues = _map_headings(head[best_index], heading_row, first_col, layout)

    parsed_rows: list[RawRow] = []
    names = [name for _, name in mapping]
    indices = [index for index, _ in mapping]
    needed = max(indices, default=-1) + 1
    pick = _picker(indices)

    def take(excel_row: int, row: list[Any]) -> None:
        if len(row) >= needed:
            picked: Sequence[Any] = pick(row)
        else:
            size = len(row)
            picked = [row[i] if i < size else None for i in indices]
        # Text of nothing but spaces is an empty cell.
        cleaned = [None if type(v) is str and (not v or v.isspace()) else v for v in picked]
        if cleaned.count(None) == len(cleaned):
            return
        if len(parsed_rows) >= limits.max_rows:
            raise UploadTooLargeError(
                f"The workbook has more than {limits.max_rows:,} data rows; split the rows over "
                "several uploads."
            )
        parsed_rows.append(RawRow(excel_row, dict(zip(names, cleaned, strict=True))))

    for offset, row in enumerate(head[best_index + 1 :]):
        take(heading_row + 1 + offset, row)
    excel_row = len(head)
    for row in rows:
        excel_row += 1
        take(excel_row, row)

    if not parsed_rows:
        raise UnreadableWorkbookError(
            f"The sheet {sheet_name!r} has no data rows: fill in at least one row below the "
            "heading row."
        )
    return ParsedWorkbook(
        sheet_name=sheet_name,
        heading_row=heading_row,
        headings=headings,
        rows=parsed_rows,
        issues=issues,
    )


def _picker(indices: list[int]) -> Callable[[list[Any]], Sequence[Any]]:
    """The cells of a row at `indices`, in one call in C when there are two or more."""
    if len(indices) > 1:
        return itemgetter(*indices)
    return lambda row: [row[i] for i in indices]


def _map_headings(
    row: list[Any], heading_row: int, first_col: int, layout: Layout
) -> tuple[list[tuple[int, str]], dict[str, str], list[Issue]]:
    mapping: list[tuple[int, str]] = []
    headings: dict[str, str] = {}
    issues: list[Issue] = []
    for index, cell in enumerate(row):
        column = layout.match(cell)
        letter = get_column_letter(first_col + index + 1)
        if column is None:
            if cell not in ("", None) and str(cell).strip():
                shown = _shorten(str(cell))
                issues.append(
                    Issue(
                        heading_row,
                        shown,
                        "ignored-column",
                        f"The column {shown!r} (column {letter}) is not a column of the CPL "
                        "workbook and was ignored.",
                        "warning",
                    )
                )
            continue
        if column.field in headings:
            issues.append(
                Issue(
                    heading_row,
                    column.heading,
                    "duplicate-column",
                    f"The heading {column.heading!r} appears more than once (again in column "
                    f"{letter}); keep one column of each heading.",
                )
            )
            continue
        headings[column.field] = str(cell).strip()
        mapping.append((index, column.field))
    for column in layout.columns:
        if column.required and column.field not in headings:
            issues.append(
                Issue(
                    heading_row,
                    column.heading,
                    "missing-column",
                    f"The required column {column.heading!r} is missing from the heading row.",
                )
            )
    return mapping, headings, issues


def _shorten(text: str, limit: int = 60) -> str:
    clean = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


__all__ = ["HEADING_OF", "ParsedWorkbook", "RawRow", "ReadLimits", "read_workbook"]
