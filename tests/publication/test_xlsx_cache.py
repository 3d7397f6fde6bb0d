"""The cached public workbook follows every change of the list."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from tests.conftest import MakeParty, auth
from tests.factories import make_entry
from tests.workbooks import cell_text


def statuses(client: TestClient) -> dict[str, str]:
    response = client.get("/api/v1/cpl.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True)["CPL"]
    rows = list(sheet.iter_rows(values_only=True))
    headings = list(rows[0])
    id_at, status_at = headings.index("CPL Entry ID"), headings.index("Status")
    return {cell_text(row[id_at]): cell_text(row[status_at]) for row in rows[1:]}


def test_workbook_is_rebuilt_when_the_list_changes(
    client: TestClient, session: Session, make_party: MakeParty
) -> None:
    _, secas = make_party("secas")
    first = make_entry(session, status="active")
    pending = make_entry(session)
    assert statuses(client) == {first.entry_id: "Active"}
    assert statuses(client) == {first.entry_id: "Active"}  # served from the cache
    client.post(f"/api/v1/entries/{pending.entry_id}/approve", headers=auth(secas))
    assert statuses(client) == {first.entry_id: "Active", pending.entry_id: "Active"}
    client.post(
        f"/api/v1/entries/{first.entry_id}/removal",
        json={"status": "cancelled", "panel_decision_ref": "SECP_9"},
        headers=auth(secas),
    )
    assert statuses(client)[first.entry_id] == "Cancelled"
