"""The headline of an outcome email, as a pure rule: every shape a decision can leave."""

from __future__ import annotations

import pytest

from cpl_service.entries.models import EntryStatus
from cpl_service.notices.outcomes import (
    HEADLINE_REASON_CHARS,
    Outcome,
    Tally,
    headline,
    outcome_of,
    sentence,
)

A = Outcome.APPROVED
R = Outcome.REJECTED
X = Outcome.REMOVED

CASES = [
    # (statuses after the decision, reasons, Panel refs, decided, headline)
    (
        {"active": 2, "rejected": 1},
        ["Certificate for another model"],
        [],
        A,
        "2 of 3 entries approved, 1 rejected: Certificate for another model",
    ),
    ({"active": 3}, [], [], A, "All 3 entries approved"),
    ({"active": 1}, [], [], A, "CPL-000042 approved"),
    ({"rejected": 1}, ["Wrong firmware"], [], R, "CPL-000042 rejected: Wrong firmware"),
    (
        {"rejected": 1, "pending_review": 2},
        ["Wrong firmware"],
        [],
        R,
        "1 of 3 entries rejected: Wrong firmware; 2 still pending review",
    ),
    (
        {"active": 1, "pending_review": 2},
        [],
        [],
        A,
        "1 of 3 entries approved, 2 still pending review",
    ),
    (
        {"rejected": 2, "active": 1},
        ["Wrong firmware", "Missing DLMS certificate"],
        [],
        R,
        "2 of 3 entries rejected for 2 different reasons (listed below); 1 approved",
    ),
    (
        {"rejected": 2},
        ["Same reason", "  Same   reason "],
        [],
        R,
        "All 2 entries rejected: Same reason",
    ),
    (
        {"withdrawn": 1, "active": 4},
        [],
        ["SECP_81_1906_12"],
        X,
        "1 of 5 entries removed by Panel decision SECP_81_1906_12, 4 approved",
    ),
    (
        {"expired": 2, "cancelled": 1},
        [],
        ["P1", "P2", "P3", "P4", "P5"],
        X,
        "All 3 entries removed by Panel decisions P1, P2, P3 and 2 more",
    ),
    (
        {"withdrawn": 1, "active": 1, "pending_review": 1, "rejected": 1},
        ["Bad hash"],
        ["SECP_1"],
        X,
        "1 of 4 entries removed by Panel decision SECP_1, 1 approved, 1 still pending review, "
        "1 rejected: Bad hash",
    ),
    ({"withdrawn": 1}, [], [], X, "CPL-000042 removed"),
]


@pytest.mark.parametrize(("statuses", "reasons", "refs", "decided", "expected"), CASES)
def test_headline(
    statuses: dict[str, int],
    reasons: list[str],
    refs: list[str],
    decided: Outcome,
    expected: str,
) -> None:
    tally = Tally.of(statuses, rejection_reasons=reasons, panel_refs=refs)
    assert headline(tally, decided=decided, lone="CPL-000042") == expected


def test_a_subject_leaves_the_reason_out() -> None:
    tally = Tally.of({"active": 2, "rejected": 1}, rejection_reasons=["Certificate expired"])
    assert headline(tally, decided=A, with_reasons=False) == "2 of 3 entries approved, 1 rejected"
    rejected = Tally.of({"rejected": 1, "pending_review": 1}, rejection_reasons=["x"])
    assert headline(rejected, decided=R, with_reasons=False) == (
        "1 of 2 entries rejected, 1 still pending review"
    )


def test_a_long_reason_is_cut_in_the_headline() -> None:
    reason = "word " * 100
    tally = Tally.of({"rejected": 1}, rejection_reasons=[reason])
    line = headline(tally, decided=R)
    assert line.endswith("…")
    assert len(line) <= len("1 entry rejected: ") + HEADLINE_REASON_CHARS


def test_blank_reasons_and_refs_are_not_counted() -> None:
    tally = Tally.of(
        {"rejected": 1, "withdrawn": 1}, rejection_reasons=[None, " "], panel_refs=[None, ""]
    )
    assert tally.rejection_reasons == () and tally.panel_refs == ()
    assert headline(tally, decided=R) == "1 of 2 entries rejected, 1 removed"


def test_every_status_has_an_outcome() -> None:
    assert {s: outcome_of(s) for s in EntryStatus} == {
        EntryStatus.PENDING_REVIEW: Outcome.PENDING,
        EntryStatus.ACTIVE: Outcome.APPROVED,
        EntryStatus.REJECTED: Outcome.REJECTED,
        EntryStatus.EXPIRED: Outcome.REMOVED,
        EntryStatus.CANCELLED: Outcome.REMOVED,
        EntryStatus.WITHDRAWN: Outcome.REMOVED,
    }


def test_tally_counts_by_outcome() -> None:
    tally = Tally.of({"expired": 2, "withdrawn": 1, "active": 4})
    assert tally.total == 7
    assert (tally.count(X), tally.count(A), tally.count(R)) == (3, 4, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("All approved", "All approved."), ("Done.", "Done."), ("Cut…", "Cut…"), ("Why?", "Why?")],
)
def test_sentence(text: str, expected: str) -> None:
    assert sentence(text) == expected
