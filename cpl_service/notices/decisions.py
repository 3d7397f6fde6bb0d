"""Outcome emails, queued in the outbox in the same transaction as what they report.

A decision (`entries.service.Decision`: one review request) and a manufacturer's upload of
firmware updates call these through the `notify` function their caller passes in. The
outbox row commits with the decision or not at all, so an email is never lost and never
written for a decision that rolled back; its key — the submission, the outcome and the first
entry decided, which no later decision can repeat — makes queuing it twice a no-op, and the
outbox sends it once (`service.send_queued`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from cpl_service.config import Settings
from cpl_service.entries.models import Entry, EntryEvent, EntryStatus, SubmissionType
from cpl_service.entries.service import Decision
from cpl_service.entries.workflow import REMOVAL_STATUSES
from cpl_service.notices import messages
from cpl_service.notices.models import NoticeKind
from cpl_service.notices.outcomes import Outcome, Tally, outcome_of
from cpl_service.notices.service import queue_notice
from cpl_service.parties.models import Party, Role, User
from cpl_service.submissions.models import Submission

log = logging.getLogger(__name__)


def recipients(*groups: Iterable[str | None]) -> list[str]:
    """Every address once (compared without case or surrounding space), first spelling kept."""
    seen: dict[str, str] = {}
    for group in groups:
        for address in group:
            text = (address or "").strip()
            if text:
                seen.setdefault(text.lower(), text)
    return list(seen.values())


def outcome_key(decided: Outcome, first_entry_id: str, submission_id: int | None) -> str:
    """The outbox key of one outcome email.

    An entry takes each outcome at most once (pending → approved or rejected, approved →
    removed), so the first entry of a batch and the outcome name the batch for good.
    """
    where = f"submission:{submission_id}" if submission_id is not None else "entry"
    return f"outcome:{where}:{decided.value}:{first_entry_id}"


def firmware_key(submission_id: int, supplier_id: int) -> str:
    return f"firmware:submission:{submission_id}:supplier:{supplier_id}"


def _decided_entry(
    entry: Entry, *, reason: str | None = None, panel_decision_ref: str | None = None
) -> messages.DecidedEntry:
    return messages.DecidedEntry(
        entry_id=entry.entry_id,
        manufacturer_name=entry.manufacturer_name,
        model_name=entry.model_name,
        model_id=entry.model_id,
        hardware_version=entry.hardware_version,
        firmware_version=entry.firmware_version,
        physical_device_type=entry.physical_device_type,
        status=entry.status,
        reason=reason,
        panel_decision_ref=panel_decision_ref,
    )


def _batch_entries(decision: Decision, group: Sequence[Entry]) -> list[messages.DecidedEntry]:
    removed = decision.to_status in REMOVAL_STATUSES
    rejected = decision.to_status is EntryStatus.REJECTED
    return [
        _decided_entry(
            e,
            reason=decision.reason if (removed or rejected) else None,
            panel_decision_ref=decision.panel_decision_ref if removed else None,
        )
        for e in group
    ]


def _rejected_with_reasons(
    session: Session, submission_id: int, *, limit: int
) -> list[tuple[Entry, str | None]]:
    rows = session.exec(
        select(Entry, EntryEvent.reason)
        .join(EntryEvent, col(EntryEvent.entry_pk) == col(Entry.id))
        .where(
            col(Entry.submission_id) == submission_id,
            col(Entry.status) == EntryStatus.REJECTED,
            col(EntryEvent.action) == "rejected",
        )
        .order_by(col(Entry.id))
        .limit(limit)
    ).all()
    return [(entry, reason) for entry, reason in rows]


def _submission_tally(session: Session, submission_id: int) -> Tally:
    counts = session.exec(
        select(Entry.status, func.count())
        .where(col(Entry.submission_id) == submission_id)
        .group_by(col(Entry.status))
    ).all()
    reasons = session.exec(
        select(EntryEvent.reason)
        .join(Entry, col(EntryEvent.entry_pk) == col(Entry.id))
        .where(
            col(Entry.submission_id) == submission_id,
            col(Entry.status) == EntryStatus.REJECTED,
            col(EntryEvent.action) == "rejected",
        )
        .distinct()
    ).all()
    refs = session.exec(
        select(Entry.panel_decision_ref)
        .where(
            col(Entry.submission_id) == submission_id,
            col(Entry.status).in_([s.value for s in REMOVAL_STATUSES]),
        )
        .distinct()
    ).all()
    return Tally.of(
        {str(status): number for status, number in counts},
        rejection_reasons=sorted(r for r in reasons if r),
        panel_refs=sorted(r for r in refs if r),
    )


def _uploader(session: Session, entry: Entry) -> tuple[str | None, User | None]:
    """Who uploaded the entry's submission: the person's name, and the person if enabled."""
    row = session.exec(
        select(EntryEvent.actor_person, EntryEvent.actor_user_id).where(
            EntryEvent.entry_pk == entry.id, EntryEvent.action == "submitted"
        )
    ).first()
    if row is None:
        return None, None
    person, user_id = row
    user = session.get(User, user_id) if user_id is not None else None
    return person, (user if user is not None and user.disabled_at is None else None)


def _queue_submission_outcome(
    *,
    session: Session,
    decision: Decision,
    submission: Submission,
    group: Sequence[Entry],
    settings: Settings,
) -> int:
    assert submission.id is not None
    decided = outcome_of(decision.to_status)
    tally = _submission_tally(session, submission.id)
    batch = {e.id for e in group}
    earlier = [
        _decided_entry(entry, reason=reason)
        for entry, reason in _rejected_with_reasons(
            session, submission.id, limit=messages.MAX_LISTED + len(batch)
        )
        if entry.id not in batch
    ][: messages.MAX_LISTED]
    party = session.get(Party, submission.party_id)
    person, user = _uploader(session, group[0])
    to = recipients(party.emails if party else [], [user.email] if user else [])
    if not to:
        log.warning("submission %s: nobody to tell of its outcome", submission.id)
        return 0
    facts = messages.OutcomeFacts(
        decided=decided,
        decided_at=decision.at,
        entries=_batch_entries(decision, group),
        tally=tally,
        addressee=party.name if party else "CPL contact",
        submission_id=submission.id,
        filename=submission.filename,
        uploaded_at=submission.created_at,
        uploaded_by=person,
        earlier_rejections=earlier,
    )
    composed = messages.outcome_notice(
        facts, secas_email=settings.secas_email, public_url=settings.public_url
    )
    return int(
        queue_notice(
            session=session,
            key=outcome_key(decided, group[0].entry_id, submission.id),
            kind=NoticeKind.SUBMISSION_OUTCOME.value,
            recipients=to,
            composed=composed,
            now=decision.at,
        )
    )


def _queue_entry_outcome(
    *, session: Session, decision: Decision, group: Sequence[Entry], settings: Settings
) -> int:
    """Entries with no submission (imported from a CPL workbook): their party or contact."""
    first = group[0]
    party = (
        session.get(Party, first.submitted_by_party_id)
        if first.submitted_by_party_id is not None
        else None
    )
    to = recipients(party.emails if party else [e.contact_email for e in group])
    if not to:
        return 0
    decided = outcome_of(decision.to_status)
    statuses: dict[str, int] = defaultdict(int)
    for entry in group:
        statuses[str(entry.status)] += 1
    removed = decision.to_status in REMOVAL_STATUSES
    tally = Tally.of(
        statuses,
        rejection_reasons=[decision.reason] if decision.to_status is EntryStatus.REJECTED else [],
        panel_refs=[decision.panel_decision_ref] if removed else [],
    )
    facts = messages.OutcomeFacts(
        decided=decided,
        decided_at=decision.at,
        entries=_batch_entries(decision, group),
        tally=tally,
        addressee=party.name if party else "CPL contact",
    )
    composed = messages.outcome_notice(
        facts, secas_email=settings.secas_email, public_url=settings.public_url
    )
    return int(
        queue_notice(
            session=session,
            key=outcome_key(decided, first.entry_id, None),
            kind=NoticeKind.SUBMISSION_OUTCOME.value,
            recipients=to,
            composed=composed,
            now=decision.at,
        )
    )


def queue_decision_notices(*, session: Session, decision: Decision, settings: Settings) -> int:
    """Queue one outcome email per submission a decision batch touched. Does not commit.

    Returns how many were new. Entries without a submission are grouped by their party, or
    else by their Contact Email.
    """
    by_submission: dict[int, list[Entry]] = defaultdict(list)
    loose: dict[str, list[Entry]] = defaultdict(list)
    for entry in sorted(decision.entries, key=lambda e: e.entry_id):
        if entry.submission_id is not None:
            by_submission[entry.submission_id].append(entry)
        elif entry.submitted_by_party_id is not None:
            loose[f"party:{entry.submitted_by_party_id}"].append(entry)
        else:
            loose[f"contact:{entry.contact_email.strip().lower()}"].append(entry)
    queued = 0
    for submission_id, group in sorted(by_submission.items()):
        submission = session.get(Submission, submission_id)
        if submission is None:
            continue
        queued += _queue_submission_outcome(
            session=session,
            decision=decision,
            submission=submission,
            group=group,
            settings=settings,
        )
    for _, group in sorted(loose.items()):
        queued += _queue_entry_outcome(
            session=session, decision=decision, group=group, settings=settings
        )
    return queued


def queue_firmware_confirmation_requests(
    *, session: Session, submission: Submission, party: Party, settings: Settings
) -> int:
    """Ask every supplier to confirm a manufacturer's new firmware updates. Does not commit.

    One email per supplier party and submission; none when the submitter is not a
    manufacturer (a supplier's own update is confirmed by its submission, and only a
    manufacturer's needs a confirmation before approval).
    """
    if party.role != Role.MANUFACTURER or submission.id is None:
        return 0
    awaiting = (
        col(Entry.submission_id) == submission.id,
        col(Entry.submission_type) == SubmissionType.FIRMWARE_UPDATE.value,
        col(Entry.supplier_confirmation_ref).is_(None),
        col(Entry.status) == EntryStatus.PENDING_REVIEW,
    )
    total = session.exec(select(func.count()).select_from(Entry).where(*awaiting)).one()
    if not total:
        return 0
    suppliers = [
        s
        for s in session.exec(
            select(Party).where(Party.role == Role.SUPPLIER).order_by(col(Party.id))
        ).all()
        if s.emails
    ]
    if not suppliers:
        log.warning("submission %s: no supplier to ask for a confirmation", submission.id)
        return 0
    shown = session.exec(
        select(Entry).where(*awaiting).order_by(col(Entry.id)).limit(messages.MAX_LISTED)
    ).all()
    facts = messages.FirmwareUpdateFacts(
        submission_id=submission.id,
        manufacturer=party.name,
        submitted_at=submission.created_at,
        entries=[
            messages.AffectedEntry(
                entry_id=e.entry_id,
                manufacturer_name=e.manufacturer_name,
                model_name=e.model_name,
                model_id=e.model_id,
                hardware_version=e.hardware_version,
                firmware_version=e.firmware_version,
                physical_device_type=e.physical_device_type,
                contact_email=e.contact_email,
            )
            for e in shown
        ],
        total=int(total),
    )
    queued = 0
    for supplier in suppliers:
        assert supplier.id is not None
        queued += queue_notice(
            session=session,
            key=firmware_key(submission.id, supplier.id),
            kind=NoticeKind.FIRMWARE_CONFIRMATION.value,
            recipients=recipients(supplier.emails),
            composed=messages.firmware_confirmation_request(
                facts,
                supplier_name=supplier.name,
                secas_email=settings.secas_email,
                public_url=settings.public_url,
            ),
            now=submission.created_at,
        )
    return queued
