"""The Assurance Certificate register: each ZigBee, DLMS and CPA certificate once."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from cpl_service.certificates.cpa import CpaEnd, cpa_end
from cpl_service.clock import utcnow
from cpl_service.db import EnumWord, UTCDateTime


class CertificateStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class AssuranceCertificate(SQLModel, table=True):
    __tablename__ = "assurance_certificate"
    __table_args__ = (UniqueConstraint("kind", "number", name="uq_certificate_kind_number"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)
    number: str = Field(max_length=100)
    # "Fixed-term" or "Lifetime" (`CpaCertificateType`) for a CPA certificate, else None.
    cpa_certificate_type: str | None = Field(default=None, max_length=10)
    cpa_expiry_date: date | None = None
    cpa_renewal_date: date | None = None
    cpa_conditional_date: date | None = None
    status: CertificateStatus = Field(
        default=CertificateStatus.VALID, sa_type=EnumWord(CertificateStatus, 10)
    )
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revocation_reason: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def end(self) -> CpaEnd | None:
        """When a CPA certificate stops covering, and which of its dates says so."""
        return cpa_end(
            expiry_date=self.cpa_expiry_date,
            renewal_date=self.cpa_renewal_date,
            conditional_date=self.cpa_conditional_date,
        )

    @property
    def end_date(self) -> date | None:
        """The day a CPA certificate stops covering: its earliest expiry, renewal or condition."""
        end = self.end
        return end.day if end else None
