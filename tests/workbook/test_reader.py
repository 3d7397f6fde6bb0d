"""The reader: layout handling, and one test per hostile file."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

import openpyxl
import pytest

from cpl_service.errors import UnreadableWorkbookError, UnsupportedFileError, UploadTooLargeError
from cpl_service.workbook import ReadLimits, read_workbook
from cpl_service.workbook.headings import CPL_LAYOUT

from .conftest import HEADINGS, build_xlsx, check_xlsx, codes, valid_row_dict

# --- layout -------------------------------------------------------------------------------


def test_heading_row_found_below_titles_and_blank_rows_skipped() -> None:
    rows = [valid_row_dict(), {}, {**valid_row_dict(), "Model ID": "4321"}]
    data = build_xlsx(rows, leading_rows=[["CPL submission"], []])
    parsed = read_workbook(data)
    assert parsed.heading_row == 3
    assert [r.excel_row for r in parsed.rows] == [4, 6]
    assert check_xlsx(data).errors == []


def test_headings_any_order_case_spaces_and_star() -> None:
    headings = [f"  {h.upper()} *" for h in reversed(HEADINGS)]
    rows = [
        {h: v for h, v in zip(headings, reversed(list(valid_row_dict().values())), strict=True)}
    ]
    parsed = read_workbook(build_xlsx(rows, headings=headings))
    assert parsed.rows[0].values["manufacturer_id"] == "AB01"
    assert parsed.headings["contact_email"] == "CONTACT EMAIL *"
    assert parsed.issues == []


def test_unknown_heading_is_ignored_with_a_warning() -> None:
    headings = [*HEADINGS, "Internal Notes"]
    report = check_xlsx(
        build_xlsx([{**valid_row_dict(), "Internal Notes": "x"}], headings=headings)
    )
    assert (1, "Internal Notes", "ignored-column") in codes(report)
    assert report.errors == [] and len(report.entries) == 1


def test_duplicate_heading_is_an_error() -> None:
    headings = [*HEADINGS, "Model ID"]
    report = check_xlsx(build_xlsx([valid_row_dict()], headings=headings))
    assert (1, "Model ID", "duplicate-column") in codes(report)


def test_cpl_layout_reads_a_published_cpl() -> None:
    data = build_xlsx(
        [{"CPL Entry ID": "CPL-000001", "Status": "Active"}],
        headings=["CPL Entry ID", "Status"],
        sheet_name="CPL",
    )
    parsed = read_workbook(data, layout=CPL_LAYOUT)
    assert parsed.sheet_name == "CPL"
    assert parsed.rows[0].values == {"entry_id": "CPL-000001", "status": "Active"}
    missing = {i.column for i in parsed.issues if i.code == "missing-column"}
    assert missing == {c.heading for c in CPL_LAYOUT.columns if c.required} - {
        "CPL Entry ID",
        "Status",
    }
    assert {"Submission Type", "Contact Email", "Manufacturer ID"} & missing == {"Manufacturer ID"}
    # Those headings are not a submission's: as an upload the sheet has no heading row.
    _raises(UnreadableWorkbookError, data, "CPL - New Entry")


def test_sheet_name_case_insensitive_and_fallback_to_first_sheet() -> None:
    data = build_xlsx([valid_row_dict()], sheet_name="cpl - NEW ENTRY")
    assert read_workbook(data).sheet_name == "cpl - NEW ENTRY"
    data = build_xlsx([valid_row_dict()], sheet_name="My entries")
    assert len(read_workbook(data).rows) == 1


# --- hostile files ------------------------------------------------------------------------


def _raises(error: type[Exception], data: bytes, *words: str, **limits: Any) -> str:
    with pytest.raises(error) as caught:
        read_workbook(data, limits=ReadLimits(**limits))
    detail = caught.value.detail  # type: ignore[attr-defined]
    assert detail.endswith(".") and len(detail) < 400
    for word in words:
        assert word.lower() in detail.lower(), detail
    return detail


def _rezip(data: bytes, changes: dict[str, bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, changes.get(info.filename, source.read(info)))
        for name, content in changes.items():
            if name not in source.NameToInfo:
                target.writestr(name, content)
    return out.getvalue()


def _patch_sizes(data: bytes, name: str, *, uncompressed: int) -> bytes:
    """Rewrite the uncompressed size a member declares, in both of its headers."""
    patched = bytearray(data)
    encoded = name.encode()
    local = patched.find(b"PK\x03\x04" + bytes(22))  # placeholder, replaced below
    start = 0
    while True:
        local = patched.find(b"PK\x03\x04", start)
        assert local >= 0
        name_len = struct.unpack("<H", patched[local + 26 : local + 28])[0]
        if patched[local + 30 : local + 30 + name_len] == encoded:
            struct.pack_into("<I", patched, local + 22, uncompressed)
            break
        start = local + 4
    central = patched.find(b"PK\x01\x02" + bytes(0))
    while True:
        name_len = struct.unpack("<H", patched[central + 28 : central + 30])[0]
        if patched[central + 46 : central + 46 + name_len] == encoded:
            struct.pack_into("<I", patched, central + 24, uncompressed)
            return bytes(patched)
        central = patched.find(b"PK\x01\x02", central + 4)
        assert central >= 0


@pytest.fixture
def good_xlsx() -> bytes:
    return build_xlsx([valid_row_dict()])


def test_pdf_is_not_a_workbook() -> None:
    _raises(UnsupportedFileError, b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "PDF", ".xlsx")


def test_text_is_not_a_workbook() -> None:
    _raises(UnsupportedFileError, b"Submission Type,Manufacturer Name\n", "not an Excel workbook")


def test_empty_file() -> None:
    _raises(UnsupportedFileError, b"", "empty")


def test_other_zip_is_not_a_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    _raises(UnsupportedFileError, out.getvalue(), "not an Excel workbook")


def test_truncated_zip(good_xlsx: bytes) -> None:
    _raises(UnreadableWorkbookError, good_xlsx[: len(good_xlsx) // 2], "damaged")


def test_corrupted_member(good_xlsx: bytes) -> None:
    info = zipfile.ZipFile(io.BytesIO(good_xlsx)).NameToInfo["xl/worksheets/sheet1.xml"]
    broken = bytearray(good_xlsx)
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    broken[middle : middle + 8] = b"\xff" * 8
    _raises(UnreadableWorkbookError, bytes(broken), "damaged")


def test_encrypted_workbook_ole2() -> None:
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    data = header + "EncryptionInfo".encode("utf-16-le") + bytes(1000)
    _raises(UnreadableWorkbookError, data, "password", ".xlsx")


def test_old_xls_ole2() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000)
    _raises(UnsupportedFileError, data, ".xls", ".xlsx")


def test_zip_bomb_declared_size(good_xlsx: bytes) -> None:
    data = _patch_sizes(good_xlsx, "xl/styles.xml", uncompressed=300 * 1024 * 1024)
    _raises(UnreadableWorkbookError, data, "unsafe", "200 MB")


def test_zip_bomb_compression_ratio(good_xlsx: bytes) -> None:
    data = _rezip(good_xlsx, {"xl/media/padding.bin": bytes(50 * 1024 * 1024)})
    _raises(UnreadableWorkbookError, data, "unsafe", "compressed")


def test_member_larger_than_it_declares(good_xlsx: bytes) -> None:
    data = _patch_sizes(good_xlsx, "xl/worksheets/sheet1.xml", uncompressed=100)
    _raises(UnreadableWorkbookError, data, "larger than it declares")


def _declare(data: bytes, name: str, *, size: int, crc: int) -> bytes:
    """Rewrite the size and CRC a member declares, in both of its headers."""
    patched = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).NameToInfo[name]
    struct.pack_into("<I", patched, info.header_offset + 14, crc)
    struct.pack_into("<I", patched, info.header_offset + 22, size)
    central = patched.find(b"PK\x01\x02")
    while patched[central + 46 : central + 46 + len(name)] != name.encode():
        central = patched.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", patched, central + 16, crc)
    struct.pack_into("<I", patched, central + 24, size)
    return bytes(patched)


@pytest.mark.parametrize("crc_over", [0, 1], ids=["crc-of-declared-part", "crc-of-one-more-byte"])
def test_member_larger_than_it_declares_with_a_matching_checksum(
    good_xlsx: bytes, crc_over: int
) -> None:
    # The part's stream goes on past the size it declares, and its CRC is made to match
    # what it declares (or one byte more): stopping at the declared size is not enough.
    name = "xl/worksheets/sheet1.xml"
    content = zipfile.ZipFile(io.BytesIO(good_xlsx)).read(name)
    size = len(content) - 10
    data = _declare(good_xlsx, name, size=size, crc=zlib.crc32(content[: size + crc_over]))
    _raises(UnreadableWorkbookError, data, "larger than it declares")


def test_uncompressed_total_limit(good_xlsx: bytes) -> None:
    _raises(UnreadableWorkbookError, good_xlsx, "unsafe", max_uncompressed_bytes=2000)


@pytest.mark.parametrize(
    ("part", "declaration"),
    [
        ("xl/worksheets/sheet1.xml", b'<!DOCTYPE x [<!ENTITY a "aaaa">]>'),
        ("xl/workbook.xml", b"<!DOCTYPE workbook>"),
        ("xl/sharedStrings.xml", b'<!ENTITY xxe SYSTEM "file:///etc/passwd">'),
    ],
)
def test_xml_entity_declarations(good_xlsx: bytes, part: str, declaration: bytes) -> None:
    original = zipfile.ZipFile(io.BytesIO(good_xlsx))
    if part in original.NameToInfo:
        content = original.read(part)
    else:
        content = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
    head, _, rest = content.partition(b"?>")
    patched = head + b"?>" + declaration + rest if rest else declaration + content
    _raises(UnreadableWorkbookError, _rezip(good_xlsx, {part: patched}), "unsafe")


def test_missing_sheet_lists_the_sheets() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Summary"
    sheet.append(["Nothing", "to", "see"])
    book.create_sheet("Notes")
    buffer = io.BytesIO()
    book.save(buffer)
    detail = _raises(UnreadableWorkbookError, buffer.getvalue(), "CPL - New Entry")
    assert "'Summary'" in detail and "'Notes'" in detail


def test_no_heading_row() -> None:
    data = build_xlsx([], headings=["a", "b"], leading_rows=[["x"]] * 3)
    _raises(UnreadableWorkbookError, data, "heading row")


def test_no_data_rows() -> None:
    _raises(UnreadableWorkbookError, build_xlsx([{}, {}]), "no data rows")


def test_formula_without_cached_value() -> None:
    row = {**valid_row_dict(), "Model Name": '=CONCAT("A","B")'}
    _raises(UnreadableWorkbookError, build_xlsx([row], formulas=True), "Cell D2", "formula")


def test_formula_with_cached_value_is_read(good_xlsx: bytes) -> None:
    sheet = zipfile.ZipFile(io.BytesIO(good_xlsx)).read("xl/worksheets/sheet1.xml")
    cell = b'<c r="W2" t="str"><f>"x"&amp;"y"</f><v>xy</v></c></row>'
    patched = sheet.replace(b"</row>", cell, 2).replace(cell, b"</row>", 1)
    parsed = read_workbook(_rezip(good_xlsx, {"xl/worksheets/sheet1.xml": patched}))
    assert len(parsed.rows) == 1


def _many_rows(count: int) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("CPL - New Entry")
    sheet.append(HEADINGS)
    for n in range(count):
        sheet.append(["New Device Model", f"Maker {n}"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_too_many_rows() -> None:
    _raises(UploadTooLargeError, _many_rows(20_001), "20,000")


def test_row_limit_is_inclusive() -> None:
    assert len(read_workbook(_many_rows(20_000)).rows) == 20_000


def test_file_over_10_mb() -> None:
    _raises(UploadTooLargeError, b"PK\x03\x04" + bytes(10 * 1024 * 1024), "10 MB")


def test_byte_limit_applies_to_a_real_workbook(good_xlsx: bytes) -> None:
    _raises(UploadTooLargeError, good_xlsx, "MB", max_bytes=1024)


def test_five_thousand_distinct_rows_are_all_read_and_accepted() -> None:
    # Speed is measured by bench/ingest.py, not here: a timed test fails on a busy machine.
    rows = [
        {**valid_row_dict(), "Model ID": f"{n:08X}", "CPA Certificate Number": f"CPA-{n}"}
        for n in range(5_000)
    ]
    report = check_xlsx(build_xlsx(rows))
    assert report.errors == []
    assert len(report.entries) == 5_000
    assert {e["model_id"] for e in report.entries} == {f"{n:08X}" for n in range(5_000)}
