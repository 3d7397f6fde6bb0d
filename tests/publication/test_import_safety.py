"""import-cpl refuses hostile files with the same checks as uploads, and imports nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from cpl_service.entries.models import Entry
from cpl_service.errors import UnreadableWorkbookError
from cpl_service.publication.importer import import_cpl
from tests.factories import make_entry


def _rewrite(content: bytes, change: dict[str, bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, change.get(info.filename, source.read(info)))
        for name in set(change) - set(source.namelist()):
            target.writestr(name, change[name])
    return out.getvalue()


@pytest.fixture
def exported(client: TestClient, session: Session) -> bytes:
    make_entry(session, status="active")
    return client.get("/api/v1/cpl.xlsx").content


def test_entity_declarations_are_refused(exported: bytes, session: Session, tmp_path: Path) -> None:
    sheet = "xl/worksheets/sheet1.xml"
    original = zipfile.ZipFile(io.BytesIO(exported)).read(sheet)
    hostile = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>' + original
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(_rewrite(exported, {sheet: hostile}))
    before = session.exec(select(func.count()).select_from(Entry)).one()
    with pytest.raises(UnreadableWorkbookError):
        import_cpl(
            session=session,
            path=path,
            panel_decision_ref="SECP_1",
            fallback_email="secas@example.com",
        )
    assert session.exec(select(func.count()).select_from(Entry)).one() == before


def test_a_zip_bomb_is_refused(exported: bytes, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(_rewrite(exported, {"xl/media/filler.bin": b"\x00" * (60 * 1024 * 1024)}))
    with pytest.raises(UnreadableWorkbookError):
        import_cpl(
            session=session,
            path=path,
            panel_decision_ref="SECP_1",
            fallback_email="secas@example.com",
        )
