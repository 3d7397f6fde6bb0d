"""The fix for each issue code, and the order a report is read in."""

from __future__ import annotations

import ast
import inspect
from typing import Any

from cpl_service.workbook import checks, reader
from cpl_service.workbook.fixes import (
    FIXES,
    GENERIC_FIX,
    CodeFix,
    fix_for,
    fixes_for,
    in_sheet_order,
)
from tests.workbook.conftest import build_xlsx, check_xlsx, valid_row_dict

# Where the code is among the arguments of each call that reports an issue.
_CODE_ARGUMENT = {
    "_error": 1,
    "_warning": 1,
    "_issue": 1,
    "Issue": 2,
    "_parsed": 2,
    "report": 1,  # the helper that reports a CPA certificate's conflicting details
}


def _constants(node: ast.AST | None) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _constants(node.body) | _constants(node.orelse)
    return set()


def _reported_codes(module: object) -> set[str]:
    """Every issue code `module` can report, read from its source.

    A code is a string constant (or a conditional choice of two) given as the code argument
    of a reporting call, or assigned to the variable passed there.
    """
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    codes: set[str] = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef):
            continue
        assigned: dict[str, set[str]] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, set()).update(_constants(node.value))
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in _CODE_ARGUMENT:
                continue
            position = _CODE_ARGUMENT[name]
            argument = next((k.value for k in node.keywords if k.arg == "code"), None)
            if argument is None and len(node.args) > position:
                argument = node.args[position]
            codes |= _constants(argument)
            if isinstance(argument, ast.Name):
                codes |= assigned.get(argument.id, set())
    return codes


def test_every_code_the_checks_and_the_reader_report_has_its_own_fix() -> None:
    codes = _reported_codes(checks) | _reported_codes(reader)
    assert len(codes) > 40  # the scan finds them: a broken scan would find few
    assert {"invalid-hex", "conditional-after-renewal", "cpa-renewal-required"} <= codes
    assert {"missing-column", "duplicate-column", "ignored-column"} <= codes
    missing = sorted(codes - FIXES.keys())
    assert not missing, f"codes without a fix in workbook/fixes.py: {missing}"
    stale = sorted(FIXES.keys() - codes)
    assert not stale, f"fixes for codes nothing reports: {stale}"


def test_each_fix_is_one_short_sentence() -> None:
    for code, fix in FIXES.items():
        assert fix.endswith("."), code
        assert 10 < len(fix) <= 200, code
        assert fix != GENERIC_FIX


def test_an_unknown_code_gets_the_general_advice() -> None:
    assert fix_for("invalid-hex") == FIXES["invalid-hex"]
    assert fix_for("no-such-code") == GENERIC_FIX


def test_a_real_report_gets_a_specific_fix_for_every_issue() -> None:
    rows = [
        valid_row_dict(),
        {**valid_row_dict(), "Manufacturer ID": "XYZ", "Contact Email": "nobody"},
        {**valid_row_dict(), "Physical Device Type": "IHD", "Firmware Version": "00000002"},
    ]
    report = check_xlsx(build_xlsx(rows))
    assert report.errors
    for issue in report.issues:
        assert fix_for(issue.code) != GENERIC_FIX, issue.code


def _issue(row: int, column: str, code: str = "x", severity: str = "error") -> dict[str, Any]:
    return {"row": row, "column": column, "code": code, "message": "m", "severity": severity}


def test_sheet_order_is_by_row_then_by_the_templates_columns() -> None:
    issues = [
        _issue(4, "Manufacturer ID"),
        _issue(3, "Contact Email"),
        _issue(3, "Firmware Version", "b"),
        _issue(3, "Submission Type"),
        _issue(1, "My notes", "ignored-column"),
        _issue(3, "Firmware Version", "a"),
        _issue(1, "Model ID", "missing-column"),
        _issue(3, "Status"),  # a published CPL's own column comes after the template's
    ]
    ordered = [(i["row"], i["column"], i["code"]) for i in in_sheet_order(issues)]
    assert ordered == [
        (1, "Model ID", "missing-column"),
        (1, "My notes", "ignored-column"),  # not a heading of the CPL: last in its row
        (3, "Submission Type", "x"),
        (3, "Firmware Version", "b"),  # two issues of one cell keep their order
        (3, "Firmware Version", "a"),
        (3, "Contact Email", "x"),
        (3, "Status", "x"),
        (4, "Manufacturer ID", "x"),
    ]


def test_fixes_for_counts_each_code_once_errors_first() -> None:
    issues = [
        _issue(2, "Model ID", "invalid-hex"),
        _issue(2, "Technical Specification", "specification-ended", "warning"),
        _issue(3, "Model ID", "invalid-hex"),
        _issue(3, "Contact Email", "invalid-email"),
        _issue(4, "Technical Specification", "specification-ended", "warning"),
        _issue(5, "Technical Specification", "specification-ended", "warning"),
    ]
    assert fixes_for(issues) == [
        CodeFix("invalid-hex", 2, FIXES["invalid-hex"], "error"),
        CodeFix("invalid-email", 1, FIXES["invalid-email"], "error"),
        CodeFix("specification-ended", 3, FIXES["specification-ended"], "warning"),
    ]
    assert fixes_for([]) == []
