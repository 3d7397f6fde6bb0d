"""The one rule for when a CPA certificate ends: the earliest of expiry, renewal and condition."""

from __future__ import annotations

from datetime import date

import pytest

from cpl_service.certificates.cpa import CpaEnd, EndKind, cpa_end
from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.notices.rules import CertificateFacts

D1, D2, D3 = date(2027, 3, 31), date(2028, 6, 30), date(2029, 12, 31)
EXPIRY, RENEWAL, CONDITIONAL = EndKind.EXPIRY, EndKind.RENEWAL, EndKind.CONDITIONAL


@pytest.mark.parametrize(
    ("expiry", "renewal", "conditional", "expected"),
    [
        (None, None, None, None),
        (D2, None, None, CpaEnd(D2, EXPIRY)),
        (None, D2, None, CpaEnd(D2, RENEWAL)),
        (None, None, D2, CpaEnd(D2, CONDITIONAL)),
        (D3, None, D1, CpaEnd(D1, CONDITIONAL)),  # a condition before the expiry
        (D1, None, D3, CpaEnd(D1, EXPIRY)),  # a condition after it changes nothing
        (None, D3, D1, CpaEnd(D1, CONDITIONAL)),  # a lifetime certificate's condition
        (None, D1, D3, CpaEnd(D1, RENEWAL)),
        (D2, None, D2, CpaEnd(D2, EXPIRY)),  # ties name the expiry ...
        (None, D2, D2, CpaEnd(D2, RENEWAL)),  # ... or the renewal, not the condition
        (D1, D2, D3, CpaEnd(D1, EXPIRY)),  # all three (never from a workbook): earliest
        (D3, D1, D2, CpaEnd(D1, RENEWAL)),
        (D3, D2, D1, CpaEnd(D1, CONDITIONAL)),
    ],
)
def test_the_end_is_the_earliest_date(
    expiry: date | None, renewal: date | None, conditional: date | None, expected: CpaEnd | None
) -> None:
    assert (
        cpa_end(expiry_date=expiry, renewal_date=renewal, conditional_date=conditional) == expected
    )
    # The register and the notices rule use the same function.
    certificate = AssuranceCertificate(
        kind="CPA",
        number="CPA-1",
        cpa_expiry_date=expiry,
        cpa_renewal_date=renewal,
        cpa_conditional_date=conditional,
    )
    assert certificate.end == expected
    assert certificate.end_date == (expected.day if expected else None)
    facts = CertificateFacts(
        certificate_id=1,
        number="CPA-1",
        expiry_date=expiry,
        renewal_date=renewal,
        conditional_date=conditional,
    )
    assert facts.end == expected
    assert facts.ends_by_condition == (expected is not None and expected.kind is CONDITIONAL)


def test_end_kinds_read_as_words() -> None:
    assert [k.label for k in EndKind] == [
        "its expiry date",
        "its renewal date",
        "its conditional date",
    ]
