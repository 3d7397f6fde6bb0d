"""Where a certificate stands on a day: the pure rule behind the review pages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cpl_service.certificates.cpa import EndKind
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.notices.rules import Threshold, reached_threshold
from cpl_service.notices.standing import Standing, certificate_standing

END_DAY = date(2028, 8, 31)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2027, 8, 30), None),  # a day before the 12-month threshold
        (date(2027, 8, 31), Threshold.TWELVE_MONTHS),
        (date(2028, 2, 28), Threshold.TWELVE_MONTHS),
        (date(2028, 2, 29), Threshold.SIX_MONTHS),  # 31 August - 6 months, a leap year
        (date(2028, 8, 30), Threshold.SIX_MONTHS),
        (date(2028, 8, 31), Threshold.END),
        (date(2030, 1, 1), Threshold.END),
    ],
)
def test_reached_threshold(as_of: date, expected: Threshold | None) -> None:
    assert reached_threshold(END_DAY, as_of=as_of) is expected


def cpa(
    *,
    expiry: date | None = END_DAY,
    renewal: date | None = None,
    conditional: date | None = None,
    revoked: bool = False,
) -> AssuranceCertificate:
    return AssuranceCertificate(
        id=7,
        kind="CPA",
        number="CPA-7",
        cpa_certificate_type="Lifetime" if renewal else "Fixed-term",
        cpa_expiry_date=expiry,
        cpa_renewal_date=renewal,
        cpa_conditional_date=conditional,
        status=CertificateStatus.REVOKED if revoked else CertificateStatus.VALID,
        revoked_at=datetime(2026, 5, 1, tzinfo=UTC) if revoked else None,
        revocation_reason="NCSC withdrew it" if revoked else None,
    )


def standing_on(certificate: AssuranceCertificate | None, day: date) -> Standing:
    return certificate_standing(
        kind="CPA", number="CPA-7", certificate=certificate, as_of=day
    ).standing


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2026, 1, 1), Standing.VALID),
        (date(2027, 8, 30), Standing.VALID),
        (date(2027, 8, 31), Standing.WITHIN_12_MONTHS),
        (date(2028, 2, 29), Standing.WITHIN_6_MONTHS),
        (date(2028, 8, 31), Standing.ENDED),
    ],
)
def test_a_fixed_term_certificate_moves_through_the_windows(
    as_of: date, expected: Standing
) -> None:
    assert standing_on(cpa(), as_of) is expected


def test_a_lifetime_certificate_ends_on_its_renewal_date() -> None:
    lifetime = cpa(expiry=None, renewal=END_DAY)
    found = certificate_standing(
        kind="CPA", number="CPA-7", certificate=lifetime, as_of=date(2028, 3, 1)
    )
    assert found.standing is Standing.WITHIN_6_MONTHS
    assert found.end is not None and found.end.kind is EndKind.RENEWAL


def test_a_conditional_date_is_told_and_can_bring_the_end_forward() -> None:
    far = cpa(conditional=date(2028, 6, 1))
    found = certificate_standing(
        kind="CPA", number="CPA-7", certificate=far, as_of=date(2026, 1, 1)
    )
    assert found.standing is Standing.VALID
    assert found.conditional and found.conditional_date == date(2028, 6, 1)
    assert found.end is not None and found.end.kind is EndKind.CONDITIONAL
    # 12 months before the conditional date, not the expiry, opens the first window.
    assert standing_on(far, date(2027, 6, 1)) is Standing.WITHIN_12_MONTHS
    assert standing_on(far, date(2028, 6, 1)) is Standing.ENDED
    plain = certificate_standing(
        kind="CPA", number="CPA-7", certificate=cpa(), as_of=date(2026, 1, 1)
    )
    assert not plain.conditional


def test_revoked_wins_over_every_window() -> None:
    for day in (date(2026, 1, 1), date(2028, 3, 1), date(2029, 1, 1)):
        found = certificate_standing(
            kind="CPA", number="CPA-7", certificate=cpa(revoked=True), as_of=day
        )
        assert found.standing is Standing.REVOKED
        assert found.blocks_approval
        assert found.revocation_reason == "NCSC withdrew it"


def test_zigbee_and_dlms_never_end() -> None:
    for kind in ("ZigBee", "DLMS"):
        certificate = AssuranceCertificate(id=1, kind=kind, number="X-1")
        found = certificate_standing(
            kind=kind, number="X-1", certificate=certificate, as_of=date(2099, 1, 1)
        )
        assert found.standing is Standing.VALID and found.end is None
        assert not found.blocks_approval


def test_a_number_missing_from_the_register_says_so() -> None:
    found = certificate_standing(kind="DLMS", number="D-9", certificate=None, as_of=END_DAY)
    assert found.standing is Standing.NOT_IN_REGISTER
    assert found.certificate_id is None


def test_ended_blocks_approval_like_the_approval_rule() -> None:
    assert certificate_standing(
        kind="CPA", number="CPA-7", certificate=cpa(), as_of=END_DAY
    ).blocks_approval
    assert not certificate_standing(
        kind="CPA", number="CPA-7", certificate=cpa(), as_of=date(2028, 8, 30)
    ).blocks_approval
