"""database guards: entry history is append-only, published extracts are immutable

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The application never edits history or published bytes; these triggers make the database
# refuse it too, whoever connects. Only the DCC status columns of an extract may change.
GUARDS = [
    ("entry_event_no_update", "BEFORE UPDATE", "entry_event", "entry history is append-only"),
    ("entry_event_no_delete", "BEFORE DELETE", "entry_event", "entry history is append-only"),
    (
        "extract_no_rewrite",
        "BEFORE UPDATE OF sequence, issued_at, next_update, sha256, previous_sha256, "
        "entry_count, change_count, payload, signature",
        "extract",
        "published extracts never change",
    ),
    ("extract_no_delete", "BEFORE DELETE", "extract", "published extracts are kept forever"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, when, table, message in GUARDS:
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN RAISE EXCEPTION '{message}'; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
    else:
        for name, when, table, message in GUARDS:
            op.execute(
                f"CREATE TRIGGER {name} {when} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, _, table, _ in GUARDS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
