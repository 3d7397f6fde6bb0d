"""Engine factory, session dependency and the migrations entry point."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import StrEnum
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Boolean, Connection, Date, DateTime, Engine, String, Table, Update, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session, create_engine

from cpl_service.config import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and gives them back aware, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class EnumWord(TypeDecorator[E]):
    """A `StrEnum` stored as its word in a plain string column (no database enum type).

    Writing checks the word belongs to the enum; reading gives the member back, so a
    status read from the database is typed like one set in code.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length
        self._members: dict[str, E] = {member.value: member for member in enum}

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        if value is None:
            return None
        member = self._members.get(value)
        return member if member is not None else self.enum(value)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(settings: Settings) -> Engine:
    """An engine for the configured database; SQLite gets its data directory made."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def update_one(session: Session, statement: Update) -> bool:
    """Run a guarded UPDATE; True when it changed exactly one row.

    The guard (e.g. `WHERE status = 'pending_review'`) is what makes concurrent actions
    safe: of two writers, the second finds the guard no longer holds and changes nothing.
    """
    result = session.execute(statement.execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def bulk_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    names: Sequence[str],
    constants: Mapping[str, Any] | None = None,
    ignore_conflicts_on: Sequence[str] = (),
) -> None:
    """INSERT `rows` (their `names` keys) plus `constants` into `table`; with
    `ignore_conflicts_on` (the columns of a unique constraint), a row that would break
    that constraint is skipped (`ON CONFLICT (…) DO NOTHING`, on SQLite and PostgreSQL).

    Each column's values go through its type's own bind conversion, a column at a time
    (`bind_column`), straight to the driver: the same stored values as a Core insert,
    without SQLAlchemy's per-row work. On PostgreSQL the rows go by `COPY … FROM STDIN`
    (several times cheaper for both ends than an INSERT per row), or, when conflicts are
    to be skipped (which `COPY` cannot do), by one `INSERT … SELECT FROM unnest(…)` of
    an array per column; elsewhere by one executemany. A constraint the rows break raises
    `IntegrityError` either way.
    """
    if not rows:
        return
    dialect = connection.dialect
    fixed = dict(constants or {})
    # Column defaults are SQLAlchemy's to apply, and this bypasses it: name every one.
    defaulted = {c.name for c in table.c if c.default is not None}
    if missing := sorted(defaulted - {*names, *fixed}):
        raise ValueError(f"bulk_insert into {table.name} needs values for {missing}")
    columns: list[list[Any]] = []
    for name in [*names, *fixed]:
        values = [fixed[name]] if name in fixed else list(map(itemgetter(name), rows))
        values = bind_column(values, table.c[name].type, dialect)
        columns.append(values * len(rows) if name in fixed else values)
    quote = dialect.identifier_preparer.quote
    # Names from the table's own metadata, quoted; values go as parameters or COPY data.
    target = (
        f"{dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(name) for name in [*names, *fixed])})"
    )
    unique = ", ".join(quote(name) for name in ignore_conflicts_on)
    if dialect.name == "postgresql":
        if not ignore_conflicts_on:
            _copy_in(connection, f"COPY {target} FROM STDIN", zip(*columns, strict=True))
            return
        # One statement over one array per column, in the rows' order: an executemany
        # costs PostgreSQL a round of work per row (about 0.4 s for 15,000).
        # The constants go once each, not as arrays of copies.
        types = [table.c[name].type.compile(dialect) for name in [*names, *fixed]]
        arrays = ", ".join(f"CAST(%s AS {type_}[])" for type_ in types[: len(names)])
        aliases = [f"v{index}" for index in range(len(names))]
        constant = [f"CAST(%s AS {type_})" for type_ in types[len(names) :]]
        connection.exec_driver_sql(
            f"INSERT INTO {target} SELECT {', '.join([*aliases, *constant])} "  # noqa: S608
            f"FROM unnest({arrays}) WITH ORDINALITY AS v({', '.join(aliases)}, position) "
            f"ORDER BY position ON CONFLICT ({unique}) DO NOTHING",
            # In the order of the markers: the constants (SELECT), then the arrays (FROM).
            (*(values[0] for values in columns[len(names) :]), *columns[: len(names)]),
        )
        return
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO {target} VALUES ({', '.join([marker] * len(columns))})"  # noqa: S608
    if ignore_conflicts_on:
        statement += f" ON CONFLICT ({unique}) DO NOTHING"
    connection.exec_driver_sql(statement, list(zip(*columns, strict=True)))


def _copy_in(connection: Connection, statement: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """Send `rows` through psycopg's `COPY … FROM STDIN` (text format: psycopg escapes
    tabs, newlines and backslashes), in the connection's open transaction. A driver error
    is raised as SQLAlchemy's (`IntegrityError`, …), as `exec_driver_sql` would raise it.
    """
    dbapi = connection.dialect.loaded_dbapi
    driver: Any = connection.connection.dbapi_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dbapi.Error, dialect=connection.dialect
        ) from exc


# SQLite's own storage format of a date (`sqlalchemy.dialects.sqlite.DATE`): the same text
# as `date.isoformat()` for every date.
_SQLITE_DATE_FORMAT = "%(year)04d-%(month)02d-%(day)02d"


def bind_column(values: list[Any], column_type: TypeEngine[Any], dialect: Dialect) -> list[Any]:
    """`values` as the driver is to get them for a column of `column_type`: what the type's
    own bind processor makes of each value, without a Python call per value where that can
    be avoided.

    No processor (text, numbers, and dates on PostgreSQL): the values as they are. Types
    whose conversion depends only on the value's equality class (an enum's word, a
    Boolean, an aware datetime taken to UTC): each distinct value converted once. A date
    on SQLite: `date.isoformat()`, SQLite's own format. Any other type, and any value of
    an unexpected kind (which the processor then refuses as before): the processor.
    """
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    if isinstance(column_type, EnumWord | UTCDateTime | Boolean):
        try:
            distinct = dict.fromkeys(values)
        except TypeError:  # an unhashable value: the processor says what is wrong with it
            return list(map(process, values))
        converted = {value: process(value) for value in distinct}
        return list(map(converted.__getitem__, values))
    impl = column_type.dialect_impl(dialect)
    if (
        dialect.name == "sqlite"
        and isinstance(impl, Date)
        and getattr(impl, "_storage_format", None) == _SQLITE_DATE_FORMAT
    ):
        return [
            None if v is None else v.isoformat() if type(v) is date else process(v) for v in values
        ]
    return list(map(process, values))


# SQLite's page cache while bulk loading, in KiB (a negative cache_size): enough for the
# tables and indexes of a 100,000-entry load, so pages are not spilled and read again.
_BULK_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_load(
    connection: Connection, tables: Sequence[Table], *, empty: bool = False
) -> Iterator[None]:
    """Around a large load into `tables`, inside the caller's open transaction.

    The tables' secondary indexes are dropped, and created again at the end, in the same
    transaction: building an index once over all the rows is cheaper than updating it
    row by row. A rollback, or a crash before the commit, leaves them as they were, and a
    unique index rebuilt over a duplicate raises `IntegrityError` as the insert would have.

    On SQLite (those indexes created by CREATE INDEX): always; the page cache is enlarged
    meanwhile. On PostgreSQL (those indexes that back no constraint): only when the
    caller found the tables `empty` (a rebuild over many rows already there would cost
    more than it saves) and no other session is using them at that moment
    (`LOCK … NOWAIT`); otherwise the load goes through the indexes as they are. The lock
    is then held to the commit: other sessions wait to read the tables until the load is
    in, rather than see them empty. Other databases: nothing changes.
    """
    if not connection.in_transaction():  # pragma: no cover - a caller's mistake
        raise RuntimeError("bulk_load needs an open transaction")
    if connection.dialect.name == "postgresql":
        rebuild = _postgres_drop_indexes(connection, tables) if empty else []
        yield
        for sql in rebuild:
            connection.exec_driver_sql(sql)
        return
    if connection.dialect.name != "sqlite":
        yield
        return
    # pysqlite opens the database transaction lazily (at the first write): open it now, so
    # the DROP INDEX below is part of it and never committed on its own.
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN")
    names = [table.name for table in tables]
    marks = ", ".join("?" * len(names))
    indexes = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608
        f"AND tbl_name IN ({marks}) ORDER BY name",
        tuple(names),
    ).all()
    (cache,) = connection.exec_driver_sql("PRAGMA cache_size").one()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{_BULK_CACHE_KIB}")
    try:
        quote = connection.dialect.identifier_preparer.quote
        for name, _ in indexes:
            connection.exec_driver_sql(f"DROP INDEX {quote(name)}")
        yield
        for _, sql in indexes:
            connection.exec_driver_sql(sql)
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")


def _postgres_drop_indexes(connection: Connection, tables: Sequence[Table]) -> list[str]:
    """Drop the secondary indexes of `tables` if the tables can be locked at once; the
    CREATE INDEX statements that make them again (none when nothing was dropped)."""
    prepare = connection.dialect.identifier_preparer
    quoted = ", ".join(prepare.format_table(table) for table in tables)
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql(f"LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE NOWAIT")
    except OperationalError:  # another session holds one of them: no waiting for it
        savepoint.rollback()
        return []
    savepoint.commit()  # the lock stays until the transaction ends
    indexes = connection.exec_driver_sql(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
        "FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY(%(tables)s) AND t.relnamespace = current_schema()::regnamespace "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY 1",
        {"tables": [table.name for table in tables]},
    ).all()
    for name, _ in indexes:
        connection.exec_driver_sql(f"DROP INDEX {name}")
    return [sql for _, sql in indexes]


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to `revision` on the given engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
