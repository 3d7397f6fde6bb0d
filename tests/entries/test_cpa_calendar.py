"""Listed Device Models by the month their CPA certificate ends: the rule, then the query."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from cpl_service import clock
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.entries.cpa_calendar import (
    ListedModels,
    add_months,
    cpa_end_calendar,
    listed_cpa_ends,
    month_start,
)
from tests.factories import make_entry

TODAY = date(2026, 12, 15)


def one(end: date | None, device_type: str = "GSME", **kw: Any) -> ListedModels:
    return ListedModels(device_type=device_type, end_date=end, **kw)


def where(end: date | None, *, today: date = TODAY, months: int = 24, **kw: Any) -> str:
    """Where one Device Model ending on `end` is counted: a month (ISO) or a reason."""
    calendar = cpa_end_calendar([one(end, **kw)], today=today, months=months)
    for reason in ("ended", "beyond", "revoked", "without_cpa", "without_end"):
        if getattr(calendar, reason):
            return reason
    (month,) = [m for m in calendar.months if calendar.month_total(m)]
    return month.isoformat()


def test_the_horizon_is_this_month_and_the_23_after_it() -> None:
    calendar = cpa_end_calendar([], today=TODAY)
    assert len(calendar.months) == 24
    assert calendar.months[0] == date(2026, 12, 1)
    assert calendar.months[1] == date(2027, 1, 1)
    assert calendar.months[-1] == date(2028, 11, 1)
    assert calendar.last_day == date(2028, 11, 30)
    assert calendar.device_types == ()
    assert calendar.in_horizon == 0


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (date(2026, 12, 14), "ended"),  # yesterday, in this very month
        (date(2026, 12, 1), "ended"),
        (date(2025, 1, 1), "ended"),
        (date(2026, 12, 15), "2026-12-01"),  # today: not ended yet
        (date(2026, 12, 31), "2026-12-01"),  # last day of the year
        (date(2027, 1, 1), "2027-01-01"),  # first day of the next
        (date(2027, 1, 31), "2027-01-01"),
        (date(2027, 2, 1), "2027-02-01"),
        (date(2027, 2, 28), "2027-02-01"),
        (date(2028, 2, 29), "2028-02-01"),  # leap day
        (date(2027, 12, 31), "2027-12-01"),
        (date(2028, 1, 1), "2028-01-01"),
        (date(2028, 11, 1), "2028-11-01"),  # first day of the last month
        (date(2028, 11, 30), "2028-11-01"),  # last day of the horizon
        (date(2028, 12, 1), "beyond"),  # the day after it
        (date(2040, 6, 1), "beyond"),
    ],
)
def test_each_end_date_lands_in_its_month_or_outside(end: date, expected: str) -> None:
    assert where(end) == expected


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"has_cpa": False}, "without_cpa"),
        ({"revoked": True}, "revoked"),
        ({"revoked": True, "has_cpa": False}, "without_cpa"),
    ],
)
def test_models_without_a_live_cpa_end_are_counted_apart(kw: dict, expected: str) -> None:
    assert where(date(2027, 3, 1), **kw) == expected
    assert where(None, **kw) == expected


def test_a_certificate_with_no_end_on_record_is_counted_apart() -> None:
    # A lifetime certificate whose renewal date is not known, say: it never ends.
    assert where(None) == "without_end"
    assert where(None, revoked=True) == "revoked"


def test_every_day_is_counted_exactly_once_in_the_right_place() -> None:
    for today in (date(2026, 12, 15), date(2027, 1, 1), date(2027, 12, 31), date(2028, 2, 29)):
        days = [today + timedelta(days=d) for d in range(-40, 800)]
        calendar = cpa_end_calendar([one(d) for d in days], today=today, months=24)
        assert calendar.ended + calendar.beyond + calendar.in_horizon == len(days)
        assert calendar.ended == 40
        first = month_start(today)
        for month in calendar.months:
            inside = [d for d in days if today <= d and month_start(d) == month]
            assert calendar.month_total(month) == len(inside), (today, month)
        after = add_months(first, 24)
        assert calendar.beyond == sum(1 for d in days if d >= after)


def test_counts_by_type_with_empty_months_filled_with_zeros() -> None:
    listed = [
        one(date(2027, 1, 10), "GSME", count=3),
        one(date(2027, 1, 20), "ESME_SINGLE"),
        one(date(2027, 3, 5), "GSME"),
        one(date(2027, 3, 6), "GSME", count=0),  # nothing
        one(date(2031, 1, 1), "HCALCS"),  # beyond: not a type of the chart
        one(None, "PPMID", has_cpa=False, count=4),
    ]
    calendar = cpa_end_calendar(listed, today=TODAY)
    assert calendar.device_types == ("ESME_SINGLE", "GSME")  # in DEVICE_TYPES order
    assert calendar.counts[date(2027, 1, 1)] == {"ESME_SINGLE": 1, "GSME": 3}
    assert calendar.counts[date(2027, 2, 1)] == {"ESME_SINGLE": 0, "GSME": 0}
    assert calendar.counts[date(2027, 3, 1)] == {"ESME_SINGLE": 0, "GSME": 1}
    assert calendar.month_total(date(2027, 1, 1)) == 4
    assert calendar.in_horizon == 5
    assert (calendar.beyond, calendar.without_cpa) == (1, 4)
    assert all(set(calendar.counts[m]) == {"ESME_SINGLE", "GSME"} for m in calendar.months)


def test_unknown_device_types_come_after_the_known_ones() -> None:
    listed = [one(date(2027, 1, 1), "ZZZ"), one(date(2027, 1, 1), "AAA"), one(date(2027, 1, 1))]
    assert cpa_end_calendar(listed, today=TODAY).device_types == ("GSME", "AAA", "ZZZ")


def test_horizon_lengths() -> None:
    assert where(date(2026, 12, 31), months=1) == "2026-12-01"
    assert where(date(2027, 1, 1), months=1) == "beyond"
    assert len(cpa_end_calendar([], today=TODAY, months=36).months) == 36
    with pytest.raises(ValueError):
        cpa_end_calendar([], today=TODAY, months=0)


def test_add_months_crosses_years() -> None:
    assert add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert add_months(date(2026, 1, 1), 24) == date(2028, 1, 1)
    assert add_months(date(2026, 3, 1), -3) == date(2025, 12, 1)


# --- the query ------------------------------------------------------------------------


def test_query_counts_active_entries_by_their_certificates_end(session: Session) -> None:
    today = clock.today()
    soon = today + timedelta(days=40)
    later = today + timedelta(days=200)
    for _ in range(2):
        make_entry(
            session,
            status="active",
            physical_device_type="GSME",
            dlms_certificate_number=None,
            cpa_certificate_number="CPA-G",
            cpa_expiry_date=soon,
        )
    make_entry(session, status="active", cpa_certificate_number="CPA-E", cpa_expiry_date=soon)
    # Conditional date before the expiry: the condition sets the end.
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-C",
        cpa_expiry_date=today + timedelta(days=3000),
        cpa_conditional_date=later,
    )
    # Lifetime: the renewal date is its end.
    make_entry(
        session,
        status="active",
        physical_device_type="HCALCS",
        dlms_certificate_number=None,
        cpa_certificate_number="CPA-L",
        cpa_certificate_type="Lifetime",
        cpa_expiry_date=None,
        cpa_renewal_date=later,
    )
    make_entry(session, cpa_certificate_number="CPA-P", cpa_expiry_date=soon)  # pending
    make_entry(session, status="withdrawn", cpa_certificate_number="CPA-W", cpa_expiry_date=soon)
    make_entry(session, status="active", cpa_certificate_number="CPA-R", cpa_expiry_date=soon)
    make_entry(
        session,
        status="active",
        physical_device_type="PPMID",
        dlms_certificate_number=None,
        cpa_certificate_number=None,
        cpa_expiry_date=None,
    )
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-OLD",
        cpa_expiry_date=today + timedelta(days=5),
    )
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-FAR",
        cpa_expiry_date=today + timedelta(days=3000),
    )
    registered = {c.number: c for c in session.exec(select(AssuranceCertificate)).all()}
    registered["CPA-R"].status = CertificateStatus.REVOKED
    # The register, not the entry's copy, says when a certificate ends.
    registered["CPA-OLD"].cpa_expiry_date = today - timedelta(days=1)
    session.add_all([registered["CPA-R"], registered["CPA-OLD"]])
    session.commit()

    calendar = listed_cpa_ends(session=session, today=today)
    assert calendar.device_types == ("ESME_SINGLE", "GSME", "HCALCS")
    assert calendar.counts[month_start(soon)]["GSME"] == 2
    assert calendar.counts[month_start(soon)]["ESME_SINGLE"] == 1
    assert calendar.counts[month_start(later)]["ESME_SINGLE"] == 1
    assert calendar.counts[month_start(later)]["HCALCS"] == 1
    assert calendar.in_horizon == 5
    assert (calendar.revoked, calendar.without_cpa, calendar.ended, calendar.beyond) == (
        1,
        1,
        1,
        1,
    )
    assert calendar.without_end == 0


def test_query_uses_the_entrys_dates_when_the_register_has_none(session: Session) -> None:
    today = clock.today()
    soon = today + timedelta(days=40)
    make_entry(session, status="active", cpa_certificate_number="CPA-X", cpa_expiry_date=soon)
    certificate = session.exec(
        select(AssuranceCertificate).where(AssuranceCertificate.number == "CPA-X")
    ).one()
    session.delete(certificate)
    session.commit()
    calendar = listed_cpa_ends(session=session, today=today)
    assert calendar.counts[month_start(soon)]["ESME_SINGLE"] == 1
