"""Parties: every caller, with one role and its contact emails."""

from __future__ import annotations

from dataclasses import dataclass
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
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True)
class Actor:
    """Who made a change, as recorded in a history."""

    party_id: int | None
    name: str

    @classmethod
    def of(cls, party: Party) -> Actor:
        return cls(party_id=party.id, name=party.name)


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
