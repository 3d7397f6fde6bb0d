"""When the CPA certificates of listed Device Models end, month by month (SECAS dashboard).

A listed Device Model is an Active entry. It is counted in the month its CPA certificate
ends — the certificate's *end* as the notices see it (`certificates.cpa.cpa_end`: the
earliest of its expiry, renewal and conditional dates). The months are the current one and
the ones after it, up to the horizon. A Device Model that cannot be placed in a month is
counted once, under the reason why: its certificate is revoked, it has no CPA certificate
(SMETS1, PPMID), its certificate has no end date on record, its end has already passed
(awaiting the Panel's removal), or it ends beyond the horizon.

`cpa_end_calendar` is the pure rule; `listed_cpa_ends` reads the database and applies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from cpl_service.certificates.cpa import cpa_end
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.devices import DEVICE_TYPES, CertificateKind
from cpl_service.entries.models import Entry, EntryStatus

HORIZON_MONTHS = 24

_TYPE_ORDER = {t.code: i for i, t in enumerate(DEVICE_TYPES)}


@dataclass(frozen=True)
class ListedModels:
    """`count` listed Device Models of one type relying on one CPA certificate (or on none).

    `end_date` is the certificate's end (None when it has no date on record); `has_cpa` is
    False for a Device Model without a CPA certificate.
    """

    device_type: str
    end_date: date | None
    has_cpa: bool = True
    revoked: bool = False
    count: int = 1


@dataclass(frozen=True)
class CpaEndCalendar:
    """Listed Device Models by the month their CPA certificate ends, and by device type."""

    # The first day of each month of the horizon, in order (the current month first).
    months: tuple[date, ...]
    # The device types counted in some month, in the order of `devices.DEVICE_TYPES`.
    device_types: tuple[str, ...]
    # counts[month][device_type]: every month and every type of `device_types`, zeros too.
    counts: Mapping[date, Mapping[str, int]]
    ended: int = 0
    beyond: int = 0
    revoked: int = 0
    without_cpa: int = 0
    without_end: int = 0

    def month_total(self, month: date) -> int:
        return sum(self.counts[month].values())

    @property
    def in_horizon(self) -> int:
        return sum(self.month_total(m) for m in self.months)

    @property
    def last_day(self) -> date:
        """The last day of the horizon (the last day of its last month)."""
        return add_months(self.months[-1], 1) - timedelta(days=1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(first_of_month: date, months: int) -> date:
    """The first day of the month `months` after the month of `first_of_month`."""
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    year, month0 = divmod(index, 12)
    return date(year, month0 + 1, 1)


def _type_key(code: str) -> tuple[int, str]:
    return (_TYPE_ORDER.get(code, len(_TYPE_ORDER)), code)


def cpa_end_calendar(
    listed: Iterable[ListedModels], *, today: date, months: int = HORIZON_MONTHS
) -> CpaEndCalendar:
    """Count `listed` by the month their CPA certificate ends, from `today`'s month on.

    An end before `today` has passed (`ended`), even within the current month; an end
    after the last day of the last month is `beyond`. `months` must be at least 1.
    """
    if months < 1:
        raise ValueError("a calendar has at least one month")
    first = month_start(today)
    horizon = tuple(add_months(first, i) for i in range(months))
    after_horizon = add_months(first, months)
    buckets: dict[date, dict[str, int]] = {m: {} for m in horizon}
    ended = beyond = revoked = without_cpa = without_end = 0
    for group in listed:
        if group.count <= 0:
            continue
        if not group.has_cpa:
            without_cpa += group.count
        elif group.revoked:
            revoked += group.count
        elif group.end_date is None:
            without_end += group.count
        elif group.end_date < today:
            ended += group.count
        elif group.end_date >= after_horizon:
            beyond += group.count
        else:
            bucket = buckets[month_start(group.end_date)]
            bucket[group.device_type] = bucket.get(group.device_type, 0) + group.count
    types = tuple(sorted({t for b in buckets.values() for t in b}, key=_type_key))
    counts = {m: {t: buckets[m].get(t, 0) for t in types} for m in horizon}
    return CpaEndCalendar(
        months=horizon,
        device_types=types,
        counts=counts,
        ended=ended,
        beyond=beyond,
        revoked=revoked,
        without_cpa=without_cpa,
        without_end=without_end,
    )


def listed_cpa_ends(
    *, session: Session, today: date, months: int = HORIZON_MONTHS
) -> CpaEndCalendar:
    """Active entries by the month their CPA certificate ends (see `cpa_end_calendar`).

    The certificate register's dates count (a recorded renewal moves the end); an entry
    whose certificate number is missing from the register counts by its own dates. One
    row per group of alike entries is read, not one per entry.
    """
    certificate = AssuranceCertificate
    joined = and_(
        col(certificate.kind) == CertificateKind.CPA.value,
        col(certificate.number) == col(Entry.cpa_certificate_number),
    )
    grouped = (
        col(Entry.physical_device_type),
        col(Entry.cpa_certificate_number),
        col(Entry.cpa_expiry_date),
        col(Entry.cpa_renewal_date),
        col(Entry.cpa_conditional_date),
        col(certificate.id),
        col(certificate.cpa_expiry_date),
        col(certificate.cpa_renewal_date),
        col(certificate.cpa_conditional_date),
        col(certificate.status),
    )
    rows = session.connection().execute(
        sa_select(*grouped, func.count())
        .select_from(Entry)
        .outerjoin(certificate, joined)
        .where(col(Entry.status) == EntryStatus.ACTIVE)
        .group_by(*grouped)
    )
    listed = []
    for (
        device_type,
        number,
        own_expiry,
        own_renewal,
        own_conditional,
        registered,
        expiry,
        renewal,
        conditional,
        status,
        count,
    ) in rows:
        if registered is None:
            expiry, renewal, conditional = own_expiry, own_renewal, own_conditional
        end = cpa_end(expiry_date=expiry, renewal_date=renewal, conditional_date=conditional)
        listed.append(
            ListedModels(
                device_type=device_type,
                end_date=end.day if end else None,
                has_cpa=number is not None,
                revoked=status == CertificateStatus.REVOKED,
                count=int(count),
            )
        )
    return cpa_end_calendar(listed, today=today, months=months)
