"""Notices re-armed by a renewal, simulated day by day against the pure rule.

The outbox is modelled as the service keeps it: one notice per (end date, threshold), and
the rule is told the thresholds already notified for the certificate's *current* end.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cpl_service.notices.rules import CertificateFacts, Threshold, due_notice, months_before

T12, T6, END = Threshold.TWELVE_MONTHS, Threshold.SIX_MONTHS, Threshold.END


def simulate(
    *,
    first_renewal: date,
    renewals: dict[date, date],
    start: date,
    stop: date,
    conditional: date | None = None,
) -> list[tuple[date, Threshold, date]]:
    """Run the rule every day from `start` to `stop`; on each day in `renewals` SECAS
    records that renewal date first. Returns (day, threshold, end) of each notice queued."""
    outbox: set[tuple[date, Threshold]] = set()
    sent: list[tuple[date, Threshold, date]] = []
    renewal = first_renewal
    day = start
    while day <= stop:
        renewal = renewals.get(day, renewal)
        probe = CertificateFacts(1, "CPA-L", None, conditional, renewal_date=renewal)
        end = probe.end_date
        assert end is not None
        facts = CertificateFacts(
            1,
            "CPA-L",
            None,
            conditional,
            renewal_date=renewal,
            notified=frozenset(t for e, t in outbox if e == end),
        )
        found = due_notice(facts, as_of=day)
        if found is not None and (found.end_date, found.threshold) not in outbox:
            outbox.add((found.end_date, found.threshold))
            sent.append((day, found.threshold, found.end_date))
        day += timedelta(days=1)
    return sent


OLD, NEW = date(2028, 8, 31), date(2031, 8, 31)


def test_a_renewal_after_both_notices_arms_the_new_end_once_each() -> None:
    renewed_on = date(2028, 5, 10)
    sent = simulate(
        first_renewal=OLD,
        renewals={renewed_on: NEW},
        start=date(2027, 1, 1),
        stop=date(2031, 10, 1),
    )
    assert sent == [
        (months_before(OLD, 12), T12, OLD),
        (months_before(OLD, 6), T6, OLD),
        (months_before(NEW, 12), T12, NEW),
        (months_before(NEW, 6), T6, NEW),
        (NEW, END, NEW),
    ]


def test_a_renewal_between_the_notices_sends_no_old_six_month_notice() -> None:
    sent = simulate(
        first_renewal=OLD,
        renewals={date(2027, 12, 1): NEW},
        start=date(2027, 1, 1),
        stop=date(2031, 10, 1),
    )
    assert [(t, e) for _, t, e in sent] == [(T12, OLD), (T12, NEW), (T6, NEW), (END, NEW)]


@pytest.mark.parametrize(
    ("renewed_on", "new_end", "expected"),
    [
        # A new end already within 6 months: only its 6-month notice, at once.
        (date(2028, 5, 10), date(2028, 10, 31), [(date(2028, 5, 10), T6)]),
        # Within 12 months but not 6: its 12-month notice at once, then the 6-month one.
        (
            date(2028, 5, 10),
            date(2029, 1, 31),
            [(date(2028, 5, 10), T12), (date(2028, 7, 31), T6)],
        ),
    ],
)
def test_a_near_new_end_starts_from_the_threshold_reached(
    renewed_on: date, new_end: date, expected: list[tuple[date, Threshold]]
) -> None:
    sent = simulate(
        first_renewal=OLD,
        renewals={renewed_on: new_end},
        start=date(2027, 1, 1),
        stop=new_end - timedelta(days=1),
    )
    assert [(d, t) for d, t, e in sent if e == new_end] == expected


def test_renewed_twice_and_back_to_an_announced_date_sends_nothing_again() -> None:
    sent = simulate(
        first_renewal=OLD,
        renewals={date(2028, 5, 10): NEW, date(2028, 5, 20): OLD, date(2028, 6, 1): NEW},
        start=date(2027, 1, 1),
        stop=date(2028, 8, 1),
    )
    assert [(t, e) for _, t, e in sent] == [(T12, OLD), (T6, OLD)]
    assert len(set(sent)) == len(sent)


def test_a_renewal_that_does_not_move_an_earlier_conditional_end_re_sends_nothing() -> None:
    conditional = date(2028, 2, 29)
    sent = simulate(
        first_renewal=OLD,
        renewals={date(2027, 12, 1): NEW},
        conditional=conditional,
        start=date(2027, 1, 1),
        stop=date(2028, 3, 31),
    )
    assert [(t, e) for _, t, e in sent] == [
        (T12, conditional),
        (T6, conditional),
        (END, conditional),
    ]
