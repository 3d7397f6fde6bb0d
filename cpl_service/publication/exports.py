"""The public CPL as CSV and as an XLSX workbook a person would be glad to receive.

Both are generated entry by entry from a batched query, so a list of 100,000 entries
never sits in memory: the CSV is yielded in chunks and the workbook is written with
openpyxl's write-only mode into a temporary file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from copy import copy
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from cpl_service.clock import rfc3339
from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.extracts.rows import STATUS_WORDS
from cpl_service.publication.rows import (
    COLUMNS,
    HEADINGS,
    Column,
    naive_utc,
    neutralise,
    yes_no,
)
from cpl_service.publication.service import (
    Publication,
    iter_listed,
    latest_publication,
    status_counts,
)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel only detects UTF-8 in a CSV that starts with a byte-order mark; without it,
# accented manufacturer names turn into mojibake for most recipients.
UTF8_BOM = "\ufeff"
_CSV_CHUNK_ROWS = 500


# --- CSV ---------------------------------------------------------------------------


def csv_value(column: Column, value: Any) -> str:
    """One cell of the CSV: dates ISO, moments RFC 3339, flags Yes/No, text neutralised."""
    if value is None:
        return ""
    if column.kind == "bool":
        return yes_no(bool(value))
    if column.kind == "datetime":
        return rfc3339(value)
    if column.kind == "date":
        return str(value.isoformat())
    return neutralise(str(value))


def stream_csv(engine: Engine) -> Iterator[bytes]:
    """`iter_csv` in a session of its own: a streamed response outlives the request's."""
    with Session(engine) as session:
        yield from iter_csv(session=session)


