"""Test fixtures: each test gets its own database on SQLite and, when
CPL_TEST_DATABASE_URL is set, on PostgreSQL as well."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.db import make_engine, upgrade
from cpl_service.parties import passwords
from cpl_service.parties.actors import COMMAND_LINE
from cpl_service.parties.models import Party, User
from cpl_service.parties.people import add_person, set_password
from cpl_service.parties.service import create_party

# The `softhsm` fixture (a real SoftHSM2 token) for the PKCS#11 tests.
pytest_plugins = ["tests.softhsm"]

PG_URL = os.environ.get("CPL_TEST_DATABASE_URL")


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Hash passwords made in the test process with Argon2id at its lowest cost.

    The production cost (about 0.1 s per hash, more on a loaded machine) is paid for every
    person the tests create, and made the role matrix take minutes. The algorithm is the
    same; a hash records its own parameters, so real servers started by tests verify these
    hashes too. `tests/parties/test_password_rules.py` checks the production cost.
    """
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    patch = pytest.MonkeyPatch()
    patch.setattr(passwords, "_hasher", fast)
    patch.setattr(passwords, "_DUMMY_HASH", fast.hash("timing equaliser for the tests"))
    yield
    patch.undo()


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    engine = make_engine(Settings(data_dir=folder))
    upgrade(engine)
    engine.dispose()
    return folder / "cpl.sqlite3"


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """A database of our own on the test server, migrated once for the session."""
    assert PG_URL
    name = f"cpl_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        seed = [
            dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM technical_specification"))
        ]
    engine.dispose()
    yield url, seed
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_postgres(url: str, seed: list[dict[str, object]]) -> None:
    engine = sa.create_engine(url)
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        spec = SQLModel.metadata.tables["technical_specification"]
        conn.execute(spec.insert(), seed)
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('technical_specification', 'id'), "
                "(SELECT max(id) FROM technical_specification))"
            )
        )
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for one test, on a fresh database of the parametrised backend."""
    data_dir = tmp_path / "cpl-data"
    data_dir.mkdir()
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("_sqlite_template"), data_dir / "cpl.sqlite3")
        url = None
    else:
        url, seed = request.getfixturevalue("_postgres_database")
        _reset_postgres(url, seed)
    return Settings(data_dir=data_dir, database_url=url, secas_email="secas@secas.test")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from cpl_service.main import create_app

    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


MakeParty = Callable[..., tuple[Party, str]]


@pytest.fixture
def make_party(engine: Engine) -> MakeParty:
    """Create a party of a role; returns it and its bearer token."""
    counter = iter(range(1, 10_000))

    def make(
        role: str, name: str | None = None, emails: list[str] | None = None
    ) -> tuple[Party, str]:
        n = next(counter)
        with Session(engine, expire_on_commit=False) as s:
            return create_party(
                session=s,
                name=name or f"{role.title()} {n}",
                role=role,
                emails=emails or [f"{role}{n}@example.com"],
            )

    return make


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


PASSWORD = "correct horse battery"
MakePerson = Callable[..., User]


@pytest.fixture
def make_person(engine: Engine) -> MakePerson:
    """Add a person to a party with a password set; returns them."""

    def make(party: Party, name: str, email: str, *, is_admin: bool = False) -> User:
        with Session(engine, expire_on_commit=False) as s:
            user, _ = add_person(
                session=s,
                party=party,
                name=name,
                email=email,
                is_admin=is_admin,
                created_by=COMMAND_LINE,
                now=utcnow(),
            )
            set_password(session=s, user=user, password=PASSWORD, actor=COMMAND_LINE, now=utcnow())
            return user

    return make


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in; returns headers that act as that person (cookie and CSRF token)."""
    response = client.post("/api/v1/session", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    secret = response.cookies["cpl_session"]
    client.cookies.clear()  # each caller sends its own credentials explicitly
    return {"Cookie": f"cpl_session={secret}", "X-CSRF-Token": response.json()["csrf_token"]}
