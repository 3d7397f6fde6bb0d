"""A database made by the schema before people and named tokens keeps its parties' tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cpl_service.config import Settings
from cpl_service.db import make_engine, upgrade
from cpl_service.main import create_app
from cpl_service.parties.tokens import hash_token
from tests.conftest import BACKENDS, PG_URL, auth


@pytest.fixture(params=BACKENDS)
def empty_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings on a database with no schema at all."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path)
        return
    assert PG_URL
    name = f"cpl_migrate_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield Settings(data_dir=tmp_path, database_url=url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_an_old_party_token_works_after_upgrade(empty_settings: Settings) -> None:
    token = "cpl_made-before-named-tokens"
    engine = make_engine(empty_settings)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO party (name, role, emails, token_hash, created_at) "
                "VALUES ('Old DCC', 'dcc', '[\"dcc@old.example\"]', :h, :at)"
            ),
            {"h": hash_token(token), "at": "2025-01-01 00:00:00+00:00"},
        )
    upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, created_by FROM api_token")).one()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("party")}
    engine.dispose()
    assert row.name == "initial token"
    assert "token_hash" not in columns  # the secret's hash lives only with the named token

    app = create_app(empty_settings)
    with TestClient(app) as client:
        assert client.get("/api/v1/extracts", headers=auth(token)).status_code == 200
        assert client.get("/api/v1/extracts", headers=auth(token + "x")).status_code == 401
        tokens = client.get("/api/v1/tokens", headers=auth(token))
        assert tokens.status_code == 403  # a DCC token manages no tokens
    app.state.engine.dispose()
