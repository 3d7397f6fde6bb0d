"""The review queue service: which submissions wait, in what order, with what."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from cpl_service.certificates.service import certificates_named, list_certificates
from cpl_service.clock import today, utcnow
from cpl_service.parties.models import Party
from cpl_service.submissions.models import Submission, SubmissionDocument
from cpl_service.submissions.queue import queued_submission, review_queue
from tests.conftest import MakeParty
from tests.factories import make_entry


def submission(session: Session, party: Party, days_ago: int) -> Submission:
    assert party.id is not None
    made = Submission(
        party_id=party.id,
        filename=f"{days_ago}.xlsx",
        content_sha256=f"{days_ago:064x}",
        size_bytes=1,
        created_at=utcnow() - timedelta(days=days_ago),
    )
    session.add(made)
    session.commit()
    return made


def test_only_submissions_with_pending_entries_oldest_first(
    session: Session, make_party: MakeParty
) -> None:
    maker, _ = make_party("manufacturer", name="Acme")
    newer = submission(session, maker, 1)
    older = submission(session, maker, 5)
    settled = submission(session, maker, 9)
    for s in (newer, older):
        make_entry(session, party_id=maker.id, submission_id=s.id)
    make_entry(session, party_id=maker.id, submission_id=older.id, status="active")
    make_entry(session, party_id=maker.id, submission_id=settled.id, status="rejected")
    session.add(
        SubmissionDocument(
            submission_id=older.id,  # type: ignore[arg-type]
            filename="cpa.pdf",
            sha256="b" * 64,
            size_bytes=9,
            content=b"%PDF-1.4 x",
        )
    )
    session.commit()

    groups, total = review_queue(session=session, limit=10, offset=0, entries_per_submission=5)
    assert total == 2
    assert [g.submission.id for g in groups] == [older.id, newer.id]
    first = groups[0]
    assert (first.pending_count, first.entry_count, first.more) == (1, 2, 0)
    assert (first.submitted_by, first.submitter_role, first.uploaded_by) == (
        "Acme",
        "manufacturer",
        "test",
    )
    assert [d.filename for d in first.documents] == ["cpa.pdf"]
    assert ("CPA", "CPA-1") in first.certificates

    page, total = review_queue(session=session, limit=1, offset=1, entries_per_submission=5)
    assert total == 2 and [g.submission.id for g in page] == [newer.id]


def test_a_page_of_pending_entries(session: Session, make_party: MakeParty) -> None:
    maker, _ = make_party("manufacturer")
    big = submission(session, maker, 1)
    made = [make_entry(session, party_id=maker.id, submission_id=big.id) for _ in range(7)]
    group = queued_submission(session=session, submission=big, limit=3, offset=3)
    assert [e.entry_id for e in group.entries] == [e.entry_id for e in made[3:6]]
    assert (group.pending_count, group.more) == (7, 4)


def test_certificates_named_and_register_filters(session: Session) -> None:
    make_entry(
        session,
        zigbee_certificate_number="ZIG_A%",
        cpa_certificate_number="CPA-X",
        cpa_expiry_date=today() + timedelta(days=500),
    )
    found = certificates_named(
        session=session, pairs={("ZigBee", "ZIG_A%"), ("CPA", "CPA-X"), ("CPA", "CPA-NONE")}
    )
    assert sorted(found) == [("CPA", "CPA-X"), ("ZigBee", "ZIG_A%")]

    def numbers(**filters: object) -> list[str]:
        page, _ = list_certificates(
            session=session,
            expiring_within_days=None,
            kind=None,
            limit=50,
            offset=0,
            today=today(),
            **filters,  # type: ignore[arg-type]
        )
        return [c.number for c in page]

    assert numbers(number_contains="zig_a") == ["ZIG_A%"]
    assert numbers(number_contains="_A%") == ["ZIG_A%"]
    assert numbers(number_contains="G%") == []  # wildcards are matched as themselves
    assert numbers(status="revoked") == []
    assert len(numbers(status="valid")) == 3
