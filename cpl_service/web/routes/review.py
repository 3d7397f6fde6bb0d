"""The SECAS review queue: pending entries by submission, and the review actions.

Every action calls the service its API route calls (`entries.service.approve`, `reject`,
`remove`; `submissions.service.approve_submission`, `reject_submission`) and answers with
a redirect back to the queue carrying a notice; a transition the domain refuses (409) is
shown as a page with its message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response

from cpl_service.api.deps import DecisionNotices, SessionDep
from cpl_service.api.params import EntryIdPath, IdPath, Offset
from cpl_service.api.schemas import EventPublic
from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.certificates.service import certificates_named
from cpl_service.clock import today, utcnow
from cpl_service.devices import BY_CODE
from cpl_service.entries import confirmation
from cpl_service.entries import service as entries
from cpl_service.entries.models import Entry, EntryStatus, SubmissionType
from cpl_service.entries.workflow import REMOVAL_STATUSES
from cpl_service.errors import InvalidInputError
from cpl_service.notices.standing import CertificateStanding, certificate_standing
from cpl_service.parties.actors import Principal
from cpl_service.submissions import queue
from cpl_service.submissions import service as submissions
from cpl_service.web.deps import CheckedForm, SecasPerson
from cpl_service.web.pages import PageRoute, redirect, render

router = APIRouter(route_class=PageRoute)

SUBMISSIONS_PER_PAGE = 10
ENTRIES_PER_SUBMISSION = 50
ENTRIES_PER_PAGE = 200
REMOVAL_CHOICES = tuple(s.value for s in EntryStatus if s in REMOVAL_STATUSES)

Note = Annotated[str, Form(max_length=2000)]
Done = Annotated[str | None, Query(max_length=40)]
_ENTRY_ID = re.compile(r"^CPL-\d{1,12}$")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def notice_for(
    done: str | None, *, n: int = 0, entry: str | None = None, submission: int | None = None
) -> str | None:
    """The sentence saying what the last action did (None for anything unknown).

    Built from known words only: the query string never puts text of its own on the page.
    """
    entry = entry if entry and _ENTRY_ID.match(entry) else None
    if done in ("approved", "rejected") and entry:
        return f"{entry} {done}."
    if done in ("submission-approved", "submission-rejected") and submission:
        verb = done.removeprefix("submission-")
        return f"{_count(n, 'entry', 'entries')} of submission {submission} {verb}."
    if done in REMOVAL_CHOICES and entry:
        return f"{entry} is now {done}; the Panel decision is recorded in its history."
    return None


def standings_for(
    entries_shown: Iterable[Entry],
    certificates: Mapping[tuple[str, str], AssuranceCertificate],
    *,
    as_of: date,
) -> dict[str, list[CertificateStanding]]:
    """entry ID -> where each certificate it names stands on `as_of`."""
    return {
        entry.entry_id: [
            certificate_standing(
                kind=kind.value,
                number=number,
                certificate=certificates.get((kind.value, number)),
                as_of=as_of,
            )
            for kind, number in entries.relied_on_certificates(entry)
        ]
        for entry in entries_shown
    }


def supplier_confirmation(entry: Entry, submitter_role: str | None) -> str | None:
    """A firmware update's supplier-confirmation state in words (None for a new model)."""
    if entry.submission_type != SubmissionType.FIRMWARE_UPDATE:
        return None
    state = confirmation.supplier_confirmation(entry, submitter_role=submitter_role)
    if state is confirmation.SupplierConfirmation.CONFIRMED:
        return f"confirmed by a supplier: {entry.supplier_confirmation_ref}"
    if state is confirmation.SupplierConfirmation.AWAITING:
        return "awaiting supplier confirmation"
    return "no supplier confirmation needed"


