"""Which CPA certificates are inside their 12- or 6-month notice window, or past their end.

The window is the notice rule's own answer (`rules.due_notice`) asked without any notice
history: the latest threshold a certificate has reached on a date. So a certificate is shown
in the 6-month window on exactly the days its 6-month notice is due or has gone out, and
revoked certificates are never in a window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from cpl_service.batches import batches
from cpl_service.certificates.cpa import EndKind
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.devices import CertificateKind
from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.notices.rules import CertificateFacts, Threshold, due_notice

# Beyond any 12-month threshold however months are clamped; the rule then decides exactly.
_LOOK_AHEAD = timedelta(days=400)


def notice_window(certificate: CertificateFacts, *, as_of: date) -> Threshold | None:
    """The latest notice threshold `certificate` has reached on `as_of` (None: none yet)."""
    due = due_notice(replace(certificate, notified=frozenset()), as_of=as_of)
    return due.threshold if due else None


@dataclass(frozen=True)
class CertificateInWindow:
    """A valid CPA certificate relied on by listed Device Models, and its window."""

    number: str
    window: Threshold
    end_date: date
    end_kind: EndKind
    certificate_type: str | None
    listed_models: int


def certificates_in_windows(*, session: Session, today: date) -> list[CertificateInWindow]:
    """Valid CPA certificates that Active entries rely on, inside a notice window on `today`.

    Soonest end first; the end-date window holds certificates whose end has passed while
    entries still rely on them.
    """
    counted = session.exec(
        select(Entry.cpa_certificate_number, func.count())
        .where(
            col(Entry.status) == EntryStatus.ACTIVE,
            col(Entry.cpa_certificate_number).is_not(None),
        )
        .group_by(col(Entry.cpa_certificate_number))
    ).all()
    relying = {number: int(n) for number, n in counted if number}
    horizon = today + _LOOK_AHEAD
    found = []
    for batch in batches(sorted(n for n in relying if n)):
        certificates = session.exec(
            select(AssuranceCertificate).where(
                col(AssuranceCertificate.kind) == CertificateKind.CPA.value,
                col(AssuranceCertificate.status) == CertificateStatus.VALID,
                col(AssuranceCertificate.number).in_(batch),
                (col(AssuranceCertificate.cpa_expiry_date) <= horizon)
                | (col(AssuranceCertificate.cpa_renewal_date) <= horizon)
                | (col(AssuranceCertificate.cpa_conditional_date) <= horizon),
            )
        ).all()
        for certificate in certificates:
            assert certificate.id is not None
            facts = CertificateFacts(
                certificate_id=certificate.id,
                number=certificate.number,
                expiry_date=certificate.cpa_expiry_date,
                renewal_date=certificate.cpa_renewal_date,
                conditional_date=certificate.cpa_conditional_date,
            )
            window = notice_window(facts, as_of=today)
            end = certificate.end
            if window is None or end is None:
                continue
            found.append(
                CertificateInWindow(
                    number=certificate.number,
                    window=window,
                    end_date=end.day,
                    end_kind=end.kind,
                    certificate_type=certificate.cpa_certificate_type,
                    listed_models=relying[certificate.number],
                )
            )
    return sorted(found, key=lambda c: (c.end_date, c.number))
