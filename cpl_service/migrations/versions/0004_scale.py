"""scale: indexes for every filter and search, and each extract's gzip body

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Already indexed by 0001: entry.status (`GET /entries?status=`, `GET /cpl?status=`),
# entry.physical_device_type (`device_type=`), entry.manufacturer_id (`manufacturer_id=`),
# entry.first_active_at (the public CPL is every entry ever made Active), entry.entry_id
# (unique; the CPL's order and `GET /entries/{entry_id}`), entry.submission_id and the
# certificate register's (kind, number) (unique).
INDEXES: list[tuple[str, str, list[str]]] = [
    # Entries relying on a certificate: revocation flags them, `GET /certificates` lists
    # them, approval and CPA notices look them up by number.
    ("ix_entry_zigbee_certificate_number", "entry", ["zigbee_certificate_number"]),
    ("ix_entry_dlms_certificate_number", "entry", ["dlms_certificate_number"]),
    ("ix_entry_cpa_certificate_number", "entry", ["cpa_certificate_number"]),
    # Entries by CPA expiry date (due notices, entries due for removal).
    ("ix_entry_cpa_expiry_date", "entry", ["cpa_expiry_date"]),
    # `GET /certificates?expiring_within_days=`: CPA certificates ending by a horizon,
    # by either date.
    ("ix_assurance_certificate_cpa_expiry_date", "assurance_certificate", ["cpa_expiry_date"]),
    (
        "ix_assurance_certificate_cpa_conditional_date",
        "assurance_certificate",
        ["cpa_conditional_date"],
    ),
    # `GET /entries?removal_proposed=` (the entries awaiting a Panel decision).
    ("ix_entry_removal_proposed", "entry", ["removal_proposed"]),
]

# `q` (`GET /entries?q=`, `GET /cpl?q=`) is a substring search, which no B-tree serves.
# On PostgreSQL one trigram GIN index on the searched columns joined into one text serves
# it. The expression must be exactly `cpl_service.entries.models.search_text()` (a test
# checks that the planner uses this index); SQLite scans, which is fast enough there.
SEARCH_TEXT = (
    "(coalesce(entry_id, '') || '\x1f' || coalesce(manufacturer_name, '') || '\x1f' || "
    "coalesce(model_name, '') || '\x1f' || coalesce(manufacturer_id, '') || '\x1f' || "
    "coalesce(model_id, '') || '\x1f' || coalesce(hardware_version, '') || '\x1f' || "
    "coalesce(firmware_version, '') || '\x1f' || "
    "coalesce(zigbee_certificate_number, '') || '\x1f' || "
    "coalesce(dlms_certificate_number, '') || '\x1f' || "
    "coalesce(cpa_certificate_number, '') || '\x1f' || coalesce(panel_decision_ref, ''))"
)


def upgrade() -> None:
    # The gzip body of each extract, compressed once right after publication and served as
    # it is to clients that accept gzip; it decompresses to exactly the signed payload.
    # Extracts published before this revision have none and are compressed when served.
    # Plain ADD COLUMN (no batch copy), so SQLite keeps the 0003 triggers.
    op.add_column("extract", sa.Column("payload_gzip", sa.LargeBinary(), nullable=True))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER extract_gzip_set_once BEFORE UPDATE OF payload_gzip ON extract "
            "FOR EACH ROW WHEN (OLD.payload_gzip IS NOT NULL) "
            "EXECUTE FUNCTION extract_no_rewrite()"
        )
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            f"CREATE INDEX ix_entry_search_trgm ON entry USING gin ({SEARCH_TEXT} gin_trgm_ops)"
        )
    else:
        op.execute(
            "CREATE TRIGGER extract_gzip_set_once BEFORE UPDATE OF payload_gzip ON extract "
            "WHEN OLD.payload_gzip IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'published extracts never change'); END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP INDEX IF EXISTS ix_entry_search_trgm")
        op.execute("DROP TRIGGER IF EXISTS extract_gzip_set_once ON extract")
    else:
        op.execute("DROP TRIGGER IF EXISTS extract_gzip_set_once")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    # Plain DROP COLUMN (SQLite 3.35+), so SQLite keeps the 0003 triggers.
    op.drop_column("extract", "payload_gzip")
