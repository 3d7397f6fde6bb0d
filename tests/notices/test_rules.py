"""The pure due-notice rule: thresholds, month ends, leap years, late runs, revocation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cpl_service.notices.rules import (
    CertificateFacts,
    Threshold,
    due_notice,
    due_notices,
    months_before,
    threshold_date,
    thresholds_from,
)

T12, T6, END = Threshold.TWELVE_MONTHS, Threshold.SIX_MONTHS, Threshold.END


def cert(
    expiry: date | None,
    conditional: date | None = None,
    *,
    revoked: bool = False,
    notified: set[Threshold] | None = None,
    cid: int = 1,
) -> CertificateFacts:
    return CertificateFacts(
        certificate_id=cid,
        number=f"CPA-{cid}",
        expiry_date=expiry,
        conditional_date=conditional,
        revoked=revoked,
        notified=frozenset(notified or ()),
    )


def due_on(facts: CertificateFacts, day: date) -> Threshold | None:
    found = due_notice(facts, as_of=day)
    return found.threshold if found else None


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 8, 31), 6, date(2027, 2, 28)),  # 31 August -> end of February
        (date(2028, 8, 31), 6, date(2028, 2, 29)),  # ... of a leap year
        (date(2028, 2, 29), 12, date(2027, 2, 28)),  # leap day, a year back
        (date(2027, 2, 28), 12, date(2026, 2, 28)),
        (date(2029, 2, 28), 12, date(2028, 2, 28)),  # not moved to the leap day
        (date(2027, 3, 31), 1, date(2027, 2, 28)),
        (date(2027, 5, 31), 6, date(2026, 11, 30)),
        (date(2027, 12, 31), 6, date(2027, 6, 30)),
        (date(2027, 3, 15), 6, date(2026, 9, 15)),  # across a year end
        (date(2027, 1, 1), 12, date(2026, 1, 1)),
        (date(2027, 6, 30), 12, date(2026, 6, 30)),
        (date(2027, 7, 31), 0, date(2027, 7, 31)),
        (date(2027, 10, 31), 6, date(2027, 4, 30)),
    ],
)
def test_months_before_clamps_to_month_end(day: date, months: int, expected: date) -> None:
    assert months_before(day, months) == expected


def test_threshold_dates_of_a_certificate_ending_31_august() -> None:
    end = date(2027, 8, 31)
    assert threshold_date(end, T12) == date(2026, 8, 31)
    assert threshold_date(end, T6) == date(2027, 2, 28)
    assert threshold_date(end, END) == end


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 8, 30), None),
        (date(2026, 8, 31), T12),
        (date(2027, 1, 1), T12),
        (date(2027, 2, 27), T12),
        (date(2027, 2, 28), T6),  # 6 months before 31 August 2027
        (date(2027, 8, 30), T6),
        (date(2027, 8, 31), END),
        (date(2030, 1, 1), END),
    ],
)
def test_the_latest_threshold_reached_is_due(day: date, expected: Threshold | None) -> None:
    assert due_on(cert(date(2027, 8, 31)), day) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 2, 27), None),
        (date(2027, 2, 28), T12),  # 12 months before 29 February 2028
        (date(2027, 8, 28), T12),
        (date(2027, 8, 29), T6),
        (date(2028, 2, 28), T6),
        (date(2028, 2, 29), END),
    ],
)
def test_a_certificate_ending_on_a_leap_day(day: date, expected: Threshold | None) -> None:
    assert due_on(cert(date(2028, 2, 29)), day) == expected


def test_a_late_first_run_after_both_thresholds_gives_only_the_six_month_notice() -> None:
    facts = cert(date(2027, 8, 31))
    found = due_notices([facts], as_of=date(2027, 5, 1))
    assert [(n.threshold, n.threshold_date) for n in found] == [(T6, date(2027, 2, 28))]
    # Once the 6-month notice exists, the 12-month one is never due again.
    later = cert(date(2027, 8, 31), notified={T6})
    for day in (date(2027, 5, 2), date(2027, 8, 30)):
        assert due_on(later, day) == T6  # repeats are no-ops in the outbox


def test_the_conditional_date_sets_the_end_when_earlier() -> None:
    facts = cert(date(2029, 12, 31), date(2027, 8, 31))
    found = due_notice(facts, as_of=date(2027, 2, 28))
    assert found is not None
    assert (found.threshold, found.end_date, found.ends_by_condition) == (
        T6,
        date(2027, 8, 31),
        True,
    )
    # A conditional date after the expiry changes nothing: the expiry is the end.
    late_condition = due_notice(cert(date(2027, 8, 31), date(2028, 1, 1)), as_of=date(2027, 3, 1))
    assert late_condition is not None
    assert late_condition.end_date == date(2027, 8, 31)
    assert not late_condition.ends_by_condition


def test_only_a_conditional_date() -> None:
    facts = cert(None, date(2027, 8, 31))
    assert due_on(facts, date(2026, 8, 31)) == T12
    assert facts.ends_by_condition


def test_a_conditional_date_cleared_after_a_notice_never_goes_back_to_12_months() -> None:
    # The 6-month notice went out for a conditional end of 31 August 2027; then the
    # condition was met and cleared, leaving the expiry of 31 December 2029.
    cleared = cert(date(2029, 12, 31), None, notified={T6})
    assert due_on(cleared, date(2027, 3, 1)) is None  # no threshold of the new end reached
    assert due_on(cleared, date(2028, 12, 31)) is None  # 12 months before: not sent again
    assert due_on(cleared, date(2029, 6, 30)) == T6  # already in the outbox: no-op
    assert due_on(cleared, date(2029, 12, 31)) == END  # SECAS still hears of the end


def test_a_revoked_certificate_gets_no_notice() -> None:
    for day in (date(2026, 9, 1), date(2027, 3, 1), date(2027, 9, 1)):
        assert due_on(cert(date(2027, 8, 31), revoked=True), day) is None
    # Revoked after the 12-month notice: nothing further either.
    revoked = cert(date(2027, 8, 31), revoked=True, notified={T12})
    assert due_notices([revoked], as_of=date(2027, 3, 1)) == []


def test_no_dates_no_notice() -> None:
    assert due_on(cert(None, None), date(2027, 1, 1)) is None


def test_nothing_goes_back_after_the_end_notice() -> None:
    # The end notice itself repeats (the outbox drops it); nothing earlier comes back,
    # even if the end moves later.
    assert due_on(cert(date(2027, 8, 31), notified={END}), date(2027, 9, 1)) == END
    assert due_on(cert(date(2028, 8, 31), notified={END}), date(2028, 3, 1)) is None
    assert due_on(cert(date(2027, 8, 31), notified={T12}), date(2027, 3, 1)) == T6


def test_one_notice_per_certificate_sorted() -> None:
    facts = [
        cert(date(2027, 8, 31), cid=3),
        cert(date(2028, 8, 31), cid=1),
        cert(date(2030, 1, 1), cid=2),
        cert(date(2027, 1, 1), cid=4, revoked=True),
    ]
    found = due_notices(facts, as_of=date(2027, 8, 31))
    assert [(n.certificate_id, n.threshold) for n in found] == [(1, T12), (3, END)]


def test_thresholds_from_ignores_unknown_words() -> None:
    assert thresholds_from(["12m", "end", "3m", ""]) == {T12, END}


def _simulate(facts: CertificateFacts, days: list[date]) -> list[tuple[Threshold, date]]:
    """Run the rule on each day, recording notices as the outbox would (once each)."""
    sent: list[tuple[Threshold, date]] = []
    for day in days:
        found = due_notice(facts, as_of=day)
        if found and found.threshold not in facts.notified:
            sent.append((found.threshold, day))
            facts = CertificateFacts(
                certificate_id=facts.certificate_id,
                number=facts.number,
                expiry_date=facts.expiry_date,
                conditional_date=facts.conditional_date,
                notified=facts.notified | {found.threshold},
            )
    return sent


def test_daily_runs_send_each_notice_once_on_its_day_for_every_end_date_of_a_leap_year() -> None:
    end = date(2028, 1, 1)
    while end.year == 2028:
        start = months_before(end, 13)
        days = [start + timedelta(days=i) for i in range((end - start).days + 10)]
        assert _simulate(cert(end), days) == [
            (T12, months_before(end, 12)),
            (T6, months_before(end, 6)),
            (END, end),
        ], end
        end += timedelta(days=1)


@pytest.mark.parametrize("first_run_offset", [0, 1, 17, 60, 180])
def test_runs_starting_after_the_six_month_threshold_never_send_the_12_month_notice(
    first_run_offset: int,
) -> None:
    end = date(2027, 8, 31)
    first = threshold_date(end, T6) + timedelta(days=first_run_offset)
    days = [first + timedelta(days=i) for i in range(0, 400, 7)]
    sent = _simulate(cert(end), days)
    expected = [T6, END] if first < end else [END]
    assert [t for t, _ in sent] == expected


def test_weekly_runs_never_miss_a_threshold() -> None:
    end = date(2027, 8, 31)
    days = [date(2026, 1, 5) + timedelta(days=7 * i) for i in range(100)]
    sent = _simulate(cert(end), days)
    assert [t for t, _ in sent] == [T12, T6, END]
    for threshold, day in sent:
        assert timedelta(0) <= day - threshold_date(end, threshold) < timedelta(days=7)
