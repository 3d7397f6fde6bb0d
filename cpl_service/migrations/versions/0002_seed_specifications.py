"""seed the technical-specification register

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The versions in use when the register was created. Installation end dates are given only
# for versions whose installation window has closed; SECAS adds new versions as data
# (POST /api/v1/technical-specifications) rather than waiting for a code change.
SEED: list[tuple[str, str, date | None]] = [
    ("SMETS1 v1.2", "SMETS1", None),
    ("SMETS2 v1.58", "SMETS2", date(2019, 10, 31)),
    ("SMETS2 v2.0", "SMETS2", date(2021, 6, 30)),
    ("SMETS2 v3.1", "SMETS2", None),
    ("SMETS2 v3.2", "SMETS2", None),
    ("SMETS2 v4.1", "SMETS2", None),
    ("SMETS2 v4.2", "SMETS2", None),
    ("SMETS2 v5.0", "SMETS2", None),
    ("CHTS v1.46", "CHTS", date(2019, 10, 31)),
    ("CHTS v2.0", "CHTS", date(2021, 6, 30)),
    ("CHTS v3.1", "CHTS", None),
    ("CHTS v3.2", "CHTS", None),
    ("CHTS v4.1", "CHTS", None),
    ("CHTS v4.2", "CHTS", None),
    ("CHTS v5.0", "CHTS", None),
    ("GBCS v1.0", "GBCS", date(2019, 10, 31)),
    ("GBCS v1.1", "GBCS", date(2019, 10, 31)),
    ("GBCS v2.0", "GBCS", date(2021, 6, 30)),
    ("GBCS v2.1", "GBCS", None),
    ("GBCS v3.0", "GBCS", None),
    ("GBCS v3.1", "GBCS", None),
    ("GBCS v3.2", "GBCS", None),
    ("GBCS v4.0", "GBCS", None),
    ("GBCS v4.1", "GBCS", None),
    ("GBCS v5.0", "GBCS", None),
]


def upgrade() -> None:
    table = sa.table(
        "technical_specification",
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("installation_end_date", sa.Date),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [{"name": n, "kind": k, "installation_end_date": d, "created_at": now} for n, k, d in SEED],
    )


def downgrade() -> None:
    names = [n for n, _, _ in SEED]
    op.execute(
        sa.text("DELETE FROM technical_specification WHERE name IN :names").bindparams(
            sa.bindparam("names", expanding=True, value=names)
        )
    )
