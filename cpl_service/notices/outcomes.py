"""What a submitter is told after a decision, as a pure rule: no database, no clock.

A *decision batch* is one review request — approving one entry, rejecting one with its
reason, recording one removal, or approving a whole submission — and so one transaction. It
sends one email per submission it touched, never one per entry. The email's headline sums
up where that submission's entries stand after the decision, leading with what was just
decided: approving the rest of a submission of 3 whose third entry was rejected earlier
reads "2 of 3 entries approved, 1 rejected: <the reason>".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# A reason longer than this is cut in a headline (the email's table has it whole).
HEADLINE_REASON_CHARS = 200
# At most this many Panel references are named in a headline.
HEADLINE_REFS = 3


class Outcome(StrEnum):
    """Where an entry stands, as its submitter sees it."""

    APPROVED = "approved"
    REMOVED = "removed"
    PENDING = "pending"
    REJECTED = "rejected"


# The order the parts of a headline follow, after the part that was just decided. Rejections
# come last, so their reason ends the sentence.
ORDER: tuple[Outcome, ...] = (
    Outcome.APPROVED,
    Outcome.REMOVED,
    Outcome.PENDING,
    Outcome.REJECTED,
)

_BY_STATUS = {
    "active": Outcome.APPROVED,
    "expired": Outcome.REMOVED,
    "cancelled": Outcome.REMOVED,
    "withdrawn": Outcome.REMOVED,
    "pending_review": Outcome.PENDING,
    "rejected": Outcome.REJECTED,
}


def outcome_of(status: str) -> Outcome:
    """The outcome of an entry with the internal `status` (SPEC §4's words)."""
    return _BY_STATUS[status]


def _distinct(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        text = " ".join((value or "").split())
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


@dataclass(frozen=True)
class Tally:
    """How many of a submission's entries have each outcome, and the words behind them."""

    total: int
    counts: Mapping[Outcome, int] = field(default_factory=dict)
    # Distinct rejection reasons and Panel decision references, in the order first seen.
    rejection_reasons: tuple[str, ...] = ()
    panel_refs: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        statuses: Mapping[str, int],
        *,
        rejection_reasons: Iterable[str | None] = (),
        panel_refs: Iterable[str | None] = (),
    ) -> Tally:
        """A tally from counts by internal status."""
        counts: dict[Outcome, int] = {}
        for status, number in statuses.items():
            outcome = outcome_of(status)
            counts[outcome] = counts.get(outcome, 0) + number
        return cls(
            total=sum(counts.values()),
            counts=counts,
            rejection_reasons=_distinct(rejection_reasons),
            panel_refs=_distinct(panel_refs),
        )

    def count(self, outcome: Outcome) -> int:
        return self.counts.get(outcome, 0)


def _shorten(text: str, limit: int = HEADLINE_REASON_CHARS) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _words(outcome: Outcome, tally: Tally, *, with_reasons: bool) -> str:
    if outcome is Outcome.APPROVED:
        return "approved"
    if outcome is Outcome.PENDING:
        return "still pending review"
    if outcome is Outcome.REMOVED:
        refs = tally.panel_refs
        if not refs:
            return "removed"
        named = ", ".join(refs[:HEADLINE_REFS])
        more = f" and {len(refs) - HEADLINE_REFS} more" if len(refs) > HEADLINE_REFS else ""
        plural = "s" if len(refs) > 1 else ""
        return f"removed by Panel decision{plural} {named}{more}"
    reasons = tally.rejection_reasons
    if not with_reasons or not reasons:
        return "rejected"
    if len(reasons) == 1:
        return f"rejected: {_shorten(reasons[0])}"
    return f"rejected for {len(reasons)} different reasons (listed below)"


def headline(
    tally: Tally, *, decided: Outcome, lone: str = "1 entry", with_reasons: bool = True
) -> str:
    """One line saying where a submission's entries stand, what was just `decided` first.

    Args:
        tally: the submission's entries by outcome, after the decision.
        decided: what the decision batch did; its part leads.
        lone: how to name the only entry when there is one ("CPL-000042").
        with_reasons: name the rejection reason (a subject line leaves it out).

    "2 of 3 entries approved, 1 rejected: certificate for another model";
    "All 3 entries approved"; "CPL-000042 removed by Panel decision SECP_81_1906_12";
    "1 of 3 entries rejected: wrong firmware; 2 still pending review".
    """
    order = [decided, *(o for o in ORDER if o is not decided)]
    present = [o for o in order if tally.count(o)]
    if not present:
        return "No entries"
    parts: list[str] = []
    for index, outcome in enumerate(present):
        number = tally.count(outcome)
        words = _words(outcome, tally, with_reasons=with_reasons)
        if index > 0:
            parts.append(f"{number} {words}")
        elif tally.total == 1:
            parts.append(f"{lone} {words}")
        elif number == tally.total:
            parts.append(f"All {number} entries {words}")
        else:
            parts.append(f"{number} of {tally.total} entries {words}")
    text = parts[0]
    for before, part in zip(present, parts[1:], strict=False):
        # After a free-text reason a comma would run into it; a semicolon ends it.
        reasoned = before is Outcome.REJECTED and with_reasons and tally.rejection_reasons
        text += ("; " if reasoned else ", ") + part
    return text


def sentence(text: str) -> str:
    """`text` ending as a sentence: a full stop added unless it ends in punctuation."""
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."
