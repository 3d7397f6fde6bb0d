"""The submitters' pages: the template and the upload form, their submissions, and the
firmware updates a supplier confirms — over the same services as `/api/v1/submissions`
and `/api/v1/entries`.

Roles are the API's: any signed-in person may upload and see their own party's submissions
(SECAS sees everyone's), another party's submission is "not found", and only suppliers
confirm firmware updates.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from sqlmodel import Session

from cpl_service.api.deps import FirmwareRequests, SessionDep, SettingsDep
from cpl_service.api.errors import status_for
from cpl_service.api.params import EntryIdPath, IdPath, Offset
from cpl_service.api.routes.submissions import read_upload
from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.entries import service as entries
from cpl_service.entries.confirmation import (
    SupplierConfirmation,
    awaiting_supplier_confirmation,
    supplier_confirmation,
)
from cpl_service.entries.models import EntryStatus
from cpl_service.entries.workflow import LISTED_STATUSES
from cpl_service.errors import (
    ConflictError,
    CplError,
    InvalidInputError,
    WorkbookRejectedError,
)
from cpl_service.parties.actors import describe_actor
from cpl_service.parties.models import Role
from cpl_service.submissions import service
from cpl_service.submissions.models import SubmissionStatus
from cpl_service.web.deps import CheckedForm, SignedIn, SupplierPerson
from cpl_service.web.pages import PageRoute, redirect, render
from cpl_service.workbook.fixes import fixes_for, in_sheet_order

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 50
# A report longer than this shows its first problems only (the summary by code counts
# them all): a page of 100,000 rows helps nobody, and fixing the first ones often fixes many.
MAX_SHOWN_ISSUES = 1000

# The internal status words, as a person reads them, and the badge that shows each.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    EntryStatus.PENDING_REVIEW: ("Pending review", "info"),
    EntryStatus.ACTIVE: ("Active", "ok"),
    EntryStatus.REJECTED: ("Rejected", "bad"),
    EntryStatus.EXPIRED: ("Expired", "warn"),
    EntryStatus.CANCELLED: ("Cancelled", "bad"),
    EntryStatus.WITHDRAWN: ("Withdrawn", "warn"),
    SubmissionStatus.APPROVED: ("Approved", "ok"),
    SubmissionStatus.PARTIALLY_APPROVED: ("Partly approved", "warn"),
}
CONFIRMATION_LABELS: dict[SupplierConfirmation, str] = {
    SupplierConfirmation.NOT_NEEDED: "Not needed",
    SupplierConfirmation.AWAITING: "Awaiting a supplier",
    SupplierConfirmation.CONFIRMED: "Confirmed",
}
PUBLIC_STATUSES = frozenset(LISTED_STATUSES)

Upload = Annotated[UploadFile | None, File()]


def _chosen(upload: UploadFile | None) -> UploadFile | None:
    """The upload, unless the field was left empty (browsers then send a nameless part)."""
    return upload if upload is not None and upload.filename else None


def _submit_page(
    request: Request,
    settings: Settings,
    *,
    status_code: int = 200,
    error: CplError | None = None,
    filename: str | None = None,
    issues: list[dict[str, Any]] | None = None,
) -> Response:
    report = in_sheet_order(issues or [])
    errors = sum(1 for i in report if i.get("severity", "error") == "error")
    context = {
        "error": error,
        "filename": filename,
        "report": report[:MAX_SHOWN_ISSUES],
        "report_total": len(report),
        "error_count": errors,
        "warning_count": len(report) - errors,
        "fixes": fixes_for(report),
        "max_workbook_mb": settings.max_upload_bytes // (1024 * 1024),
        "max_document_mb": settings.max_document_bytes // (1024 * 1024),
        "max_rows": settings.max_rows,
    }
    return render(request, "submit.html", context, status_code=status_code)


@router.get("/submit")
def submit_page(request: Request, _person: SignedIn, settings: SettingsDep) -> Response:
    """The template to download and the form to upload it."""
    return _submit_page(request, settings)


@router.post("/submit")
def submit(
    request: Request,
    _form: CheckedForm,
    person: SignedIn,
    session: SessionDep,
    settings: SettingsDep,
    notify: FirmwareRequests,
    file: Upload = None,
    signature: Upload = None,
    documents: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Upload a workbook: its submission's page, or this page with everything to fix."""
    workbook = _chosen(file)
    if workbook is None:
        missing = InvalidInputError("Choose the workbook file to upload (.xlsx or .xlsm).")
        return _submit_page(request, settings, status_code=422, error=missing)
    filename = workbook.filename or "upload.xlsx"
    chosen_documents = [d for d in documents or [] if _chosen(d) is not None]
    try:
        parts = read_upload(settings, workbook, _chosen(signature), chosen_documents)
        result = service.submit(
            session=session,
            settings=settings,
            party=person.party,
            actor=person.actor,
            filename=filename,
            content=parts.content,
            now=utcnow(),
            notify=notify,
            signature=parts.signature,
            documents=parts.documents,
        )
    except WorkbookRejectedError as exc:
        return _submit_page(
            request, settings, status_code=422, error=exc, filename=filename, issues=exc.issues
        )
    except CplError as exc:
        return _submit_page(
            request, settings, status_code=status_for(exc), error=exc, filename=filename
        )
    outcome = "new" if result.created else "again"
    return redirect(f"/submissions/{result.submission.id}?uploaded={outcome}")


