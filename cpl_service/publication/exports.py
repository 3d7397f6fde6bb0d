"""The public CPL as CSV and as an XLSX workbook a person would be glad to receive.

Both are generated row by row from a streamed query (Core rows, a server-side cursor on
PostgreSQL), so a list of 100,000 entries never sits in memory: the CSV is yielded in
chunks, and the workbook is written by rust_xlsxwriter (through the rvgsrust-xlsxwriter
binding) in constant-memory mode into a temporary file. It was picked after measuring
openpyxl's write-only mode and XlsxWriter's constant-memory mode, which take eleven and six
times as much CPU for the same workbook (figures in bench/README.md).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from rvgsrust_xlsxwriter import Format, Workbook, Worksheet
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from cpl_service.clock import rfc3339
from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.extracts.rows import STATUS_WORDS
from cpl_service.publication.rows import (
    COLUMNS,
    FORMULA_TRIGGERS,
    HEADINGS,
    Column,
    naive_utc,
    neutralise,
    yes_no,
)
from cpl_service.publication.service import (
    ExportedEntry,
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


def _csv_cell(column: Column) -> Callable[[Any], str]:
    """The converter of one column's values to CSV text (`csv_value`, made per column)."""
    if column.kind == "text":
        return text_cell
    return lambda value: "" if value is None else csv_value(column, value)


def text_cell(value: Any) -> str:
    """`neutralise(str(value))`, with `""` for `None`; the first-character test is a fast
    path for the millions of identifiers that cannot start a formula."""
    if value is None:
        return ""
    text = str(value)
    return text if text[:1] not in _MAY_TRIGGER else neutralise(text)


_MAY_TRIGGER = frozenset({*(t[0] for t in FORMULA_TRIGGERS), "'"})


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
    cells = [(c.value, _csv_cell(c)) for c in COLUMNS]
    rows: list[list[str]] = []
    for entry in iter_listed(session=session):
        rows.append([convert(value_of(entry)) for value_of, convert in cells])
        if len(rows) == _CSV_CHUNK_ROWS:
            writer.writerows(rows)
            rows.clear()
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(rows)
    yield buffer.getvalue().encode("utf-8")


# --- XLSX --------------------------------------------------------------------------

_HEADING_BACKGROUND = "#1F4E78"
# Excel's own "good / neutral / bad" palette, so the colours read the way people expect.
_STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "Active": ("#C6EFCE", "#006100"),
    "Expired": ("#FFEB9C", "#9C5700"),
    "Cancelled": ("#FFC7CE", "#9C0006"),
    "Withdrawn": ("#D9D9D9", "#404040"),
}
_FLAG_BACKGROUND = "#FFEB9C"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_A4 = 9
# Points per line of the heading row; a heading wraps onto as many lines as it needs.
_LINE_HEIGHT = 15.0


class _Formats:
    """The cell formats of one workbook, made once and shared by every cell."""

    def __init__(self, workbook: Workbook) -> None:
        self.heading = workbook.add_format()
        self.heading.set_bold().set_font_color("#FFFFFF").set_background_color(
            _HEADING_BACKGROUND
        ).set_text_wrap().set_vertical_align("vcenter")
        self.status: dict[str, Format] = {}
        for word, (background, font) in _STATUS_COLOURS.items():
            status = workbook.add_format()
            status.set_bold().set_font_color(font).set_background_color(background)
            self.status[word] = status
        self.datetime = workbook.add_format().set_num_format(DATETIME_FORMAT)
        self.date = workbook.add_format().set_num_format(DATE_FORMAT)
        self.flag = workbook.add_format().set_background_color(_FLAG_BACKGROUND)
        self.bold = workbook.add_format().set_bold()
        self.title = workbook.add_format().set_bold().set_font_size(14)


# One cell's writer: (sheet, row, column index, value) -> None; values are never None.
_CellWriter = Callable[[Worksheet, int, int, Any], None]


def _cell_writers(columns: tuple[Column, ...], formats: _Formats) -> list[_CellWriter | None]:
    """For each column, how to write a styled cell; `None` for plain text.

    Plain text goes in as a string through `write_row`; `neutralise` guarantees it never
    starts with `=`, so it is always stored as text, never as a formula.
    """

    def status(sheet: Worksheet, row: int, index: int, word: Any) -> None:
        sheet.write(row, index, word, formats.status.get(word))

    def moment(sheet: Worksheet, row: int, index: int, value: Any) -> None:
        sheet.write_datetime_py(row, index, naive_utc(value), formats.datetime)

    def day(sheet: Worksheet, row: int, index: int, value: Any) -> None:
        sheet.write_date_py(row, index, value, formats.date)

    def flag(sheet: Worksheet, row: int, index: int, value: Any) -> None:
        if value:
            sheet.write(row, index, yes_no(True), formats.flag)
        else:
            sheet.write(row, index, yes_no(False))

    def yes_or_no(sheet: Worksheet, row: int, index: int, value: Any) -> None:
        sheet.write(row, index, yes_no(bool(value)))

    writers: list[_CellWriter | None] = []
    for column in columns:
        if column.kind == "status":
            writers.append(status)
        elif column.kind == "datetime":
            writers.append(moment)
        elif column.kind == "date":
            writers.append(day)
        elif column.kind == "bool":
            writers.append(flag if column.heading == "Removal Proposed" else yes_or_no)
        else:
            writers.append(None)
    return writers


