"""CPA certificate types (SEC MP209) and the one rule for when a CPA certificate ends.

NCSC issues *fixed-term* CPA certificates, which have an expiry date, and (since SEC
modification MP209, 1 August 2022) *lifetime* ones, which have a renewal date instead. Either
kind may also carry a conditional date. A certificate stops covering its Device Models on the
earliest of these dates: that day is its *end*, for notices, approval refusal and the
certificate register alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class CpaCertificateType(StrEnum):
    """The kind of a CPA certificate, in the words of the workbook and the extract."""

    FIXED_TERM = "Fixed-term"
    LIFETIME = "Lifetime"


class EndKind(StrEnum):
    """Which of a CPA certificate's dates sets its end."""

    EXPIRY = "expiry"
    RENEWAL = "renewal"
    CONDITIONAL = "conditional"

    @property
    def label(self) -> str:
        """How a person names the date: "its expiry date", "its renewal date"."""
        return f"its {self.value} date"


@dataclass(frozen=True)
class CpaEnd:
    """The day a CPA certificate ends and which of its dates sets it."""

    day: date
    kind: EndKind


def cpa_end(
    *,
    expiry_date: date | None,
    renewal_date: date | None,
    conditional_date: date | None,
) -> CpaEnd | None:
    """The end of a CPA certificate: the earliest of its expiry, renewal and conditional dates.

    When dates tie, the expiry or renewal date is named as the cause rather than the
    condition (the certificate would end that day even with its conditions met).

    Args:
        expiry_date: a fixed-term certificate's expiry date.
        renewal_date: a lifetime certificate's renewal date.
        conditional_date: the date by which a conditional certificate's conditions must be met.

    Returns:
        The end and its cause, or None when no date is known.
    """
    candidates = [
        (day, kind)
        for day, kind in (
            (expiry_date, EndKind.EXPIRY),
            (renewal_date, EndKind.RENEWAL),
            (conditional_date, EndKind.CONDITIONAL),
        )
        if day is not None
    ]
    if not candidates:
        return None
    # min() keeps the first of equal days, and the condition is listed last.
    day, kind = min(candidates, key=lambda c: c[0])
    return CpaEnd(day, kind)
