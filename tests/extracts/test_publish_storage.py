"""How `publish` reads and stores payloads: the previous payload read back exactly (in
binary form on PostgreSQL), and a new payload stored compressed with LZ4 where the
PostgreSQL server offers it."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from cpl_service.extracts.service import stored_payload
from tests.conftest import MakeParty, auth
from tests.factories import make_entry

API = "/api/v1"


def _publish(client: TestClient, token: str) -> dict[str, object]:
    response = client.post(f"{API}/extracts", headers=auth(token))
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_stored_payloads_are_the_signed_bytes_and_follow_each_other(
    client: TestClient, session: Session, engine: Engine, make_party: MakeParty
) -> None:
    secas = make_party("secas")[1]
    make_entry(session, status="active", release_notes='Zoë "quoted" \\ \x01 \u2028 😀')
    first = _publish(client, secas)
    make_entry(session, status="active")
    second = _publish(client, secas)
    assert second["change_count"] == 1
    with Session(engine) as reader:
        for published in (first, second):
            payload = stored_payload(reader, int(str(published["sequence"])))
            served = client.get(f"{API}/extracts/{published['sequence']}", headers=auth(secas))
            assert payload == served.content
            assert hashlib.sha256(payload).hexdigest() == published["sha256"]


def test_payloads_are_stored_with_lz4_where_postgresql_offers_it(
    client: TestClient, session: Session, engine: Engine, make_party: MakeParty
) -> None:
    # Enough entries for the payload to pass PostgreSQL's 2 kB compression threshold.
    for _ in range(10):
        make_entry(session, status="active")
    _publish(client, make_party("secas")[1])
    if engine.dialect.name != "postgresql":
        return  # SQLite stores the bytes as they are
    with engine.connect() as connection:
        offered = connection.execute(
            text(
                "SELECT count(*) FROM pg_settings"
                " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
            )
        ).scalar_one()
        if not offered:  # before PostgreSQL 14, or built without LZ4: stored as ever
            return
        method = connection.execute(
            text("SELECT pg_column_compression(payload) FROM extract WHERE sequence = 1")
        ).scalar_one()
    assert method == "lz4"
