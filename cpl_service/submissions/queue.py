"""The review queue: submissions with entries pending review, oldest first.

What a SECAS reviewer needs to decide, read in a bounded number of queries however large a
submission is: who submitted it and when, how many entries wait, a page of them, the
certificates they name (from the register) and the documents carried with it (without
their bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.certificates.service import certificates_named
from cpl_service.entries.models import Entry, EntryEvent, EntryStatus
from cpl_service.entries.service import relied_on_certificates
from cpl_service.parties.actors import describe_actor
from cpl_service.parties.models import Party
from cpl_service.submissions.models import Submission, SubmissionDocument


@dataclass(frozen=True)
class DocumentSummary:
    """A document carried with a submission, without its content."""

    id: int
    filename: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class QueuedSubmission:
    """A submission in the review queue and a page of its pending entries."""

    submission: Submission
    submitted_by: str
    submitter_role: str
    uploaded_by: str
    pending_count: int
    entry_count: int
    entries: list[Entry]
    documents: list[DocumentSummary]
    certificates: dict[tuple[str, str], AssuranceCertificate]

    @property
    def more(self) -> int:
        """Pending entries beyond the page shown."""
        return max(self.pending_count - len(self.entries), 0)


def _has_pending() -> ColumnElement[bool]:
    return exists().where(
        and_(
            col(Entry.submission_id) == col(Submission.id),
            col(Entry.status) == EntryStatus.PENDING_REVIEW,
        )
    )


def _counts(session: Session, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """submission id -> (pending entries, all entries)."""
    pending = func.sum(case((col(Entry.status) == EntryStatus.PENDING_REVIEW, 1), else_=0))
    rows = session.exec(
        select(col(Entry.submission_id), pending, func.count())
        .where(col(Entry.submission_id).in_(ids))
        .group_by(col(Entry.submission_id))
    ).all()
    return {sid: (int(p or 0), int(n)) for sid, p, n in rows if sid is not None}


def _documents(session: Session, ids: Sequence[int]) -> dict[int, list[DocumentSummary]]:
    # Five columns, never the content: SQLModel's select() takes at most four.
    rows = session.connection().execute(
        sa_select(
            col(SubmissionDocument.submission_id),
            col(SubmissionDocument.id),
            col(SubmissionDocument.filename),
            col(SubmissionDocument.size_bytes),
            col(SubmissionDocument.sha256),
        )
        .where(col(SubmissionDocument.submission_id).in_(ids))
        .order_by(col(SubmissionDocument.id))
    )
    found: dict[int, list[DocumentSummary]] = {sid: [] for sid in ids}
    for sid, doc_id, filename, size, sha256 in rows:
        assert doc_id is not None
        found[sid].append(DocumentSummary(doc_id, filename, size, sha256))
    return found


def _uploaders(session: Session, first_entries: Sequence[int]) -> dict[int, str]:
    """entry pk -> who submitted it, from its "submitted" event."""
    rows = session.exec(
        select(EntryEvent).where(
            col(EntryEvent.entry_pk).in_(first_entries), col(EntryEvent.action) == "submitted"
        )
    ).all()
    return {e.entry_pk: describe_actor(e.actor_name, e.actor_person, e.actor_token) for e in rows}


def _pending_page(session: Session, submission_id: int, limit: int, offset: int) -> list[Entry]:
    return list(
        session.exec(
            select(Entry)
            .where(
                col(Entry.submission_id) == submission_id,
                col(Entry.status) == EntryStatus.PENDING_REVIEW,
            )
            .order_by(col(Entry.id))
            .limit(limit)
            .offset(offset)
        ).all()
    )


def _queued(
    session: Session, submissions: Sequence[Submission], *, limit: int, offset: int
) -> list[QueuedSubmission]:
    ids = [s.id for s in submissions if s.id is not None]
    counts = _counts(session, ids)
    documents = _documents(session, ids)
    parties = {
        party_id: (name, role)
        for party_id, name, role in session.exec(
            select(col(Party.id), col(Party.name), col(Party.role)).where(
                col(Party.id).in_({s.party_id for s in submissions})
            )
        ).all()
    }
    pages = {sid: _pending_page(session, sid, limit, offset) for sid in ids}
    first = {
        sid: session.exec(
            select(func.min(col(Entry.id))).where(col(Entry.submission_id) == sid)
        ).one()
        for sid in ids
    }
    uploaders = _uploaders(session, [pk for pk in first.values() if pk is not None])
    wanted = {
        (kind.value, number)
        for page in pages.values()
        for entry in page
        for kind, number in relied_on_certificates(entry)
    }
    certificates = certificates_named(session=session, pairs=wanted)
    queued = []
    for submission in submissions:
        assert submission.id is not None
        pending, total = counts.get(submission.id, (0, 0))
        first_pk = first[submission.id]
        name, role = parties.get(submission.party_id, ("unknown", ""))
        queued.append(
            QueuedSubmission(
                submission=submission,
                submitted_by=name,
                submitter_role=role,
                uploaded_by=uploaders.get(first_pk, "unknown") if first_pk else "unknown",
                pending_count=pending,
                entry_count=total,
                entries=pages[submission.id],
                documents=documents[submission.id],
                certificates=certificates,
            )
        )
    return queued


def review_queue(
    *, session: Session, limit: int, offset: int, entries_per_submission: int
) -> tuple[list[QueuedSubmission], int]:
    """A page of the submissions with entries pending review, oldest first, and their total.

    Each carries its first `entries_per_submission` pending entries.
    """
    waiting = select(Submission).where(_has_pending())
    total = session.exec(select(func.count()).select_from(waiting.subquery())).one()
    page = session.exec(
        waiting.order_by(col(Submission.created_at), col(Submission.id)).limit(limit).offset(offset)
    ).all()
    queued = _queued(session, list(page), limit=entries_per_submission, offset=0)
    return queued, int(total)


def queued_submission(
    *, session: Session, submission: Submission, limit: int, offset: int
) -> QueuedSubmission:
    """One submission as the queue shows it, with the pending entries from `offset`."""
    return _queued(session, [submission], limit=limit, offset=offset)[0]
