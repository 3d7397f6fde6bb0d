"""Every filter and search is served by an index (migration 0004), on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from cpl_service.entries.models import Entry, like_pattern, search_text

ENTRY = Entry.__table__  # type: ignore[attr-defined]
CERTIFICATE = sa.table(
    "assurance_certificate", sa.column("cpa_expiry_date"), sa.column("cpa_conditional_date")
)


def plan(engine: Engine, statement: sa.Select) -> str:
    """The query plan as text; PostgreSQL is told to avoid sequential scans, so a tiny
    table still shows which index would serve the query."""
    dialect = postgresql.dialect() if engine.dialect.name == "postgresql" else sqlite.dialect()
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {sql}")
        else:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("condition", "index"),
    [
        (ENTRY.c.status == "active", "ix_entry_status"),
        (ENTRY.c.physical_device_type == "GSME", "ix_entry_physical_device_type"),
        (ENTRY.c.manufacturer_id == "AB01", "ix_entry_manufacturer_id"),
        (ENTRY.c.zigbee_certificate_number == "Z-1", "ix_entry_zigbee_certificate_number"),
        (ENTRY.c.dlms_certificate_number == "D-1", "ix_entry_dlms_certificate_number"),
        (ENTRY.c.cpa_certificate_number == "C-1", "ix_entry_cpa_certificate_number"),
        (ENTRY.c.cpa_expiry_date <= sa.literal("2030-01-01"), "ix_entry_cpa_expiry_date"),
        (ENTRY.c.removal_proposed.is_(True), "ix_entry_removal_proposed"),
    ],
)
def test_entry_filters_use_an_index(engine: Engine, condition: sa.ColumnElement, index: str):
    assert index in plan(engine, sa.select(ENTRY.c.id).where(condition))


@pytest.mark.parametrize(
    ("column", "index"),
    [
        ("cpa_expiry_date", "ix_assurance_certificate_cpa_expiry_date"),
        ("cpa_conditional_date", "ix_assurance_certificate_cpa_conditional_date"),
    ],
)
def test_expiring_certificates_use_an_index(engine: Engine, column: str, index: str) -> None:
    condition = CERTIFICATE.c[column] <= sa.literal("2030-01-01")
    assert index in plan(engine, sa.select(sa.literal(1)).select_from(CERTIFICATE).where(condition))


def test_free_text_search_uses_the_trigram_index_on_postgresql(engine: Engine) -> None:
    statement = sa.select(ENTRY.c.id).where(search_text().ilike(like_pattern("acme"), escape="\\"))
    text = plan(engine, statement)
    if engine.dialect.name == "postgresql":
        assert "ix_entry_search_trgm" in text, text
    else:
        # SQLite has no trigram index: the search is one scan of one LIKE per row.
        assert "SCAN" in text, text
