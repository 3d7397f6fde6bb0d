"""Everything about an .xlsx/.xlsm file that could hurt the server, checked before any parser
reads its cells.

The file's size and container type come first; then the zip's declared sizes and
compression ratios; then every part is inflated by `zipfile` (which stops at the size a
part declares and checks its CRC) and scanned for XML document-type or entity declarations,
and the sheet to be read for formulas without cached values.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from posixpath import join, normpath
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from cpl_service.errors import UnreadableWorkbookError, UnsupportedFileError, UploadTooLargeError
from cpl_service.workbook.headings import heading_key

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
_CHUNK = 1 * MiB

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_HAS_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
# Where a formula element can end: an `f` and what follows it. Searching for it is some six
# times faster than for `_HAS_FORMULA` (it starts with a literal), and it is rare in a sheet.
_FORMULA_NAME = re.compile(rb"f[\s>/]")
_CELL = re.compile(rb"<((?:\w+:)?)c\b([^>]*?)(?:/>|>(.*?)</\1c>)", re.DOTALL)
_CACHED = re.compile(rb"<(?:\w+:)?v\s*>(.*?)</(?:\w+:)?v\s*>", re.DOTALL)
_ATTR_R = re.compile(rb'\br\s*=\s*["\']([A-Za-z]{1,3}\d{1,7})["\']')
_ATTR_T = re.compile(rb'\bt\s*=\s*["\'](\w+)["\']')

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


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


def inspect_workbook(
    data: bytes, *, sheet_name: str, max_bytes: int, max_uncompressed_bytes: int
) -> InspectedWorkbook:
    """Every safety check of an .xlsx/.xlsm file, before any parser sees its content.

    Checks the size and the container (not a workbook, old or encrypted format), then the
    declared sizes and compression ratios, inflates every part (its actual size and CRC
    must match what it declares), refuses XML entity declarations, and refuses formulas
    without cached values on the sheet named `sheet_name` (matched like a heading; the
    first sheet if absent).

    Args:
        data: the file's bytes.
        sheet_name: the sheet whose cells will be read.
        max_bytes: the largest file accepted.
        max_uncompressed_bytes: the most content all parts together may expand to.

    Returns:
        The sheet names, the sheet checked, and whether `sheet_name` was found.

    Raises:
        UploadTooLargeError: the file is larger than `max_bytes`.
        UnsupportedFileError: the file is not an .xlsx/.xlsm workbook (PDF, text, .xls,
            .xlsb, some other zip).
        UnreadableWorkbookError: the file cannot be read safely: corrupt, encrypted, a zip
            bomb, XML entity declarations, formulas without cached values, no sheets.
    """
    _check_container(data, max_bytes)
    archive = _open_zip(data)
    _check_declared(archive, max_uncompressed_bytes)
    sheet_names, sheet_parts = _sheets(archive, sheet_name)
    wanted = _pick_sheet(sheet_names, sheet_name)
    target = wanted if wanted is not None else sheet_names[0]
    sheet_part = sheet_parts.get(target)
    if sheet_part is None or sheet_part not in archive.NameToInfo:
        raise UnreadableWorkbookError(
            f"The workbook's sheet {target!r} is missing from the file; the file is damaged."
        )
    _inspect_members(archive, sheet_part=sheet_part)
    return InspectedWorkbook(sheet_names=sheet_names, sheet=target, found=wanted is not None)


# --- the container ------------------------------------------------------------------------


def _check_container(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise UploadTooLargeError(
            f"The workbook is {len(data) / MiB:.1f} MB; the largest accepted is "
            f"{max_bytes / MiB:.0f} MB. Split the rows over several uploads."
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


# --- sizes: declared, then actual ---------------------------------------------------------


def _bomb(detail: str) -> UnreadableWorkbookError:
    return UnreadableWorkbookError(
        f"The workbook was refused as unsafe: {detail} Save it again from Excel; a genuine "
        "submission workbook is far smaller."
    )


def _check_declared(archive: zipfile.ZipFile, max_uncompressed_bytes: int) -> None:
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
        if total > max_uncompressed_bytes:
            raise _bomb(
                f"its content would expand to more than {max_uncompressed_bytes / MiB:.0f} MB."
            )
        if info.file_size > _RATIO_FLOOR and info.file_size > _MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise _bomb(f"the part {info.filename!r} is compressed more than {_MAX_RATIO}:1.")


def _pieces(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A part's content in chunks, inflated and CRC-checked by `zipfile`.

    `zipfile` never inflates more than a part declares, so the declared sizes checked above
    bound the work. It is allowed one byte more than declared: a part whose content goes on
    past its declared size (which the cell parser would otherwise inflate in full) either
    yields that byte or fails its CRC, and is refused either way.
    """
    probe = copy.copy(info)
    probe.file_size = info.file_size + 1
    total = 0
    try:
        with archive.open(probe) as member:
            while piece := member.read(_CHUNK):
                total += len(piece)
                if total > info.file_size:
                    raise _bomb(f"the part {info.filename!r} is larger than it declares.")
                yield piece
    except zipfile.BadZipFile as exc:
        raise UnreadableWorkbookError(
            f"The workbook is damaged or unsafe: the part {info.filename!r} is larger than it "
            "declares or does not match its checksum. Save it again from Excel."
        ) from exc
    except (zlib.error, EOFError, OSError) as exc:
        raise UnreadableWorkbookError(
            "The workbook is damaged (a part cannot be decompressed); save it again from Excel."
        ) from exc
    if total != info.file_size:
        raise UnreadableWorkbookError(
            f"The workbook is damaged (the part {info.filename!r} is shorter than it "
            "declares); save it again from Excel."
        )


