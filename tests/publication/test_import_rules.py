"""`import-cpl` reads what the export writes, under its own issue codes, and reports the
warnings of the rows it imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from cpl_service.cli import main
from cpl_service.config import Settings, get_settings
from cpl_service.entries.models import Entry
from cpl_service.publication.importer import IMPORT_CODES, import_issue
from cpl_service.publication.rows import HEADINGS
from cpl_service.workbook import CPL_LAYOUT
from cpl_service.workbook.report import Issue
from tests.publication.test_import import REF, good_row, run_import, write_rows


def test_every_exported_heading_is_a_column_import_reads() -> None:
    assert [h for h in HEADINGS if CPL_LAYOUT.match(h) is None] == []
    read = {c.heading for c in CPL_LAYOUT.columns}
    # Contact Email is read when given, though the export never publishes it.
    assert read - set(HEADINGS) == {"Contact Email"}


@pytest.mark.parametrize(("key", "legacy"), IMPORT_CODES.items())
def test_import_reports_its_own_code(key: tuple[str, str], legacy: str) -> None:
    column, code = key
    reported = import_issue(Issue(7, column, code, "A message."))
    assert reported == {
        "row": 7,
        "column": column,
        "code": legacy,
        "message": "A message.",
        "severity": "error",
    }


def test_other_codes_are_the_uploads() -> None:
    assert import_issue(Issue(2, "Model ID", "invalid-hex", "m"))["code"] == "invalid-hex"
    # The same code under another column is not renamed.
    assert import_issue(Issue(2, "Model ID", "invalid-choice", "m"))["code"] == "invalid-choice"


def test_warnings_do_not_stop_an_import(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_rows(
        tmp_path / "old.xlsx", [good_row(**{"Technical Specification": "SMETS2 v2.0"})]
    )
    result = run_import(settings, path)
    assert result.entries == 1
    assert [(w["row"], w["column"], w["code"]) for w in result.warnings] == [
        (2, "Technical Specification", "specification-ended")
    ]
    with Session(engine) as session:
        assert session.exec(select(Entry.technical_specification)).one() == "SMETS2 v2.0"

    monkeypatch.setenv("CPL_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("CPL_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("CPL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        again = write_rows(
            tmp_path / "again.xlsx",
            [
                good_row(
                    "CPL-000011", **{"Technical Specification": "SMETS2 v2.0", "Model ID": "0002"}
                )
            ],
        )
        assert main(["import-cpl", str(again), "--panel-decision-ref", REF]) == 0
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "warning: 1 row warning(s)" in err
    assert "row 2, Technical Specification:" in err and "[specification-ended]" in err
