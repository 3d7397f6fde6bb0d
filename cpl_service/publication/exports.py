"""The public CPL as CSV and as an XLSX workbook a person would be glad to receive.

Both are generated batch by batch from a streamed query (raw column values, a server-side
cursor on PostgreSQL, converted a column at a time: see `extracts.columns`), so a list of
100,000 entries never sits in memory: the CSV is yielded in chunks, and the workbook is
written by rust_xlsxwriter (through the rvgsrust-xlsxwriter binding) in constant-memory
mode into a temporary file. It was picked after measuring
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
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from rvgsrust_xlsxwriter import Format, Workbook, Worksheet
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from cpl_service.clock import rfc3339
from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.extracts.columns import (
    dates,
    exact_naive_utc,
    iso_date_texts,
    naive_utc_moments,
    rfc3339_texts,
)
from cpl_service.extracts.rows import STATUS_WORDS
from cpl_service.publication.rows import (
    COLUMNS,
    DEVICE_TYPE_NAMES,
    FORMULA_TRIGGERS,
    HEADINGS,
    Column,
    naive_utc,
    neutralise,
    yes_no,
)
from cpl_service.publication.service import (
    Publication,
    latest_publication,
    listed_columns,
    status_counts,
)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel only detects UTF-8 in a CSV that starts with a byte-order mark; without it,
# accented manufacturer names turn into mojibake for most recipients.
UTF8_BOM = "\ufeff"


# --- CSV ---------------------------------------------------------------------------


def csv_value(column: Column, value: Any) -> str:
    """One cell of the CSV: dates ISO, moments RFC 3339, flags Yes/No, text neutralised.

    The value as the typed model holds it; the export itself converts whole columns
    (`_csv_column`) to exactly these texts.
    """
    if value is None:
        return ""
    if column.kind == "bool":
        return yes_no(bool(value))
    if column.kind == "datetime":
        return rfc3339(value)
    if column.kind == "date":
        return str(value.isoformat())
    if column.kind == "status":
        return STATUS_WORDS[value]
    if column.kind == "device_type":
        return DEVICE_TYPE_NAMES.get(value, str(value))
    return neutralise(str(value))


def text_cell(value: Any) -> str:
    """`neutralise(str(value))`, with `""` for `None`; the first-character test is a fast
    path for the millions of identifiers that cannot start a formula."""
    if value is None:
        return ""
    text = str(value)
    return text if text[:1] not in _MAY_TRIGGER else neutralise(text)


_MAY_TRIGGER = frozenset({*(t[0] for t in FORMULA_TRIGGERS), "'"})
_YES_NO = {True: yes_no(True), False: yes_no(False)}  # 1 and 0 (SQLite) find them too


def text_column(values: tuple[Any, ...]) -> Sequence[Any]:
    """A column of raw text values, neutralised; `None` stays (an empty cell).

    When no value starts with a character `neutralise` looks at (nearly always), the
    column is returned as it is, found in a few C-level passes.
    """
    if all(type(v) is str for v in filter(None, values)):
        firsts = set(map(itemgetter(0), filter(None, values)))
        if firsts.isdisjoint(_MAY_TRIGGER):
            return values
    return [None if v is None else text_cell(v) for v in values]


def _csv_column(kind: str, values: tuple[Any, ...]) -> Sequence[Any]:
    """A column of raw values as CSV texts (`csv_value`'s); `None` is written empty."""
    if kind == "status":
        return [STATUS_WORDS[v] for v in values]
    if kind == "device_type":
        return [DEVICE_TYPE_NAMES.get(v, v) for v in values]
    if kind == "datetime":
        return rfc3339_texts(values)
    if kind == "date":
        return iso_date_texts(values)
    if kind == "bool":
        return [None if v is None else _YES_NO[bool(v)] for v in values]
    return text_column(values)


def _fields(columns: Sequence[Column]) -> list[str]:
    return list(dict.fromkeys(c.field for c in columns))


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
    for batch in listed_columns(session=session, fields=_fields(COLUMNS)):
        writer.writerows(zip(*(_csv_column(c.kind, batch[c.field]) for c in COLUMNS), strict=True))
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
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
    batches: Iterator[dict[str, tuple[Any, ...]]],
    *,
    since: datetime | None,
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

    count = 0
    for batch in batches:
        count = _write_rows(sheet, formats, columns, batch, first=count + 1, since=since)
    sheet.autofilter(0, 0, count, len(columns) - 1)
    return count


# A styled cell: how the sheet writes it, its column, and per row the value (None: none)
# and the format.
_Styled = tuple[Callable[..., None], int, Sequence[Any], Sequence[Format | None]]


def _write_rows(
    sheet: Worksheet,
    formats: _Formats,
    columns: Sequence[Column],
    batch: dict[str, tuple[Any, ...]],
    *,
    first: int,
    since: datetime | None,
) -> int:
    """Write one batch of entries from row `first` on; returns the last row written.

    Text goes in a row at a time through `write_row` (`neutralise` guarantees it never
    starts with `=`, so it is always stored as text); cells with a format or a real date
    are written one by one, in row order as a constant-memory sheet needs.
    """
    rows = len(batch[columns[0].field])
    absent = (None,) * rows
    plain: list[Sequence[Any]] = []
    styled: list[_Styled] = []
    for index, column in enumerate(columns):
        values = batch[column.field]
        if column.kind == "change":
            plain.append(_change_words(values, since))
        elif column.kind == "status":
            words = [STATUS_WORDS[v] for v in values]
            plain.append(absent)
            styled.append((sheet.write, index, words, [formats.status.get(w) for w in words]))
        elif column.kind == "datetime":
            plain.append(absent)
            moments = naive_utc_moments(values)
            styled.append((sheet.write_datetime_py, index, moments, (formats.datetime,) * rows))
        elif column.kind == "date":
            plain.append(absent)
            if any(v is not None for v in values):
                styled.append((sheet.write_date_py, index, dates(values), (formats.date,) * rows))
        elif column.kind == "bool" and column.heading == "Removal Proposed":
            # "Yes" stands out; "No" is plain text.
            flagged = [bool(v) for v in values]
            plain.append([None if f else _YES_NO[False] for f in flagged])
            if any(flagged):
                yes = [_YES_NO[True] if f else None for f in flagged]
                styled.append((sheet.write, index, yes, (formats.flag,) * rows))
        else:
            plain.append(_csv_column(column.kind, values))
    write_row = sheet.write_row
    row = first
    for offset, cells in enumerate(map(list, zip(*plain, strict=True))):
        row = first + offset
        write_row(row, 0, cells)
        for write, index, styled_values, cell_formats in styled:
            value = styled_values[offset]
            if value is not None:
                write(row, index, value, cell_formats[offset])
    return row if rows else first - 1


def _change_words(first_active: tuple[Any, ...], since: datetime | None) -> list[str]:
    """The Changes sheet's word per entry: added since `since`, or its status changed."""
    if since is None:
        return ["Added"] * len(first_active)
    cutoff = since.astimezone(UTC).replace(tzinfo=None)
    return [
        "Added" if moment is not None and moment > cutoff else "Status changed"
        for moment in exact_naive_utc(first_active)
    ]


def _changes_columns() -> tuple[Column, ...]:
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
    return (picked[0], Column("Change", "change", 16, "first_active_at"), *picked[1:])


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
    everything = listed_columns(session=session, fields=_fields(COLUMNS))
    _table_sheet(workbook, formats, "CPL", COLUMNS, everything, since=since)
    changes_columns = _changes_columns()
    changed = listed_columns(session=session, fields=_fields(changes_columns), since=since)
    changes = _table_sheet(workbook, formats, "Changes", changes_columns, changed, since=since)
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