@router.get("/submissions")
def submissions_page(
    request: Request, person: SignedIn, session: SessionDep, offset: Offset = 0
) -> Response:
    """Your party's submissions (SECAS: everyone's), newest first."""
    page, total = service.list_submissions(
        session=session, party=person.party, limit=PAGE_SIZE, offset=offset
    )
    context = {
        "submissions": page,
        "total": total,
        "offset": offset,
        "limit": PAGE_SIZE,
        "everyone": person.role == Role.SECAS,
        "labels": STATUS_LABELS,
    }
    return render(request, "submissions.html", context)


@router.get("/submissions/{submission_id}")
def submission_page(
    request: Request,
    submission_id: IdPath,
    person: SignedIn,
    session: SessionDep,
    offset: Offset = 0,
    uploaded: Annotated[Literal["new", "again"] | None, Query()] = None,
) -> Response:
    """One submission: its entries with status and history, its documents, its warnings."""
    submission = service.visible_submission(
        session=session, party=person.party, submission_id=submission_id
    )
    view = service.submission_entries_page(
        session=session, submission=submission, limit=PAGE_SIZE, offset=offset
    )
    confirmation = {
        e.id: supplier_confirmation(e, submitter_role=view.submitter_role) for e in view.entries
    }
    history = {
        pk: [(describe_actor(e.actor_name, e.actor_person, e.actor_token), e) for e in events]
        for pk, events in view.histories.items()
    }
    warnings = [i for i in submission.issues if i.get("severity") == "warning"]
    context = {
        "view": view,
        "submission": submission,
        "uploaded": uploaded,
        "confirmation": confirmation,
        "history": history,
        "warnings": in_sheet_order(warnings),
        "offset": offset,
        "limit": PAGE_SIZE,
        "labels": STATUS_LABELS,
        "confirmation_labels": CONFIRMATION_LABELS,
        "public_statuses": PUBLIC_STATUSES,
    }
    return render(request, "submission.html", context)


def _firmware_page(
    request: Request,
    session: Session,
    *,
    offset: int,
    confirmed: str | None = None,
    error: CplError | None = None,
    failed_entry: str | None = None,
    status_code: int = 200,
) -> Response:
    page, total = awaiting_supplier_confirmation(session=session, limit=PAGE_SIZE, offset=offset)
    context = {
        "updates": page,
        "total": total,
        "offset": offset,
        "limit": PAGE_SIZE,
        "confirmed": confirmed,
        "error": error,
        "failed_entry": failed_entry,
    }
    return render(request, "firmware_updates.html", context, status_code=status_code)


@router.get("/firmware-updates")
def firmware_updates_page(
    request: Request,
    _supplier: SupplierPerson,
    session: SessionDep,
    offset: Offset = 0,
    confirmed: Annotated[str | None, Query(pattern=r"^CPL-\d{6,12}$")] = None,
) -> Response:
    """Manufacturers' firmware updates waiting for a supplier's confirmation (suppliers)."""
    return _firmware_page(request, session, offset=offset, confirmed=confirmed)


@router.post("/firmware-updates/{entry_id}/confirm")
def confirm_firmware_update(
    request: Request,
    entry_id: EntryIdPath,
    _form: CheckedForm,
    supplier: SupplierPerson,
    session: SessionDep,
    reference: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Confirm one firmware update with the supplier's reference; back to the list."""
    entry = entries.visible_entry(session=session, party=supplier.party, entry_id=entry_id)
    try:
        entries.confirm_firmware_update(
            session=session, entry=entry, actor=supplier.actor, reference=reference, now=utcnow()
        )
    except (InvalidInputError, ConflictError) as exc:
        return _firmware_page(
            request,
            session,
            offset=0,
            error=exc,
            failed_entry=entry.entry_id,
            status_code=status_for(exc),
        )
    return redirect(f"/firmware-updates?confirmed={entry.entry_id}")
