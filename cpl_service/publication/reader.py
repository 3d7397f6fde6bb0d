"""Reading a CPL workbook in the layout of `/api/v1/cpl.xlsx`, for `import-cpl`.

The file goes through the same safe reader as an upload (`workbook.reader`, which checks the
raw zip before python-calamine reads any cell), with the larger limits of a whole CPL.
"""

from __future__ import annotations

from pathlib import Path

from cpl_service.errors import UnreadableWorkbookError, UploadTooLargeError
from cpl_service.publication.rows import restore
from cpl_service.workbook.headings import CPL_LAYOUT
from cpl_service.workbook.reader import ParsedWorkbook, ReadLimits, read_workbook
from cpl_service.workbook.zipsafety import MiB

# A whole CPL is larger than one submission: these caps leave room for 200,000 entries.
CPL_LIMITS = ReadLimits(max_bytes=100 * MiB, max_rows=200_000, max_uncompressed_bytes=1024 * MiB)


def read_cpl_workbook(path: Path, *, limits: ReadLimits = CPL_LIMITS) -> ParsedWorkbook:
    """Read the `CPL` sheet of a workbook, with text exactly as it was listed.

    The export protects text a spreadsheet would take for a formula with a leading `'`;
    that `'` is taken off again here.

    Args:
        path: the workbook.
        limits: the size caps; a whole CPL's when omitted.

    Returns:
        The parsed sheet, rows keyed by field name (see `workbook.headings.CPL_LAYOUT`).

    Raises:
        UploadTooLargeError, UnsupportedFileError, UnreadableWorkbookError: the file is not
            a safe CPL workbook (see `workbook.reader.read_workbook`).
    """
    if not path.is_file():
        raise UnreadableWorkbookError(f"{path} is not a file.")
    if path.stat().st_size > limits.max_bytes:
        raise UploadTooLargeError(f"{path.name} is larger than {limits.max_bytes // MiB} MB.")
    parsed = read_workbook(path.read_bytes(), limits=limits, layout=CPL_LAYOUT)
    # Only text starting with `'` can have been neutralised; a row without any is kept.
    for row in parsed.rows:
        values = row.values
        if any(type(v) is str and v[:1] == "'" for v in values.values()):
            for key, value in values.items():
                if isinstance(value, str):
                    values[key] = restore(value)
    return parsed