def iter_csv(*, session: Session) -> Iterator[bytes]:
    """The listed entries as UTF-8 CSV (with a BOM), in chunks of encoded bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(UTF8_BOM)
    writer.writerow(HEADINGS)
    for n, entry in enumerate(iter_listed(session=session), start=1):
        writer.writerow([csv_value(c, c.value(entry)) for c in COLUMNS])
        if n % _CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


# --- XLSX --------------------------------------------------------------------------

_HEADING_FONT = Font(bold=True, color="FFFFFF")
_HEADING_FILL = PatternFill("solid", fgColor="1F4E78")
_HEADING_ALIGN = Alignment(vertical="center", wrap_text=True)
_TITLE_FONT = Font(bold=True, size=14)
_BOLD = Font(bold=True)
# Excel's own "good / neutral / bad" palette, so the colours read the way people expect.
_STATUS_STYLE: dict[str, tuple[PatternFill, Font]] = {
    "Active": (PatternFill("solid", fgColor="C6EFCE"), Font(color="006100", bold=True)),
    "Expired": (PatternFill("solid", fgColor="FFEB9C"), Font(color="9C5700", bold=True)),
    "Cancelled": (PatternFill("solid", fgColor="FFC7CE"), Font(color="9C0006", bold=True)),
    "Withdrawn": (PatternFill("solid", fgColor="D9D9D9"), Font(color="404040", bold=True)),
}
_FLAG_FILL = PatternFill("solid", fgColor="FFEB9C")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


class _CellMaker:
    """Makes the styled cells of one write-only sheet.

    Each style is set up once on a prototype cell and its style array copied onto every
    cell that needs it: setting fonts and fills cell by cell costs more than writing the
    whole row.
    """

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        self.sheet = sheet
        self.styles: dict[str, StyleArray] = {}
        for status, (fill, font) in _STATUS_STYLE.items():
            self._prototype(status, fill=fill, font=font)
        self._prototype("datetime", number_format=DATETIME_FORMAT)
        self._prototype("date", number_format=DATE_FORMAT)
        self._prototype("flag", fill=_FLAG_FILL)

    def _prototype(self, key: str, **style: Any) -> None:
        cell = WriteOnlyCell(self.sheet)
        for name, value in style.items():
            setattr(cell, name, value)
        self.styles[key] = cell._style  # type: ignore[attr-defined]

    def styled(self, value: Any, key: str) -> Cell:
        cell = WriteOnlyCell(self.sheet, value=value)
        cell._style = copy(self.styles[key])  # type: ignore[attr-defined]
        return cell

    def __call__(self, column: Column, value: Any) -> Cell | str | None:
        """One cell: real Excel dates, coloured statuses, neutralised text.

        Plain text goes in as a bare string; `neutralise` guarantees it never starts
        with `=`, so openpyxl stores it as a string, never as a formula.
        """
        if value is None:
            return None
        if column.kind == "datetime":
            return self.styled(naive_utc(value), "datetime")
        if column.kind == "date":
            return self.styled(value, "date")
        if column.kind == "bool":
            word = yes_no(bool(value))
            flagged = value and column.heading == "Removal Proposed"
            return self.styled(word, "flag") if flagged else word
        text = neutralise(str(value))
        if column.kind == "status" and text in self.styles:
            return self.styled(text, text)
        return text


def _heading_row(sheet: WriteOnlyWorksheet, headings: tuple[str, ...]) -> list[Cell]:
    cells = []
    for heading in headings:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font, cell.fill, cell.alignment = _HEADING_FONT, _HEADING_FILL, _HEADING_ALIGN
        cells.append(cell)
    return cells


def _table_sheet(
    workbook: Workbook, title: str, columns: tuple[Column, ...], entries: Iterator[Entry]
) -> int:
    """A sheet with a frozen, filterable heading row and one row per entry."""
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.append(_heading_row(sheet, tuple(c.heading for c in columns)))
    make_cell = _CellMaker(sheet)
    count = 0
    for entry in entries:
        sheet.append([make_cell(c, c.value(entry)) for c in columns])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    return count


def _changes_columns(since: datetime | None) -> tuple[Column, ...]:
    def change(entry: Entry) -> str:
        if since is None or (entry.first_active_at and entry.first_active_at > since):
            return "Added"
        return "Status changed"

    wanted = (
        "CPL Entry ID",
        "Status",
        "Status Effective Date",
        "Panel Decision Reference",
        "Manufacturer Name",
        "Manufacturer ID",
        "Model Name",
        "Model ID",
        "Hardware Version",
        "Firmware Version",
        "Physical Device Type",
    )
    by_heading = {c.heading: c for c in COLUMNS}
    picked = [by_heading[h] for h in wanted]
    return (picked[0], Column("Change", "text", 16, change), *picked[1:])


def _about_sheet(
    workbook: Workbook,
    *,
    generated_at: datetime,
    counts: dict[EntryStatus, int],
    publication: Publication | None,
    changes: int,
) -> None:
    sheet = workbook.create_sheet("About")
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 60

    def row(label: str, value: Any, number_format: str | None = None) -> None:
        label_cell = WriteOnlyCell(sheet, value=label)
        label_cell.font = _BOLD
        value_cell = WriteOnlyCell(sheet, value=value)
        if number_format:
            value_cell.number_format = number_format
        sheet.append([label_cell, value_cell])

    title = WriteOnlyCell(sheet, value="SEC Central Products List (CPL)")
    title.font = _TITLE_FONT
    sheet.append([title])
    sheet.append([])
    row("Generated at (UTC)", naive_utc(generated_at), DATETIME_FORMAT)
    row("Entries listed", sum(counts.values()))
    for internal, word in STATUS_WORDS.items():
        row(f"  {word}", counts.get(internal, 0))
    if publication is None:
        row("Changes since", "nothing published yet: every entry is listed as a change")
    else:
        row(
            "Changes since",
            f"extract {publication.sequence} issued {rfc3339(publication.issued_at)}",
        )
    row("Changes listed", changes)
    sheet.append([])
    notes = (
        "Sheet CPL lists every Device Model ever made Active, with its current status.",
        "Times are UTC. Text that a spreadsheet could read as a formula starts with ' .",
        "The signed extract sent to the DCC is the authoritative copy of the list.",
    )
    for note in notes:
        sheet.append([note])


def write_xlsx(*, session: Session, target: IO[bytes], now: datetime) -> None:
    """Write the CPL workbook (sheets `CPL`, `Changes`, `About`) to `target`."""
    generated_at = now
    publication = latest_publication(session=session)
    since = publication.issued_at if publication else None
    counts = status_counts(session=session)

    workbook = Workbook(write_only=True)
    _table_sheet(workbook, "CPL", COLUMNS, iter_listed(session=session))
    changes = _table_sheet(
        workbook, "Changes", _changes_columns(since), iter_listed(session=session, since=since)
    )
    _about_sheet(
        workbook,
        generated_at=generated_at,
        counts=counts,
        publication=publication,
        changes=changes,
    )
    workbook.save(target)


def list_fingerprint(*, session: Session) -> str:
    """A digest that changes whenever anything the workbook shows could have changed.

    Every change to an entry stamps `updated_at`; the Changes sheet also depends on the
    latest extract.
    """
    table = Entry.__table__  # type: ignore[attr-defined]
    count, last_update = (
        session.connection()
        .execute(
            select(func.count(), func.max(table.c.updated_at)).where(
                table.c.first_active_at.is_not(None)
            )
        )
        .one()
    )
    latest = latest_publication(session=session)
    text = f"{count}|{last_update}|{latest.sequence if latest else 0}|{_FORMAT_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_FORMAT_VERSION = 1


def cached_xlsx(*, session: Session, cache_dir: Path, now: datetime) -> Path:
    """The public workbook for the list as it is now, built once per change of the list.

    openpyxl writes some 30,000 cells a second, so a list of 100,000 entries takes over a
    minute to build; building it once per change rather than once per download keeps the
    download instant. Older files are removed.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"cpl-{list_fingerprint(session=session)}.xlsx"
    if target.exists():
        return target
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".part", delete=False) as handle:
        try:
            write_xlsx(session=session, target=handle, now=now)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
    os.replace(handle.name, target)  # atomic: readers see the old file or the whole new one
    for old in cache_dir.glob("cpl-*.xlsx"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
