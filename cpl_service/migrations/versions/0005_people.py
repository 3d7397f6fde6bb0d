"""people, named API tokens, sessions, sign-in throttling and the security audit log

Each party's single token becomes its first named token ("initial token"); entry history
gains the person or token that acted.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cpl_service.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARDS = [
    ("security_event_no_update", "BEFORE UPDATE", "security_event", "the audit log is append-only"),
    ("security_event_no_delete", "BEFORE DELETE", "security_event", "the audit log is append-only"),
]


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_token_party_id", "api_token", ["party_id"])
    op.create_index("ix_api_token_token_hash", "api_token", ["token_hash"], unique=True)

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("password_set_at", UTCDateTime(), nullable=True),
        sa.Column("set_password_token_hash", sa.String(length=64), nullable=True),
        sa.Column("set_password_expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("disabled_by", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_person_party_id", "person", ["party_id"])
    op.create_index("ix_person_email", "person", ["email"], unique=True)
    op.create_index("ix_person_set_password_token_hash", "person", ["set_password_token_hash"])

    op.create_table(
        "person_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_person_session_secret_hash", "person_session", ["secret_hash"], unique=True)
    op.create_index("ix_person_session_user_id", "person_session", ["user_id"])

    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )

    op.create_table(
        "security_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("actor_party_id", sa.Integer(), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_token_id", sa.Integer(), nullable=True),
        sa.Column("subject_party_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(["actor_party_id"], ["party.id"]),
        sa.ForeignKeyConstraint(["actor_user_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["actor_token_id"], ["api_token.id"]),
        sa.ForeignKeyConstraint(["subject_party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_security_event_at", "security_event", ["at"])
    op.create_index("ix_security_event_kind", "security_event", ["kind"])
    op.create_index("ix_security_event_actor_party_id", "security_event", ["actor_party_id"])
    op.create_index("ix_security_event_subject_party_id", "security_event", ["subject_party_id"])

    # Plain ADD COLUMN, not a batch rebuild: rebuilding entry_event would drop its triggers.
    op.add_column("entry_event", sa.Column("actor_person", sa.String(length=200), nullable=True))
    op.add_column("entry_event", sa.Column("actor_token", sa.String(length=100), nullable=True))
    op.add_column("entry_event", sa.Column("actor_user_id", sa.Integer(), nullable=True))
    op.add_column("entry_event", sa.Column("actor_token_id", sa.Integer(), nullable=True))

    # Each party's one token becomes its first named token.
    op.execute(
        "INSERT INTO api_token (party_id, name, token_hash, created_at, created_by) "
        "SELECT id, 'initial token', token_hash, created_at, 'party add (before named tokens)' "
        "FROM party"
    )
    op.drop_index("ix_party_token_hash", table_name="party")
    op.drop_column("party", "token_hash")

    postgres = op.get_bind().dialect.name == "postgresql"
    for name, when, table, message in GUARDS:
        if postgres:
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN RAISE EXCEPTION '{message}'; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        else:
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
    op.add_column("party", sa.Column("token_hash", sa.String(length=64), nullable=True))
    # The oldest unrevoked token of each party becomes its single token again.
    op.execute(
        "UPDATE party SET token_hash = (SELECT t.token_hash FROM api_token t "
        "WHERE t.party_id = party.id AND t.revoked_at IS NULL ORDER BY t.id LIMIT 1)"
    )
    op.create_index("ix_party_token_hash", "party", ["token_hash"], unique=True)
    for column in ("actor_token_id", "actor_user_id", "actor_token", "actor_person"):
        op.drop_column("entry_event", column)
    op.drop_table("security_event")
    op.drop_table("sign_in_throttle")
    op.drop_table("person_session")
    op.drop_table("person")
    op.drop_table("api_token")