def _heading_height(columns: tuple[Column, ...]) -> float:
    """A heading row tall enough that no wrapped heading is cut off (on screen or paper)."""
    # A bold character is about 1.1 width units; words wrap, so allow one line extra
    # when a heading needs more than one.
    lines = max(math.ceil(len(c.heading) * 1.1 / c.width) for c in columns)
    return _LINE_HEIGHT * (lines if lines == 1 else lines + 1)


def _table_sheet(
    workbook: Workbook,
    formats: _Formats,
    title: str,
    columns: tuple[Column, ...],
    entries: Iterator[ExportedEntry],
) -> int:
    """A sheet with a frozen, filterable heading row and one row per entry; prints well."""
    sheet = workbook.add_worksheet(title, constant_memory=True)
    for index, column in enumerate(columns):
        sheet.set_column_width(index, column.width)
    # In pixels: setting the height in points makes the binding (0.3.5) keep every row of
    # a constant-memory sheet in memory, some 2 kB a row.
    sheet.set_row_height_pixels(0, round(_heading_height(columns) * 4 / 3))
    sheet.write_row(0, 0, [c.heading for c in columns], formats.heading)
    sheet.freeze_panes(1, 0)
    # Landscape A4, as wide as one page, the heading row on every page.
    sheet.set_landscape()
    sheet.set_paper_size(_A4)
    sheet.set_print_fit_to_pages(1, 0)
    sheet.set_repeat_rows(0, 0)
    sheet.set_footer(f"&L{title}&RPage &[Page] of &[Pages]")

    writers = _cell_writers(columns, formats)
    styled = [(i, w) for i, w in enumerate(writers) if w is not None]
    plain = [(i, c.value) for i, c in enumerate(columns) if writers[i] is None]
    values = [c.value for c in columns]
    width = len(columns)
    count = 0
    for count, entry in enumerate(entries, start=1):
        cells: list[Any] = [None] * width
        for index, value_of in plain:
            value = value_of(entry)
            if value is not None:
                cells[index] = text_cell(value)
        sheet.write_row(count, 0, cells)
        for index, write in styled:
            value = values[index](entry)
            if value is not None:
                write(sheet, count, index, value)
    sheet.autofilter(0, 0, count, width - 1)
    return count


def _changes_columns(since: datetime | None) -> tuple[Column, ...]:
    def change(entry: ExportedEntry) -> str:
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
    formats: _Formats,
    *,
    generated_at: datetime,
    counts: dict[EntryStatus, int],
    publication: Publication | None,
    changes: int,
) -> None:
    sheet = workbook.add_worksheet("About")
    sheet.set_column_width(0, 34)
    sheet.set_column_width(1, 60)
    at = 0

    def row(label: str, value: Any) -> None:
        nonlocal at
        sheet.write(at, 0, label, formats.bold)
        if isinstance(value, datetime):
            sheet.write_datetime_py(at, 1, naive_utc(value), formats.datetime)
        else:
            sheet.write(at, 1, value)
        at += 1

    sheet.write(0, 0, "SEC Central Products List (CPL)", formats.title)
    at = 2
    row("Generated at (UTC)", generated_at)
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
    notes = (
        "Sheet CPL lists every Device Model ever made Active, with its current status.",
        "Times are UTC. Text that a spreadsheet could read as a formula starts with ' .",
        "The signed extract sent to the DCC is the authoritative copy of the list.",
    )
    for offset, note in enumerate(notes, start=at + 1):
        sheet.write(offset, 0, note)


def write_xlsx(*, session: Session, target: Path, now: datetime) -> None:
    """Write the CPL workbook (sheets `CPL`, `Changes`, `About`) to the file `target`."""
    generated_at = now
    publication = latest_publication(session=session)
    since = publication.issued_at if publication else None
    counts = status_counts(session=session)

    workbook = Workbook(str(target))
    # constant-memory sheets spill rows to temporary files: keep them beside the target.
    workbook.set_tempdir(str(target.parent))
    formats = _Formats(workbook)
    _table_sheet(workbook, formats, "CPL", COLUMNS, iter_listed(session=session))
    changes = _table_sheet(
        workbook,
        formats,
        "Changes",
        _changes_columns(since),
        iter_listed(session=session, since=since),
    )
    _about_sheet(
        workbook,
        formats,
        generated_at=generated_at,
        counts=counts,
        publication=publication,
        changes=changes,
    )
    workbook.close()


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


_FORMAT_VERSION = 3  # bump when the layout changes, so cached files are rebuilt


def cached_xlsx(*, session: Session, cache_dir: Path, now: datetime) -> Path:
    """The public workbook for the list as it is now, built once per change of the list.

    Building it once per change rather than once per download keeps the download instant
    however often it is fetched. Older files are removed.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"cpl-{list_fingerprint(session=session)}.xlsx"
    if target.exists():
        return target
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".part", delete=False) as handle:
        part = Path(handle.name)
    try:
        write_xlsx(session=session, target=part, now=now)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)  # atomic: readers see the old file or the whole new one
    for old in cache_dir.glob("cpl-*.xlsx"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
