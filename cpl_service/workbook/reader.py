"""Reading an uploaded submission workbook safely and fast.

Everything that could hurt the server is checked on the raw zip before any XML is parsed:
size, container type, declared and *actual* decompressed sizes (members are inflated here
with a running cap, so a member lying about its size is caught), compression ratios,
DTD/entity declarations and formulas without cached values. Only then does python-calamine
(Rust, far faster than openpyxl) read the cell values.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from posixpath import join, normpath
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from python_calamine import CalamineWorkbook

from cpl_service.errors import UnreadableWorkbookError, UnsupportedFileError, UploadTooLargeError
from cpl_service.workbook.headings import (
    COLUMNS,
    HEADING_OF,
    SHEET_NAME,
    heading_key,
    match_heading,
)
from cpl_service.workbook.report import Issue

MiB = 1024 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"
# An encrypted .xlsx is an OLE2 container holding these streams (names are UTF-16).
_ENCRYPTED_MARKERS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))

_MAX_MEMBERS = 10_000
# Deflate tops out near 1032:1. Real workbooks stay far below 100:1; a member that is big
# and compressed harder than this is treated as a bomb.
_MAX_RATIO = 200
_RATIO_FLOOR = 2 * MiB
_HEADING_SCAN_ROWS = 10
_MIN_HEADING_MATCHES = 3
_MAX_COLUMNS = 1024
_IN_CHUNK = 64 * 1024
_OUT_CHUNK = 1 * MiB

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_HAS_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL = re.compile(rb"<((?:\w+:)?)c\b([^>]*?)(?:/>|>(.*?)</\1c>)", re.DOTALL)
_CACHED = re.compile(rb"<(?:\w+:)?v\s*>(.*?)</(?:\w+:)?v\s*>", re.DOTALL)
_ATTR_R = re.compile(rb'\br\s*=\s*["\']([A-Za-z]{1,3}\d{1,7})["\']')
_ATTR_T = re.compile(rb'\bt\s*=\s*["\'](\w+)["\']')

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass(frozen=True)
class ReadLimits:
    """How much an upload may hold.

    Attributes:
        max_bytes: size of the uploaded file.
        max_rows: data rows on the submission sheet (blank rows not counted).
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
        values: raw cell values keyed by `EntryFields` name (str, float, int, bool, date,
            datetime or None for an empty cell). Only columns present in the sheet appear.
    """

    excel_row: int
    values: dict[str, Any]


@dataclass
class ParsedWorkbook:
    """The rows of the submission sheet and what was learnt about its layout.

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


def read_workbook(data: bytes, *, limits: ReadLimits | None = None) -> ParsedWorkbook:
    """Read the `CPL - New Entry` sheet of an uploaded .xlsx/.xlsm workbook.

    Args:
        data: the uploaded file's bytes.
        limits: size limits; the SPEC defaults when omitted.

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
            submission sheet, no heading row or no data rows.
    """
    limits = limits or ReadLimits()
    inspected = inspect_workbook(data, limits=limits, sheet_name=SHEET_NAME)
    return _read_cells(
        data,
        inspected.sheet,
        fallback=not inspected.found,
        sheet_names=inspected.sheet_names,
        limits=limits,
    )


@dataclass(frozen=True)
class InspectedWorkbook:
    """What `inspect_workbook` learnt.

    Attributes:
        sheet_names: every sheet, in workbook order.
        sheet: the sheet that was checked: the one asked for, else the first.
        found: whether the sheet asked for exists.
    """

    sheet_names: list[str]
    sheet: str
    found: bool


def inspect_workbook(data: bytes, *, limits: ReadLimits, sheet_name: str) -> InspectedWorkbook:
    """Every safety check of an .xlsx/.xlsm file, before any parser sees its content.

    Checks the size and the container (not a workbook, old or encrypted format), then
    inflates every part with running caps (declared and actual sizes, compression ratio,
    CRC), refuses XML entity declarations, and refuses formulas without cached values on
    the sheet named `sheet_name` (matched case-insensitively; the first sheet if absent).

    Args:
        data: the file's bytes.
        limits: size limits.
        sheet_name: the sheet whose cells will be read.

    Returns:
        The sheet names, the sheet checked, and whether `sheet_name` was found.

    Raises:
        UploadTooLargeError, UnsupportedFileError, UnreadableWorkbookError: as
            `read_workbook`.
    """
    _check_container(data, limits)
    archive = _open_zip(data)
    sheet_names, sheet_parts = _sheets(data, archive, limits)
    wanted = _pick_sheet(sheet_names, sheet_name)
    target = wanted if wanted is not None else sheet_names[0]
    sheet_part = sheet_parts.get(target)
    if sheet_part is None or sheet_part not in archive.NameToInfo:
        raise UnreadableWorkbookError(
            f"The workbook's sheet {target!r} is missing from the file; the file is damaged."
        )
    _inspect_members(data, archive, limits, sheet_part=sheet_part)
    return InspectedWorkbook(sheet_names=sheet_names, sheet=target, found=wanted is not None)


