"""Alembic environment: runs on the connection `cpl_service.db.upgrade` hands over."""

from alembic import context
from sqlmodel import SQLModel

import cpl_service.models  # noqa: F401  (registers every table)

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    from cpl_service.config import get_settings
    from cpl_service.db import make_engine

    connection = make_engine(get_settings()).connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