# --- what the parts hold ------------------------------------------------------------------


def _is_xml_part(name: str) -> bool:
    return name.endswith((".xml", ".rels", ".vml")) or name == "[Content_Types].xml"


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    content = b"".join(_pieces(archive, archive.NameToInfo[name]))
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


def _sheets(archive: zipfile.ZipFile, sheet_name: str) -> tuple[list[str], dict[str, str]]:
    """Sheet names in workbook order, and each sheet's part name."""
    workbook = _parse_xml(_read_member(archive, "xl/workbook.xml"))
    rels_name = "xl/_rels/workbook.xml.rels"
    targets: dict[str, str] = {}
    if rels_name in archive.NameToInfo:
        rels = _parse_xml(_read_member(archive, rels_name))
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
            f"The workbook has no sheets; fill in the {sheet_name!r} sheet of the template."
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


def _inspect_members(archive: zipfile.ZipFile, *, sheet_part: str) -> None:
    """Inflate every part; scan XML for DTDs, the sheet to be read for formulas."""
    for info in archive.infolist():
        name = info.filename
        if name.endswith("/"):
            continue
        pieces = _pieces(archive, info)
        if name == sheet_part:
            _scan_sheet(name, pieces)
        elif _is_xml_part(name):
            _scan_xml(name, pieces)
        else:
            for _ in pieces:
                pass


def _scan_xml(name: str, pieces: Iterator[bytes]) -> None:
    for _ in _without_dtd(name, pieces):
        pass


def _without_dtd(name: str, pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces of an XML part, refused as soon as a DTD appears (even across two)."""
    tail = b""
    first = True
    for piece in pieces:
        if first:
            _refuse_dtd(name, piece[:4], b"")
            first = False
        window = tail + piece
        _refuse_dtd(name, b"", window)
        tail = window[-32:]
        yield piece


def _scan_sheet(name: str, pieces: Iterator[bytes]) -> None:
    pending = b""
    for piece in _without_dtd(name, pieces):
        pending += piece
        cut = pending.rfind(b"row>")
        if cut < 0:
            continue
        cut += 4
        _refuse_uncached_formulas(pending[:cut])
        pending = pending[cut:]
    _refuse_uncached_formulas(pending)


def _has_formula(text: bytes) -> bool:
    """Whether `_HAS_FORMULA` occurs in `text` (a formula element's start tag).

    Such a tag's `f` is followed by a space, `>` or `/`, and its `<` is the last one before
    that `f` (a prefix `x:` holds none): so each `f` found by the fast `_FORMULA_NAME` is
    tried as the end of a tag starting at the `<` before it.
    """
    for found in _FORMULA_NAME.finditer(text):
        start = text.rfind(b"<", 0, found.start())
        if start >= 0 and _HAS_FORMULA.match(text, start):
            return True
    return False


def _refuse_uncached_formulas(segment: bytes) -> None:
    if not _has_formula(segment):
        return
    for cell in _CELL.finditer(segment):
        inner = cell.group(3)
        if not inner or not _has_formula(inner):
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


__all__ = ["InspectedWorkbook", "MiB", "inspect_workbook"]