# --- container and zip safety -------------------------------------------------------------


def _check_container(data: bytes, limits: ReadLimits) -> None:
    if len(data) > limits.max_bytes:
        raise UploadTooLargeError(
            f"The workbook is {len(data) / MiB:.1f} MB; the largest accepted is "
            f"{limits.max_bytes / MiB:.0f} MB. Split the rows over several uploads."
        )
    if not data:
        raise UnsupportedFileError("The file is empty. Upload the filled-in .xlsx workbook.")
    if data.startswith(_OLE2_MAGIC):
        if any(marker in data for marker in _ENCRYPTED_MARKERS):
            raise UnreadableWorkbookError(
                "The workbook is password-protected (encrypted). Remove the password and "
                "save it as an Excel Workbook (.xlsx) before uploading."
            )
        raise UnsupportedFileError(
            "The file is an old-format Excel file (.xls) or an encrypted workbook. Save it as "
            "an Excel Workbook (.xlsx), without a password, and upload that."
        )
    if not data.startswith(_ZIP_MAGIC):
        kind = "a PDF document" if data.startswith(b"%PDF") else "not an Excel workbook"
        raise UnsupportedFileError(
            f"The file is {kind}. Upload the submission workbook as an Excel .xlsx or .xlsm file."
        )


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise UnreadableWorkbookError(
            "The workbook is damaged (the file is not a complete .xlsx); save it again from "
            "Excel and upload the new file."
        ) from exc
    names = archive.namelist()
    if len(names) > _MAX_MEMBERS:
        raise UnreadableWorkbookError(
            f"The workbook holds {len(names)} parts, far more than a real workbook; it was "
            "refused as unsafe."
        )
    if len(set(names)) != len(names):
        raise UnreadableWorkbookError(
            "The workbook is damaged (it holds two parts with the same name); save it again "
            "from Excel."
        )
    if "xl/workbook.xml" not in archive.NameToInfo:
        if "xl/workbook.bin" in archive.NameToInfo:
            raise UnsupportedFileError(
                "The file is an Excel Binary Workbook (.xlsb). Save it as an Excel Workbook "
                "(.xlsx) and upload that."
            )
        raise UnsupportedFileError(
            "The file is a zip archive but not an Excel workbook. Upload the submission "
            "workbook as an .xlsx or .xlsm file."
        )
    return archive


def _bomb(detail: str) -> UnreadableWorkbookError:
    return UnreadableWorkbookError(
        f"The workbook was refused as unsafe: {detail} Save it again from Excel; a genuine "
        "submission workbook is far smaller."
    )


