"""Where an Assurance Certificate stands on a day, in the words a reviewer reads.

One answer per certificate: revoked; ended; within 6 or 12 months of its end (the same
thresholds as the CPA notices, `rules.reached_threshold`); or valid. Whether a CPA
certificate is conditional is told beside it, with its date: a conditional certificate can
be valid or inside a window at the same time. The end itself is `certificates.cpa.cpa_end`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from cpl_service.certificates.cpa import CpaEnd
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.notices.rules import Threshold, reached_threshold


class Standing(StrEnum):
    """A certificate's standing, worst first."""

    NOT_IN_REGISTER = "not in the register"
    REVOKED = "revoked"
    ENDED = "ended"
    WITHIN_6_MONTHS = "within 6 months of its end"
    WITHIN_12_MONTHS = "within 12 months of its end"
    VALID = "valid"


_BY_THRESHOLD = {
    Threshold.END: Standing.ENDED,
    Threshold.SIX_MONTHS: Standing.WITHIN_6_MONTHS,
    Threshold.TWELVE_MONTHS: Standing.WITHIN_12_MONTHS,
}


@dataclass(frozen=True)
class CertificateStanding:
    """One certificate an entry names, and where it stands."""

    kind: str
    number: str
    standing: Standing
    certificate_id: int | None = None
    end: CpaEnd | None = None
    conditional_date: date | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None

    @property
    def conditional(self) -> bool:
        return self.conditional_date is not None

    @property
    def blocks_approval(self) -> bool:
        """Revoked or ended: `entries.service.approval_blockers` refuses an entry relying on it."""
        return self.standing in (Standing.REVOKED, Standing.ENDED)


def certificate_standing(
    *, kind: str, number: str, certificate: AssuranceCertificate | None, as_of: date
) -> CertificateStanding:
    """Where the `kind` certificate `number` (`certificate` from the register) stands on `as_of`."""
    if certificate is None:
        return CertificateStanding(kind, number, Standing.NOT_IN_REGISTER)
    end = certificate.end
    if certificate.status == CertificateStatus.REVOKED:
        standing = Standing.REVOKED
    elif end is None:
        standing = Standing.VALID
    else:
        threshold = reached_threshold(end.day, as_of=as_of)
        standing = Standing.VALID if threshold is None else _BY_THRESHOLD[threshold]
    return CertificateStanding(
        kind=kind,
        number=number,
        standing=standing,
        certificate_id=certificate.id,
        end=end,
        conditional_date=certificate.cpa_conditional_date,
        revoked_at=certificate.revoked_at,
        revocation_reason=certificate.revocation_reason,
    )
