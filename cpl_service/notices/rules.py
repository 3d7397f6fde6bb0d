"""Which CPA notices are due on a date: a pure rule, no database, no clock.

A CPA certificate ends on the earliest of its expiry, renewal and conditional dates
(`certificates.cpa.cpa_end`). The Panel tells the manufacturer 12 months and 6 months
before that end, and tells SECAS when the end arrives. For one end date the thresholds
only ever move forward (12m → 6m → end): the notice due on a date is the *latest* threshold
reached, and it is not due once a later threshold for the same end has been notified. So a
late first run after both thresholds sends only the 6-month notice.

Notices belong to the end date they announce. When the end moves (SECAS records a
lifetime certificate's renewal, or a conditional date is cleared) the thresholds of the new
end are fresh: its 12- and 6-month notices go out once each when reached, and the notices
already sent for the old end stay sent.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from cpl_service.certificates.cpa import CpaEnd, EndKind, cpa_end


class Threshold(StrEnum):
    """A point before (or at) a CPA certificate's end when someone is told."""

    TWELVE_MONTHS = "12m"
    SIX_MONTHS = "6m"
    END = "end"

    @property
    def months_before(self) -> int:
        return _MONTHS_BEFORE[self]

    @property
    def label(self) -> str:
        """How a person names the notice: "12-month notice", "end-date notice"."""
        return _LABELS[self]


_MONTHS_BEFORE = {Threshold.TWELVE_MONTHS: 12, Threshold.SIX_MONTHS: 6, Threshold.END: 0}
_LABELS = {
    Threshold.TWELVE_MONTHS: "12-month notice",
    Threshold.SIX_MONTHS: "6-month notice",
    Threshold.END: "end-date notice",
}
# In the order they are reached.
THRESHOLDS: tuple[Threshold, ...] = (Threshold.TWELVE_MONTHS, Threshold.SIX_MONTHS, Threshold.END)


@dataclass(frozen=True)
class CertificateFacts:
    """What the rule needs to know about one CPA certificate.

    `notified` holds the thresholds already queued or sent for this certificate's current
    end date (to anyone); the rule never goes back to an earlier threshold than one of those.
    """

    certificate_id: int
    number: str
    expiry_date: date | None
    conditional_date: date | None = None
    revoked: bool = False
    notified: frozenset[Threshold] = field(default_factory=frozenset)
    renewal_date: date | None = None

    @property
    def end(self) -> CpaEnd | None:
        """The end and which date sets it (None if no date is known)."""
        return cpa_end(
            expiry_date=self.expiry_date,
            renewal_date=self.renewal_date,
            conditional_date=self.conditional_date,
        )

    @property
    def end_date(self) -> date | None:
        """The earliest of the expiry, renewal and conditional dates (None if none is known)."""
        end = self.end
        return end.day if end else None

    @property
    def ends_by_condition(self) -> bool:
        """True when the conditional date, not the expiry or renewal, sets the end."""
        end = self.end
        return end is not None and end.kind is EndKind.CONDITIONAL


@dataclass(frozen=True)
class DueNotice:
    """One notice the rule says should exist for a certificate on the date asked."""

    certificate_id: int
    number: str
    threshold: Threshold
    end_date: date
    threshold_date: date
    ends_by_condition: bool
    end_kind: EndKind = EndKind.EXPIRY


def months_before(day: date, months: int) -> date:
    """`day` minus `months` calendar months, clamped to the end of a shorter month.

    31 August 2027 minus 6 months is 28 February 2027; 29 February 2028 minus 12
    months is 28 February 2027.
    """
    index = day.year * 12 + (day.month - 1) - months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def threshold_date(end_date: date, threshold: Threshold) -> date:
    """The first day on which `threshold`'s notice is due for a certificate ending `end_date`."""
    return months_before(end_date, threshold.months_before)


def reached_threshold(end_date: date, *, as_of: date) -> Threshold | None:
    """The latest threshold reached on `as_of` for a certificate ending `end_date`, or None.

    `TWELVE_MONTHS`: within 12 months of the end; `SIX_MONTHS`: within 6 months; `END`: the
    end has arrived. None while the end is more than 12 months away.
    """
    reached = [t for t in THRESHOLDS if as_of >= threshold_date(end_date, t)]
    return reached[-1] if reached else None


def due_notice(certificate: CertificateFacts, *, as_of: date) -> DueNotice | None:
    """The notice due for one certificate on `as_of`, or None."""
    ending = certificate.end
    if certificate.revoked or ending is None:
        return None
    end = ending.day
    latest = reached_threshold(end, as_of=as_of)
    if latest is None:
        return None
    order = THRESHOLDS.index(latest)
    if any(THRESHOLDS.index(t) > order for t in certificate.notified):
        return None
    return DueNotice(
        certificate_id=certificate.certificate_id,
        number=certificate.number,
        threshold=latest,
        end_date=end,
        threshold_date=threshold_date(end, latest),
        ends_by_condition=ending.kind is EndKind.CONDITIONAL,
        end_kind=ending.kind,
    )


def due_notices(certificates: Iterable[CertificateFacts], *, as_of: date) -> list[DueNotice]:
    """The notices that should exist on `as_of`, at most one per certificate.

    A notice already queued for the same end and threshold is returned again (so a contact
    added since then is told too); the outbox's unique key makes the repeat a no-op.
    """
    found = (due_notice(c, as_of=as_of) for c in certificates)
    return sorted(
        (n for n in found if n is not None), key=lambda n: (n.certificate_id, n.threshold)
    )


def thresholds_from(values: Collection[str]) -> frozenset[Threshold]:
    """Known threshold words among `values` (unknown words are ignored)."""
    known = {t.value for t in Threshold}
    return frozenset(Threshold(v) for v in values if v in known)
