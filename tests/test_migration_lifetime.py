"""Migration 0007 on a database with history: certificates become Fixed-term, and the CPA
notices already queued or sent keep counting, under keys that name their end date."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel import Session

from cpl_service.config import Settings
from cpl_service.db import MIGRATIONS_DIR, make_engine, upgrade
from cpl_service.notices.service import queue_due_cpa_notices
from tests.conftest import BACKENDS, PG_URL


@pytest.fixture(params=BACKENDS)
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings on an empty database of the backend, with no migration applied yet."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path, secas_email="secas@secas.test")
        return
    assert PG_URL
    name = f"cpl_migration_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield Settings(data_dir=tmp_path, database_url=url, secas_email="secas@secas.test")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_rekeys_sent_cpa_notices_so_none_is_sent_again(blank: Settings) -> None:
    settings = blank
    engine = make_engine(settings)
    upgrade(engine, "0003")
    created = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO assurance_certificate (id, kind, number, cpa_expiry_date, "
                "cpa_conditional_date, status, created_at) VALUES "
                "(1, 'CPA', 'CPA-1', '2029-12-31', '2027-08-31', 'valid', :at), "
                "(2, 'ZigBee', 'ZIG-1', NULL, NULL, 'valid', :at)"
            ),
            {"at": created},
        )
        for key, kind in (
            ("cpa:1:12m:maker@example.com", "cpa_12m"),
            ("cpa:1:6m:maker@example.com", "cpa_6m"),
            ("extract:1:published:party:3", "extract_published"),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO notice (key, kind, recipients, subject, body_text, body_html, "
                    "status, attempts, created_at) VALUES "
                    "(:key, :kind, 'maker@example.com', 's', 't', 'h', 'sent', 1, :at)"
                ),
                {"key": key, "kind": kind, "at": created},
            )
    upgrade(engine, "0007")
    with engine.connect() as conn:
        keys = set(conn.execute(sa.text("SELECT key FROM notice")).scalars())
        rows = conn.execute(
            sa.text("SELECT number, cpa_certificate_type FROM assurance_certificate")
        ).all()
        types = {number: kind for number, kind in rows}
    assert keys == {
        "cpa:1:2027-08-31:12m:maker@example.com",
        "cpa:1:2027-08-31:6m:maker@example.com",
        "extract:1:published:party:3",
    }
    assert types == {"CPA-1": "Fixed-term", "ZIG-1": None}

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    with engine.connect() as conn:
        keys = set(conn.execute(sa.text("SELECT key FROM notice")).scalars())
        columns = {c["name"] for c in sa.inspect(conn).get_columns("assurance_certificate")}
    assert "cpa:1:6m:maker@example.com" in keys
    assert "cpa_renewal_date" not in columns
    engine.dispose()


def test_after_the_upgrade_the_rekeyed_notices_count_as_sent(blank: Settings) -> None:
    settings = blank
    engine = make_engine(settings)
    upgrade(engine, "0003")
    created = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO assurance_certificate (id, kind, number, cpa_expiry_date, status, "
                "created_at) VALUES (1, 'CPA', 'CPA-1', '2027-08-31', 'valid', :at)"
            ),
            {"at": created},
        )
        conn.execute(
            sa.text(
                "INSERT INTO entry (id, entry_id, submission_type, manufacturer_name, "
                "manufacturer_id, model_name, model_id, hardware_version, firmware_version, "
                "physical_device_type, technical_specification, gbcs_version, release_notes, "
                "cpa_certificate_number, cpa_expiry_date, smets1, contact_email, status, "
                "status_effective_at, removal_proposed, created_at, updated_at) VALUES "
                "(1, 'CPL-000001', 'New Device Model', 'Acme', 'AB01', 'M', '0001', '0001', "
                "'00000001', 'GSME', 'SMETS2 v4.2', 'GBCS v3.2', 'RN', 'CPA-1', '2027-08-31', "
                "FALSE, 'maker@example.com', 'active', :at, FALSE, :at, :at)"
            ),
            {"at": created},
        )
        conn.execute(
            sa.text(
                "INSERT INTO notice (key, kind, recipients, subject, body_text, body_html, "
                "status, attempts, created_at) VALUES ('cpa:1:6m:maker@example.com', 'cpa_6m', "
                "'maker@example.com', 's', 't', 'h', 'sent', 1, :at)"
            ),
            {"at": created},
        )
    upgrade(engine, "0007")
    with Session(engine) as session:
        # The 6-month notice went out before the upgrade: nothing is due again before the end.
        for as_of, queued in ((date(2027, 3, 1), 0), (date(2027, 8, 31), 1)):
            now = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC)
            due = queue_due_cpa_notices(session=session, as_of=as_of, settings=settings, now=now)
            assert due == queued
    engine.dispose()
