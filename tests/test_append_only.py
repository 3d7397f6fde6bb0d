"""The database itself refuses to rewrite history or published extracts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from tests.conftest import MakeParty, auth
from tests.factories import make_entry


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE entry_event SET reason = 'rewritten'",
        "DELETE FROM entry_event",
    ],
)
def test_entry_history_cannot_be_edited_or_deleted(
    engine: Engine, session: Session, statement: str
) -> None:
    make_entry(session)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE extract SET payload = X'00'",
        "UPDATE extract SET sha256 = 'x'",
        "UPDATE extract SET signature = X'00'",
        "DELETE FROM extract",
    ],
)
def test_published_extracts_cannot_change(
    client: TestClient, engine: Engine, make_party: MakeParty, statement: str
) -> None:
    _, secas = make_party("secas")
    assert client.post("/api/v1/extracts", headers=auth(secas)).status_code == 201
    if engine.dialect.name == "postgresql":
        statement = statement.replace("X'00'", "'\\x00'::bytea")
    with (
        pytest.raises(sa.exc.DatabaseError, match=r"never change|kept forever"),
        engine.begin() as conn,
    ):
        conn.execute(sa.text(statement))


def test_dcc_status_may_still_be_recorded(
    client: TestClient, engine: Engine, make_party: MakeParty
) -> None:
    _, secas = make_party("secas")
    _, dcc = make_party("dcc")
    client.post("/api/v1/extracts", headers=auth(secas))
    response = client.post(
        "/api/v1/extracts/1/acknowledgement", json={"status": "loaded"}, headers=auth(dcc)
    )
    assert response.status_code == 200


def test_stored_gzip_body_cannot_change(
    client: TestClient, engine: Engine, make_party: MakeParty
) -> None:
    _, secas = make_party("secas")
    assert client.post("/api/v1/extracts", headers=auth(secas)).status_code == 201
    statement = "UPDATE extract SET payload_gzip = X'00'"
    if engine.dialect.name == "postgresql":
        statement = statement.replace("X'00'", "'\\x00'::bytea")
    with pytest.raises(sa.exc.DatabaseError, match="never change"), engine.begin() as conn:
        conn.execute(sa.text(statement))