def _group_context(groups: Sequence[queue.QueuedSubmission], as_of: date) -> dict[str, Any]:
    standings: dict[str, list[CertificateStanding]] = {}
    confirmations: dict[str, str | None] = {}
    for group in groups:
        standings.update(standings_for(group.entries, group.certificates, as_of=as_of))
        for entry in group.entries:
            confirmations[entry.entry_id] = supplier_confirmation(entry, group.submitter_role)
    return {
        "groups": groups,
        "standings": standings,
        "confirmations": confirmations,
        "device_types": BY_CODE,
    }


@router.get("/review")
def review_queue(
    request: Request,
    session: SessionDep,
    _secas: SecasPerson,
    offset: Offset = 0,
    done: Done = None,
    n: Annotated[int, Query(ge=0, le=10**9)] = 0,
    entry: Annotated[str | None, Query(max_length=20)] = None,
    submission: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    groups, total = queue.review_queue(
        session=session,
        limit=SUBMISSIONS_PER_PAGE,
        offset=offset,
        entries_per_submission=ENTRIES_PER_SUBMISSION,
    )
    context = _group_context(groups, today())
    context.update(
        total=total,
        offset=offset,
        limit=SUBMISSIONS_PER_PAGE,
        notice=notice_for(done, n=n, entry=entry, submission=submission),
    )
    return render(request, "review.html", context)


def _submission_page(
    request: Request,
    session: SessionDep,
    person: Principal,
    submission_id: int,
    offset: int,
    *,
    error: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    submission = submissions.visible_submission(
        session=session, party=person.party, submission_id=submission_id
    )
    group = queue.queued_submission(
        session=session, submission=submission, limit=ENTRIES_PER_PAGE, offset=offset
    )
    context = _group_context([group], today())
    context.update(group=group, offset=offset, limit=ENTRIES_PER_PAGE, error=error, reason=reason)
    return render(request, "review_submission.html", context, status_code=status_code)


@router.get("/review/submissions/{submission_id}")
def review_submission(
    request: Request,
    submission_id: IdPath,
    session: SessionDep,
    person: SecasPerson,
    offset: Offset = 0,
) -> Response:
    return _submission_page(request, session, person, submission_id, offset)


def _entry_page(
    request: Request,
    session: SessionDep,
    entry: Entry,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    as_of = today()
    pairs = {(kind.value, number) for kind, number in entries.relied_on_certificates(entry)}
    certificates = certificates_named(session=session, pairs=pairs)
    pending = entry.status == EntryStatus.PENDING_REVIEW
    context = {
        "entry": entry,
        "device_type": BY_CODE.get(entry.physical_device_type),
        "standings": standings_for([entry], certificates, as_of=as_of)[entry.entry_id],
        "confirmation": supplier_confirmation(entry, entries.submitter_role(session, entry)),
        "blockers": (
            entries.entry_approval_blockers(session=session, entry=entry, today=as_of)
            if pending
            else []
        ),
        "history": [EventPublic.of(e) for e in entries.history(session=session, entry=entry)],
        "removal_choices": REMOVAL_CHOICES,
        "errors": errors or {},
        "values": values or {},
        "notice": notice,
    }
    return render(request, "review_entry.html", context, status_code=status_code)


@router.get("/review/entries/{entry_id}")
def review_entry(
    request: Request,
    entry_id: EntryIdPath,
    session: SessionDep,
    _secas: SecasPerson,
    done: Done = None,
) -> Response:
    entry = entries.get_entry(session=session, entry_id=entry_id)
    return _entry_page(request, session, entry, notice=notice_for(done, entry=entry.entry_id))


def _back_to_queue(entry: Entry, done: str) -> Response:
    anchor = f"#submission-{entry.submission_id}" if entry.submission_id else ""
    return redirect(f"/review?done={done}&entry={entry.entry_id}{anchor}")


@router.post("/review/entries/{entry_id}/approve")
def approve_entry(
    entry_id: EntryIdPath,
    _form: CheckedForm,
    session: SessionDep,
    person: SecasPerson,
    notify: DecisionNotices,
    note: Note = "",
) -> Response:
    entry = entries.get_entry(session=session, entry_id=entry_id)
    entries.approve(
        session=session,
        entry=entry,
        actor=person.actor,
        note=note.strip() or None,
        now=utcnow(),
        notify=notify,
    )
    return _back_to_queue(entry, "approved")


@router.post("/review/entries/{entry_id}/reject")
def reject_entry(
    request: Request,
    entry_id: EntryIdPath,
    _form: CheckedForm,
    session: SessionDep,
    person: SecasPerson,
    notify: DecisionNotices,
    reason: Note = "",
) -> Response:
    entry = entries.get_entry(session=session, entry_id=entry_id)
    try:
        entries.reject(
            session=session,
            entry=entry,
            actor=person.actor,
            reason=reason,
            now=utcnow(),
            notify=notify,
        )
    except InvalidInputError as exc:
        return _entry_page(request, session, entry, errors={"reason": exc.detail}, status_code=422)
    return _back_to_queue(entry, "rejected")


@router.post("/review/entries/{entry_id}/remove")
def remove_entry(
    request: Request,
    entry_id: EntryIdPath,
    _form: CheckedForm,
    session: SessionDep,
    person: SecasPerson,
    notify: DecisionNotices,
    status: Annotated[str, Form(max_length=20)] = "",
    panel_decision_ref: Annotated[str, Form(max_length=100)] = "",
    reason: Note = "",
) -> Response:
    entry = entries.get_entry(session=session, entry_id=entry_id)
    values = {"status": status, "panel_decision_ref": panel_decision_ref, "reason": reason}
    try:
        if status not in REMOVAL_CHOICES:
            raise InvalidInputError("Choose whether the entry is expired, cancelled or withdrawn.")
        entries.remove(
            session=session,
            entry=entry,
            actor=person.actor,
            status=EntryStatus(status),
            panel_decision_ref=panel_decision_ref,
            reason=reason.strip() or None,
            now=utcnow(),
            notify=notify,
        )
    except InvalidInputError as exc:
        field = "status" if status not in REMOVAL_CHOICES else "panel_decision_ref"
        return _entry_page(
            request, session, entry, errors={field: exc.detail}, values=values, status_code=422
        )
    return redirect(f"/review/entries/{entry.entry_id}?done={status}")


@router.post("/review/submissions/{submission_id}/approve")
def approve_submission(
    submission_id: IdPath,
    _form: CheckedForm,
    session: SessionDep,
    person: SecasPerson,
    notify: DecisionNotices,
    note: Note = "",
) -> Response:
    submission = submissions.visible_submission(
        session=session, party=person.party, submission_id=submission_id
    )
    approved = submissions.approve_submission(
        session=session,
        submission=submission,
        actor=person.actor,
        note=note.strip() or None,
        now=utcnow(),
        notify=notify,
    )
    return redirect(
        f"/review?done=submission-approved&n={len(approved)}&submission={submission_id}"
    )


@router.post("/review/submissions/{submission_id}/reject")
def reject_submission(
    request: Request,
    submission_id: IdPath,
    _form: CheckedForm,
    session: SessionDep,
    person: SecasPerson,
    notify: DecisionNotices,
    reason: Note = "",
) -> Response:
    submission = submissions.visible_submission(
        session=session, party=person.party, submission_id=submission_id
    )
    try:
        rejected = submissions.reject_submission(
            session=session,
            submission=submission,
            actor=person.actor,
            reason=reason,
            now=utcnow(),
            notify=notify,
        )
    except InvalidInputError as exc:
        return _submission_page(
            request,
            session,
            person,
            submission_id,
            0,
            error=exc.detail,
            reason=reason,
            status_code=422,
        )
    return redirect(
        f"/review?done=submission-rejected&n={len(rejected)}&submission={submission_id}"
    )
