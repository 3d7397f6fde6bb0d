"""The `cpl-service import-cpl` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cpl_service.config import Settings
from cpl_service.errors import WorkbookRejectedError

_MAX_PRINTED_ISSUES = 200


def _print_issues(issues: list[dict[str, Any]]) -> None:
    for issue in issues[:_MAX_PRINTED_ISSUES]:
        print(
            f"  row {issue['row']}, {issue['column']}: {issue['message']} [{issue['code']}]",
            file=sys.stderr,
        )
    if len(issues) > _MAX_PRINTED_ISSUES:
        print(f"  … and {len(issues) - _MAX_PRINTED_ISSUES} more", file=sys.stderr)


def _import_cpl(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: `cpl-service` registers every command at each start but runs one; the
    # importer's modules (the workbook reader and rules, the database) load when it runs.
    from sqlmodel import Session

    from cpl_service.db import make_engine, upgrade
    from cpl_service.extracts.rows import STATUS_WORDS
    from cpl_service.publication.importer import import_cpl

    engine = make_engine(settings)
    try:
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            try:
                result = import_cpl(
                    session=session,
                    path=Path(args.file),
                    panel_decision_ref=args.panel_decision_ref,
                    fallback_email=settings.secas_email,
                )
            except WorkbookRejectedError as exc:
                print(f"error: {exc.detail}", file=sys.stderr)
                _print_issues(exc.issues)
                return 1
    finally:
        engine.dispose()
    counts = ", ".join(
        f"{result.by_status.get(internal, 0)} {word}" for internal, word in STATUS_WORDS.items()
    )
    print(f"imported {result.entries} entries from {args.file} ({counts})")
    print(f"added {result.certificates_added} certificate(s) to the register")
    print(f"history records Panel decision {args.panel_decision_ref}")
    if result.warnings:
        print(f"warning: {len(result.warnings)} row warning(s), imported anyway:", file=sys.stderr)
        _print_issues(result.warnings)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `import-cpl FILE.xlsx --panel-decision-ref REF` to the `cpl-service` parser."""
    command = sub.add_parser(
        "import-cpl",
        help="load a CPL workbook (the layout of /api/v1/cpl.xlsx); all rows or none",
    )
    command.add_argument("file", help="the .xlsx workbook, with a sheet named CPL")
    command.add_argument(
        "--panel-decision-ref",
        required=True,
        help="the Panel decision authorising the import, e.g. SECP_81_1906_12",
    )
    command.set_defaults(handler=_import_cpl)
