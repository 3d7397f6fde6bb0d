"""Parties (every caller's organisation), their people, API tokens and the security audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from cpl_service.clock import utcnow
from cpl_service.db import UTCDateTime


class Role(StrEnum):
    MANUFACTURER = "manufacturer"
    SUPPLIER = "supplier"
    DCC = "dcc"
    SECAS = "secas"


class Party(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True, index=True)
    role: str = Field(max_length=20)
    emails: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PartyCertificate(SQLModel, table=True):
    """A signing certificate a party registered for signed submissions."""

    __tablename__ = "party_certificate"

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="party.id", index=True)
    fingerprint_sha256: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=1000)
    not_valid_after: datetime = Field(sa_type=UTCDateTime)
    pem: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PartyPublic(SQLModel):
    id: int
    name: str
    role: str
    emails: list[str]


class ApiToken(SQLModel, table=True):
    """A named bearer token of a party. Only the SHA-256 of the secret is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="party.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=300)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=300)


class User(SQLModel, table=True):
    """A person acting for a party; signs in with email and password."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="party.id", index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254, unique=True, index=True)
    is_admin: bool = False
    password_hash: str | None = Field(default=None, max_length=300)
    password_set_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    set_password_token_hash: str | None = Field(default=None, max_length=64, index=True)
    set_password_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=300)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_by: str | None = Field(default=None, max_length=300)

    def describe(self) -> str:
        """`Jane Smith <jane@secas.example>`: how messages and the audit log name a person."""
        return f"{self.name} <{self.email}>"


class UserSession(SQLModel, table=True):
    """A signed-in browser session; the cookie carries a secret whose hash is the key."""

    __tablename__ = "person_session"

    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    address: str | None = Field(default=None, max_length=100)


class SignInThrottle(SQLModel, table=True):
    """Recent failed sign-ins of one account or one address (`key`), and its lock."""

    __tablename__ = "sign_in_throttle"

    key: str = Field(primary_key=True, max_length=300)
    failures: int = 0
    last_failure_at: datetime = Field(sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SecurityEvent(SQLModel, table=True):
    """One security-relevant event. Rows are only ever inserted (a database trigger says so)."""

    __tablename__ = "security_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    kind: str = Field(max_length=50, index=True)
    actor: str = Field(max_length=300)
    actor_party_id: int | None = Field(default=None, foreign_key="party.id", index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="person.id")
    actor_token_id: int | None = Field(default=None, foreign_key="api_token.id")
    subject_party_id: int | None = Field(default=None, foreign_key="party.id", index=True)
    subject: str | None = Field(default=None, max_length=500)
    address: str | None = Field(default=None, max_length=100)
    detail: str | None = Field(default=None, max_length=2000)
