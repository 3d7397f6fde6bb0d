"""What the template checks while a cell is typed: one data validation per column.

Every check here restates a rule of `checks` (SPEC §3) as a spreadsheet formula, so Excel and
LibreOffice refuse a value the service would refuse before it is ever uploaded; the service
still checks every row and stays the authority (rules that need the register, other rows or
the CPL, and whether a column is required, are checked only there). Each column's input prompt
and error alert are its `description` in `headings`: the same sentence the Instructions sheet
shows, stated once.

A formula is written for the first data row (row 2) and is relative, as a data validation's
formula is; `CellRule.formula_at` writes it for any other row. A cell of spaces passes, as the
server reads it as empty. The CPA date checks read the row's CPA Certificate Number and Type
as the server does, except that a Type the server does not know (warned about by its
drop-down, refused by the server) is taken as Fixed-term. A check runs when its own cell is
typed in, not when a cell it reads changes.

`tests/workbook/test_validations.py` has LibreOffice compute every check on a table of
good and bad values and compares the results with the server's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from cpl_service.certificates.cpa import CpaCertificateType
from cpl_service.workbook.checks import HEX_LENGTHS, declared_max_lengths
from cpl_service.workbook.headings import COLUMNS, Column

FIRST_ROW = 2
# Excel's limits on what a data validation may hold.
MAX_TITLE = 32
MAX_MESSAGE = 255
MAX_FORMULA = 255

# The drop-downs whose values the service also reads in other spellings (`3.2` for
# `GBCS v3.2`, `Comms Hub` for `CH`, `fixed term`): a value off the list is warned about
# (the typist may keep it) rather than refused, so the sheet never refuses what the server
# accepts.
FORGIVING_LISTS = frozenset(
    {"physical_device_type", "technical_specification", "gbcs_version", "cpa_certificate_type"}
)

# Columns with a prompt only. A Previous CPL Entry ID is read only for a Firmware Update (on
# a New Device Model row it is ignored, whatever it holds), which one cell's check cannot know.
PROMPT_ONLY = frozenset({"previous_entry_id"})

Kind = Literal["list", "custom", "textLength", "any"]
Style = Literal["stop", "warning"]

_LIFETIME = CpaCertificateType.LIFETIME.value


def _is_date(cell: str) -> str:
    """True for what `cells.cell_date` reads: a date (serial) or text written YYYY-MM-DD."""
    return (
        f"IF(ISNUMBER({cell}),{cell}>=1,"
        f'AND(LEN({cell})=10,MID({cell},5,1)&MID({cell},8,1)="--",ISNUMBER(DATEVALUE({cell}))))'
    )


def _day(cell: str) -> str:
    """The day a cell that `_is_date` accepts holds, as a serial (text dates are converted
    the way both programs convert YYYY-MM-DD text in arithmetic)."""
    return f"INT({cell}+0)"


def _hex(lengths: tuple[int, ...]) -> str:
    """Exactly one of `lengths` hexadecimal digits, either case, spaces around ignored."""
    text = "TRIM({x})"
    checks = [f"LEN({text})={n}" for n in lengths]
    length = checks[0] if len(checks) == 1 else "OR(" + ",".join(checks) + ")"
    return (
        f"AND({length},SUMPRODUCT(--ISERROR(FIND(MID(UPPER({text}),"
        f'ROW(INDIRECT("1:"&LEN({text}))),1),"0123456789ABCDEF")))=0)'
    )


# An address without spaces, with one @ that does not start it, and a dot inside the part
# after it: the shape every address `email_validator` accepts has (it refuses more).
_EMAIL = (
    'AND(LEN(TRIM({x}))<=254,ISERROR(FIND(" ",TRIM({x}))),'
    'LEN({x})-LEN(SUBSTITUTE({x},"@",""))=1,LEFT(TRIM({x}),1)<>"@",'
    'ISNUMBER(FIND(".",TRIM({x}),FIND("@",TRIM({x}))+2)),RIGHT(TRIM({x}),1)<>".")'
)
_NO_CPA_NUMBER = 'TRIM({cpa_certificate_number})=""'
# Lifetime, spelt as `checks.parse_cpa_certificate_type` reads it (case, spaces and hyphens
# ignored); any other type is judged as Fixed-term (the drop-down warns about unknown ones,
# the server refuses them).
_LIFETIME_TYPE = f'SUBSTITUTE(SUBSTITUTE({{cpa_certificate_type}}," ",""),"-","")="{_LIFETIME}"'
# A CPA certificate's own date (expiry for Fixed-term, renewal for Lifetime) is after today;
# the other one is refused; without a CPA Certificate Number the dates are only ignored.
_EXPIRY = (
    f"AND({_is_date('{x}')},OR({_NO_CPA_NUMBER},AND(NOT({_LIFETIME_TYPE}),{_day('{x}')}>TODAY())))"
)
_RENEWAL = (
    f"AND({_is_date('{x}')},OR({_NO_CPA_NUMBER},AND({_LIFETIME_TYPE},{_day('{x}')}>TODAY())))"
)
# Not after the date the certificate of its type ends on, when that date is given: an empty
# cell's `&""` is empty text, whose `+0` is an error, as is a cell that holds no date.
_END = f'(IF({_LIFETIME_TYPE},{{cpa_renewal_date}},{{cpa_expiry_date}})&"")+0'
_CONDITIONAL = f"AND({_is_date('{x}')},OR({_NO_CPA_NUMBER},IFERROR({_day('{x}')}<={_END},TRUE)))"


def _unless_blank(formula: str) -> str:
    """The formula, for a cell that holds more than spaces: the server reads a cell of spaces
    as an empty one. IF evaluates only the branch it takes (the formula would end in an error
    on spaces)."""
    return f'IF(TRIM({{x}})="",TRUE,{formula})'


LETTER: dict[str, str] = {c.field: get_column_letter(i) for i, c in enumerate(COLUMNS, start=1)}


@dataclass(frozen=True)
class CellRule:
    """The data validation of one column of the `CPL - New Entry` sheet.

    Attributes:
        column: the column it checks.
        kind: `list` (a drop-down), `custom` (a formula), `textLength` (at most `formula`
            characters) or `any` (a prompt only: `PROMPT_ONLY`, or an empty drop-down list).
        formula: the list's range, the longest length, or the formula, with `{x}` for the
            cell itself and `{field}` for another cell of the same row.
        style: `stop` refuses the value; `warning` lets the typist keep it.
    """

    column: Column
    kind: Kind
    formula: str
    style: Style = "stop"

    def formula_at(self, row: int) -> str:
        """The formula (or range, or length) with its references written for `row`."""
        refs = {field: f"{letter}{row}" for field, letter in LETTER.items()}
        return self.formula.format(x=refs[self.column.field], **refs)

    def accepts_formula(self, row: int) -> str:
        """A cell formula that is TRUE exactly when this validation accepts the value in
        `row` (a filled cell); what the tests have LibreOffice compute."""
        cell = f"{LETTER[self.column.field]}{row}"
        if self.kind == "list":
            return f"SUMPRODUCT(--({self.formula}={cell}))>0"
        if self.kind == "textLength":
            return f"LEN({cell})<={self.formula}"
        if self.kind == "custom":
            return self.formula_at(row)
        return "TRUE"

    @property
    def error(self) -> str:
        """The error alert's text: the column's rule, with the length limit if checked."""
        if self.kind == "textLength":
            return f"At most {self.formula} characters. {self.column.description}"
        return self.column.description

    def data_validation(self, last_row: int) -> DataValidation:
        """The validation over rows 2 to `last_row` of the column."""
        letter = LETTER[self.column.field]
        validation = DataValidation(
            type=None if self.kind == "any" else self.kind,
            allow_blank=True,
            showInputMessage=True,
            promptTitle=self.column.heading,
            prompt=self.column.description,
            showErrorMessage=self.kind != "any",
            errorStyle=self.style,
            errorTitle=self.column.heading,
            error=self.error,
        )
        if self.kind == "list":
            validation.formula1 = self.formula
        elif self.kind == "textLength":
            validation.formula1 = self.formula
            validation.operator = "lessThanOrEqual"
        elif self.kind == "custom":
            validation.formula1 = self.formula_at(FIRST_ROW)
        validation.add(f"{letter}{FIRST_ROW}:{letter}{last_row}")
        return validation


def cell_rules(lists: Mapping[str, str | None]) -> tuple[CellRule, ...]:
    """The validation of every column, in template order.

    Args:
        lists: for each drop-down column (`kind` choice), the absolute range of its values
            on the Lists sheet, or None when the list is empty.

    Returns:
        One rule per column of `COLUMNS`.
    """
    limits = declared_max_lengths()
    formulas = {
        "cpa_expiry_date": _EXPIRY,
        "cpa_renewal_date": _RENEWAL,
        "cpa_conditional_date": _CONDITIONAL,
        "contact_email": _EMAIL,
        **{field: _hex(lengths) for field, lengths in HEX_LENGTHS.items()},
    }
    rules: list[CellRule] = []
    for column in COLUMNS:
        field = column.field
        if field in PROMPT_ONLY:
            rules.append(CellRule(column, "any", ""))
        elif column.kind == "choice":
            source = lists[field]
            if source is None:
                rules.append(CellRule(column, "any", ""))
            else:
                style: Style = "warning" if field in FORGIVING_LISTS else "stop"
                rules.append(CellRule(column, "list", source, style))
        elif field in formulas:
            rules.append(CellRule(column, "custom", _unless_blank(formulas[field])))
        else:
            rules.append(CellRule(column, "textLength", str(limits[field])))
    return tuple(rules)
