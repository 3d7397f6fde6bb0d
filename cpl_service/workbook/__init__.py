"""Workbooks: the submission template writer, the safe reader, the rules of SPEC §3 (one
rule set for uploads and `import-cpl`), the report.

No HTTP and no database session here: the service passes in what the rules need.
"""

from cpl_service.workbook.checks import check_rows, check_workbook, referenced_entry_ids
from cpl_service.workbook.context import (
    IMPORT,
    UPLOAD,
    CheckContext,
    CpaOnRecord,
    PreviousEntry,
    RowSource,
)
from cpl_service.workbook.headings import COLUMNS, CPL_LAYOUT, SHEET_NAME, SUBMISSION_LAYOUT, Column
from cpl_service.workbook.reader import ParsedWorkbook, RawRow, ReadLimits, read_workbook
from cpl_service.workbook.report import CheckReport, Issue
from cpl_service.workbook.specifications import SpecificationInfo
from cpl_service.workbook.template import build_template

__all__ = [
    "COLUMNS",
    "CPL_LAYOUT",
    "IMPORT",
    "SHEET_NAME",
    "SUBMISSION_LAYOUT",
    "UPLOAD",
    "CheckContext",
    "CheckReport",
    "Column",
    "CpaOnRecord",
    "Issue",
    "ParsedWorkbook",
    "PreviousEntry",
    "RawRow",
    "ReadLimits",
    "RowSource",
    "SpecificationInfo",
    "build_template",
    "check_rows",
    "check_workbook",
    "read_workbook",
    "referenced_entry_ids",
]
