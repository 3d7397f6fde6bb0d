"""CPA certificates inside their 12- and 6-month notice windows (the SECAS dashboard)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from cpl_service import clock
from cpl_service.certificates.cpa import EndKind
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.notices.rules import CertificateFacts, Threshold, threshold_date
from cpl_service.notices.windows import certificates_in_windows, notice_window
from tests.factories import make_entry

END = date(2027, 8, 31)


def facts(**kw: object) -> CertificateFacts:
    values: dict = {"certificate_id": 1, "number": "CPA-1", "expiry_date": END, **kw}
    return CertificateFacts(**values)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2026, 8, 30), None),
        (date(2026, 8, 31), Threshold.TWELVE_MONTHS),
        (date(2027, 2, 27), Threshold.TWELVE_MONTHS),
        (date(2027, 2, 28), Threshold.SIX_MONTHS),  # 31 August less 6 months, clamped
        (date(2027, 8, 30), Threshold.SIX_MONTHS),
        (date(2027, 8, 31), Threshold.END),
        (date(2030, 1, 1), Threshold.END),
    ],
)
def test_the_window_is_the_latest_threshold_reached(
    as_of: date, expected: Threshold | None
) -> None:
    assert notice_window(facts(), as_of=as_of) == expected


def test_every_day_agrees_with_the_notice_thresholds() -> None:
    twelve = threshold_date(END, Threshold.TWELVE_MONTHS)
    six = threshold_date(END, Threshold.SIX_MONTHS)
    for offset in range(-500, 20):
        day = END + timedelta(days=offset)
        expected = (
            None
            if day < twelve
            else Threshold.TWELVE_MONTHS
            if day < six
            else Threshold.SIX_MONTHS
            if day < END
            else Threshold.END
        )
        assert notice_window(facts(), as_of=day) == expected, day


def test_notices_already_sent_do_not_hide_the_window() -> None:
    sent = frozenset({Threshold.SIX_MONTHS, Threshold.END})
    assert notice_window(facts(notified=sent), as_of=date(2027, 3, 1)) == Threshold.SIX_MONTHS


def test_revoked_and_dateless_certificates_have_no_window() -> None:
    assert notice_window(facts(revoked=True), as_of=date(2027, 3, 1)) is None
    assert notice_window(facts(expiry_date=None), as_of=date(2027, 3, 1)) is None


def test_conditional_and_renewal_dates_set_the_end() -> None:
    conditional = facts(expiry_date=date(2030, 1, 1), conditional_date=END)
    lifetime = facts(expiry_date=None, renewal_date=END)
    for certificate in (conditional, lifetime):
        assert notice_window(certificate, as_of=date(2027, 3, 1)) == Threshold.SIX_MONTHS


def test_query_finds_relied_on_valid_certificates_in_a_window(session: Session) -> None:
    today = clock.today()
    in_three = today + timedelta(days=90)
    for number, days, extra in (
        ("CPA-SIX", 90, {}),
        ("CPA-TWELVE", 270, {}),
        ("CPA-FAR", 800, {}),
        ("CPA-GONE", -7, {}),
        ("CPA-REVOKED", 90, {}),
        ("CPA-COND", 3000, {"cpa_conditional_date": today + timedelta(days=300)}),
        (
            "CPA-LIFE",
            None,
            {"cpa_certificate_type": "Lifetime", "cpa_renewal_date": today + timedelta(days=150)},
        ),
    ):
        expiry = today + timedelta(days=days) if days is not None else None
        make_entry(
            session,
            status="active",
            cpa_certificate_number=number,
            cpa_expiry_date=expiry,
            **extra,
        )
    make_entry(session, status="active", cpa_certificate_number="CPA-SIX", cpa_expiry_date=in_three)
    make_entry(session, cpa_certificate_number="CPA-PENDING", cpa_expiry_date=in_three)
    revoked = session.exec(
        select(AssuranceCertificate).where(AssuranceCertificate.number == "CPA-REVOKED")
    ).one()
    revoked.status = CertificateStatus.REVOKED
    session.add(revoked)
    session.commit()

    found = {c.number: c for c in certificates_in_windows(session=session, today=today)}
    assert set(found) == {"CPA-SIX", "CPA-TWELVE", "CPA-GONE", "CPA-COND", "CPA-LIFE"}
    assert found["CPA-SIX"].window is Threshold.SIX_MONTHS
    assert found["CPA-SIX"].listed_models == 2
    assert found["CPA-TWELVE"].window is Threshold.TWELVE_MONTHS
    assert found["CPA-GONE"].window is Threshold.END
    assert found["CPA-COND"].window is Threshold.TWELVE_MONTHS
    assert found["CPA-COND"].end_kind is EndKind.CONDITIONAL
    assert found["CPA-LIFE"].window is Threshold.SIX_MONTHS
    assert found["CPA-LIFE"].end_kind is EndKind.RENEWAL
    assert found["CPA-LIFE"].certificate_type == "Lifetime"
    ordered = [c.number for c in certificates_in_windows(session=session, today=today)]
    assert ordered == ["CPA-GONE", "CPA-SIX", "CPA-LIFE", "CPA-TWELVE", "CPA-COND"]
