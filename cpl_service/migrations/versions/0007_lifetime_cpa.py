"""lifetime CPA certificates (SEC MP209): certificate type and renewal date; CPA notice keys
name the end date they announce

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIXED_TERM = "Fixed-term"
CPA_NOTICE_KINDS = ("cpa_12m", "cpa_6m", "cpa_end")
THRESHOLDS = ("12m", "6m", "end")


def upgrade() -> None:
    for table in ("assurance_certificate", "entry"):
        op.add_column(table, sa.Column("cpa_certificate_type", sa.String(length=10), nullable=True))
        op.add_column(table, sa.Column("cpa_renewal_date", sa.Date(), nullable=True))
    # Every certificate on record so far has an expiry date: it is fixed-term.
    bind = op.get_bind()
    bind.execute(
        sa.text("UPDATE assurance_certificate SET cpa_certificate_type = :t WHERE kind = 'CPA'"),
        {"t": FIXED_TERM},
    )
    bind.execute(
        sa.text(
            "UPDATE entry SET cpa_certificate_type = :t WHERE cpa_certificate_number IS NOT NULL"
        ),
        {"t": FIXED_TERM},
    )
    _rekey_cpa_notices()


def _rekey_cpa_notices() -> None:
    """`cpa:ID:THRESHOLD:TO` becomes `cpa:ID:END:THRESHOLD:TO`.

    A notice now belongs to the end date it announced, so that a renewal re-arms the
    notices for the new end. The notices already queued or sent are attributed to each
    certificate's end as it stands, so none of them is sent again after the upgrade.
    """
    bind = op.get_bind()
    ends: dict[int, date] = {}
    for cid, expiry, conditional in bind.execute(
        sa.text(
            "SELECT id, cpa_expiry_date, cpa_conditional_date FROM assurance_certificate "
            "WHERE kind = 'CPA'"
        )
    ):
        dates = [_as_date(d) for d in (expiry, conditional) if d is not None]
        if dates:
            ends[cid] = min(dates)
    notices = bind.execute(
        sa.text("SELECT id, key FROM notice WHERE kind IN :kinds").bindparams(
            sa.bindparam("kinds", expanding=True)
        ),
        {"kinds": list(CPA_NOTICE_KINDS)},
    ).all()
    for notice_id, key in notices:
        parts = key.split(":", 3)
        if len(parts) != 4 or not parts[1].isdigit() or parts[2] not in THRESHOLDS:
            continue
        end = ends.get(int(parts[1]))
        if end is None:
            continue
        bind.execute(
            sa.text("UPDATE notice SET key = :key WHERE id = :id"),
            {"key": f"cpa:{parts[1]}:{end.isoformat()}:{parts[2]}:{parts[3]}", "id": notice_id},
        )


def _as_date(value: object) -> date:
    # SQLite hands back the ISO text of a DATE column to a plain SQL query.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def downgrade() -> None:
    bind = op.get_bind()
    notices = bind.execute(
        sa.text("SELECT id, key FROM notice WHERE kind IN :kinds").bindparams(
            sa.bindparam("kinds", expanding=True)
        ),
        {"kinds": list(CPA_NOTICE_KINDS)},
    ).all()
    for notice_id, key in notices:
        parts = key.split(":", 4)
        if len(parts) == 5 and parts[3] in THRESHOLDS:
            # Of several ends' notices only one may keep the old key; the rest keep theirs.
            old = f"cpa:{parts[1]}:{parts[3]}:{parts[4]}"
            taken = bind.execute(sa.text("SELECT 1 FROM notice WHERE key = :k"), {"k": old}).first()
            if taken is None:
                bind.execute(
                    sa.text("UPDATE notice SET key = :key WHERE id = :id"),
                    {"key": old, "id": notice_id},
                )
    for table in ("entry", "assurance_certificate"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("cpa_renewal_date")
            batch.drop_column("cpa_certificate_type")