def _check_declared(archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    total = 0
    for info in archive.infolist():
        if info.flag_bits & 0x1:
            raise UnreadableWorkbookError(
                "The workbook is encrypted. Remove the password, save it as .xlsx and upload "
                "it again."
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadableWorkbookError(
                "The workbook uses a compression method Excel does not write; save it again "
                "from Excel as .xlsx."
            )
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise _bomb(
                f"its content would expand to more than "
                f"{limits.max_uncompressed_bytes / MiB:.0f} MB."
            )
        if info.file_size > _RATIO_FLOOR and info.file_size > _MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise _bomb(f"the part {info.filename!r} is compressed more than {_MAX_RATIO}:1.")


def _raw_member(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    offset = info.header_offset
    header = data[offset : offset + 30]
    if len(header) != 30 or not header.startswith(_ZIP_MAGIC):
        raise UnreadableWorkbookError("The workbook is damaged; save it again from Excel.")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = offset + 30 + name_len + extra_len
    end = start + info.compress_size
    if end > len(data):
        raise UnreadableWorkbookError(
            "The workbook is damaged (the file is truncated); save it again from Excel."
        )
    return memoryview(data)[start:end]


def _inflate(raw: memoryview, info: zipfile.ZipInfo, budget: list[int]) -> Iterator[bytes]:
    """The member's content in chunks; stops as soon as it outgrows its declared size."""
    if info.compress_type == zipfile.ZIP_STORED:
        pieces: Iterator[bytes] = (
            bytes(raw[i : i + _OUT_CHUNK]) for i in range(0, len(raw), _OUT_CHUNK)
        )
    else:
        pieces = _deflate_pieces(raw)
    total = 0
    crc = 0
    for piece in pieces:
        total += len(piece)
        budget[0] -= len(piece)
        if total > info.file_size:
            raise _bomb(f"the part {info.filename!r} is larger than it declares.")
        if budget[0] < 0:
            raise _bomb("its content expands beyond the size limit.")
        crc = zlib.crc32(piece, crc)
        yield piece
    if total != info.file_size or crc != info.CRC:
        raise UnreadableWorkbookError(
            f"The workbook is damaged (the part {info.filename!r} does not match its "
            "checksum); save it again from Excel."
        )


def _deflate_pieces(raw: memoryview) -> Iterator[bytes]:
    inflater = zlib.decompressobj(-15)
    try:
        for start in range(0, len(raw), _IN_CHUNK):
            pending: bytes = bytes(raw[start : start + _IN_CHUNK])
            while True:
                out = inflater.decompress(pending, _OUT_CHUNK)
                if out:
                    yield out
                pending = inflater.unconsumed_tail
                if inflater.eof or (not pending and len(out) < _OUT_CHUNK):
                    break
            if inflater.eof:
                break
    except zlib.error as exc:
        raise UnreadableWorkbookError(
            "The workbook is damaged (a part cannot be decompressed); save it again from Excel."
        ) from exc
    if not inflater.eof:
        raise UnreadableWorkbookError(
            "The workbook is damaged (a part is truncated); save it again from Excel."
        )


def _is_xml_part(name: str) -> bool:
    return name.endswith((".xml", ".rels", ".vml")) or name == "[Content_Types].xml"


def _read_member(data: bytes, archive: zipfile.ZipFile, name: str, budget: list[int]) -> bytes:
    info = archive.NameToInfo[name]
    content = b"".join(_inflate(_raw_member(data, info), info, budget))
    _refuse_dtd(name, content[:4], content)
    return content


def _refuse_dtd(name: str, head: bytes, text: bytes) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        raise UnreadableWorkbookError(
            f"The workbook part {name!r} is encoded as UTF-16, which Excel never writes; the "
            "file was refused as unsafe. Save it again from Excel."
        )
    if _DTD.search(text):
        raise UnreadableWorkbookError(
            "The workbook contains XML document-type or entity declarations, which Excel never "
            "writes; the file was refused as unsafe. Save it again from Excel."
        )


def _sheets(
    data: bytes, archive: zipfile.ZipFile, limits: ReadLimits
) -> tuple[list[str], dict[str, str]]:
    """Sheet names in workbook order, and each sheet's part name."""
    _check_declared(archive, limits)
    budget = [limits.max_uncompressed_bytes]
    workbook = _parse_xml(_read_member(data, archive, "xl/workbook.xml", budget))
    rels_name = "xl/_rels/workbook.xml.rels"
    targets: dict[str, str] = {}
    if rels_name in archive.NameToInfo:
        rels = _parse_xml(_read_member(data, archive, rels_name, budget))
        for rel in rels.iter(f"{_NS_PKG_REL}Relationship"):
            target = rel.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else normpath(join("xl", target))
            targets[rel.get("Id", "")] = part
    names: list[str] = []
    parts: dict[str, str] = {}
    for sheet in workbook.iter(f"{_NS_MAIN}sheet"):
        name = sheet.get("name") or ""
        names.append(name)
        rel_id = sheet.get(f"{_NS_REL}id") or ""
        if rel_id in targets:
            parts[name] = targets[rel_id]
    if not names:
        raise UnreadableWorkbookError(
            f"The workbook has no sheets; fill in the {SHEET_NAME!r} sheet of the template."
        )
    return names, parts


def _parse_xml(content: bytes) -> Element:
    try:
        return SafeET.fromstring(content)
    except Exception as exc:  # defusedxml raises several unrelated classes
        raise UnreadableWorkbookError(
            "The workbook is damaged (its structure cannot be read); save it again from Excel."
        ) from exc


def _pick_sheet(names: list[str], sheet_name: str) -> str | None:
    want = heading_key(sheet_name)
    for name in names:
        if heading_key(name) == want:
            return name
    return None


def _inspect_members(
    data: bytes, archive: zipfile.ZipFile, limits: ReadLimits, *, sheet_part: str
) -> None:
    """Inflate every member with running caps; scan XML for DTDs, the sheet for formulas."""
    budget = [limits.max_uncompressed_bytes]
    for info in archive.infolist():
        name = info.filename
        if name.endswith("/"):
            continue
        pieces = _inflate(_raw_member(data, info), info, budget)
        if name == sheet_part:
            _scan_sheet(name, pieces)
        elif _is_xml_part(name):
            _scan_xml(name, pieces)
        else:
            for _ in pieces:
                pass


def _scan_xml(name: str, pieces: Iterator[bytes]) -> None:
    tail = b""
    first = True
    for piece in pieces:
        if first:
            _refuse_dtd(name, piece[:4], b"")
            first = False
        window = tail + piece
        _refuse_dtd(name, b"", window)
        tail = window[-32:]


def _scan_sheet(name: str, pieces: Iterator[bytes]) -> None:
    pending = b""
    tail = b""
    first = True
    for piece in pieces:
        if first:
            _refuse_dtd(name, piece[:4], b"")
            first = False
        _refuse_dtd(name, b"", tail + piece)
        tail = piece[-32:]
        pending += piece
        cut = pending.rfind(b"row>")
        if cut < 0:
            continue
        cut += 4
        _refuse_uncached_formulas(pending[:cut])
        pending = pending[cut:]
    _refuse_uncached_formulas(pending)


def _refuse_uncached_formulas(segment: bytes) -> None:
    if not _HAS_FORMULA.search(segment):
        return
    for cell in _CELL.finditer(segment):
        inner = cell.group(3)
        if not inner or not _HAS_FORMULA.search(inner):
            continue
        cached = _CACHED.search(inner)
        type_match = _ATTR_T.search(cell.group(2))
        is_text = type_match is not None and type_match.group(1) == b"str"
        if cached is not None and (cached.group(1) or is_text):
            continue
        ref_match = _ATTR_R.search(cell.group(2))
        ref = ref_match.group(1).decode("ascii") if ref_match else "unknown"
        raise UnreadableWorkbookError(
            f"Cell {ref} holds a formula whose result was never calculated (the file was not "
            "saved by Excel). Open the workbook in Excel, replace formulas by their values, "
            "save it and upload it again."
        )


# --- cells --------------------------------------------------------------------------------


def _read_cells(
    data: bytes, sheet_name: str, *, fallback: bool, sheet_names: list[str], limits: ReadLimits
) -> ParsedWorkbook:
    def missing_sheet() -> UnreadableWorkbookError:
        found = ", ".join(repr(n) for n in sheet_names)
        return UnreadableWorkbookError(
            f"The workbook has no sheet named {SHEET_NAME!r} (sheets found: {found}). Fill in "
            "the template's sheet, or rename your sheet to that name."
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
            f"{len(COLUMNS)}. Delete the stray cells to the right of the data."
        )

    rows = sheet.iter_rows()
    head: list[list[Any]] = []
    for row in rows:
        head.append(row)
        if len(head) == _HEADING_SCAN_ROWS:
            break
    best_index, best_score = -1, 0
    for index, row in enumerate(head):
        score = len({c.field for c in map(match_heading, row) if c is not None})
        if score > best_score:
            best_index, best_score = index, score
    if best_score < _MIN_HEADING_MATCHES:
        if fallback:
            raise missing_sheet()
        raise UnreadableWorkbookError(
            f"No heading row was found in the first {_HEADING_SCAN_ROWS} rows of the sheet "
            f"{sheet_name!r}. Keep the template's heading row (Submission Type, Manufacturer "
            "Name, …) above the data."
        )
    heading_row = best_index + 1
    mapping, headings, issues = _map_headings(head[best_index], heading_row, first_col)

    parsed_rows: list[RawRow] = []

    def take(excel_row: int, row: list[Any]) -> None:
        values: dict[str, Any] = {}
        blank = True
        size = len(row)
        for index, name in mapping:
            value = row[index] if index < size else None
            if type(value) is str and not value.strip():
                value = None
            elif value is not None:
                blank = False
            values[name] = value
        if blank:
            return
        if len(parsed_rows) >= limits.max_rows:
            raise UploadTooLargeError(
                f"The workbook has more than {limits.max_rows:,} data rows; split the rows over "
                "several uploads."
            )
        parsed_rows.append(RawRow(excel_row=excel_row, values=values))

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


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _map_headings(
    row: list[Any], heading_row: int, first_col: int
) -> tuple[list[tuple[int, str]], dict[str, str], list[Issue]]:
    mapping: list[tuple[int, str]] = []
    headings: dict[str, str] = {}
    issues: list[Issue] = []
    for index, cell in enumerate(row):
        column = match_heading(cell)
        if column is None:
            if cell not in ("", None) and str(cell).strip():
                shown = _shorten(str(cell))
                issues.append(
                    Issue(
                        heading_row,
                        shown,
                        "ignored-column",
                        f"The column {shown!r} (column {_column_letter(first_col + index)}) is "
                        "not a column of the CPL workbook and was ignored.",
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
                    f"{_column_letter(first_col + index)}); keep one column of each heading.",
                )
            )
            continue
        headings[column.field] = str(cell).strip()
        mapping.append((index, column.field))
    for column in COLUMNS:
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
