"""The technical-specification register: SMETS1, SMETS2, CHTS and GBCS versions."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from cpl_service.clock import utcnow
from cpl_service.db import UTCDateTime


class SpecificationKind(StrEnum):
    SMETS1 = "SMETS1"
    SMETS2 = "SMETS2"
    CHTS = "CHTS"
    GBCS = "GBCS"


class TechnicalSpecificationBase(SQLModel):
    name: str = Field(max_length=50, unique=True, index=True)
    kind: str = Field(max_length=10)
    installation_end_date: date | None = None


class TechnicalSpecification(TechnicalSpecificationBase, table=True):
    __tablename__ = "technical_specification"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TechnicalSpecificationCreate(SQLModel):
    name: str = Field(min_length=1, max_length=50)
    kind: SpecificationKind
    installation_end_date: date | None = None


class TechnicalSpecificationPublic(TechnicalSpecificationBase):
    pass
