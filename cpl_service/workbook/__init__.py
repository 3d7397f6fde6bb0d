"""The submission workbook: template writer, safe reader, the rules of SPEC §3, the report.

No HTTP and no database session here: the service passes in what the rules need.
"""

from cpl_service.workbook.checks import (
    CheckContext,
    PreviousEntry,
    check_rows,
    check_workbook,
    referenced_entry_ids,
)
from cpl_service.workbook.headings import COLUMNS, SHEET_NAME, Column
from cpl_service.workbook.reader import ParsedWorkbook, RawRow, ReadLimits, read_workbook
from cpl_service.workbook.report import CheckReport, Issue
from cpl_service.workbook.specifications import SpecificationInfo
from cpl_service.workbook.template import build_template

__all__ = [
    "COLUMNS",
    "SHEET_NAME",
    "CheckContext",
    "CheckReport",
    "Column",
    "Issue",
    "ParsedWorkbook",
    "PreviousEntry",
    "RawRow",
    "ReadLimits",
    "SpecificationInfo",
    "build_template",
    "check_rows",
    "check_workbook",
    "read_workbook",
    "referenced_entry_ids",
]
