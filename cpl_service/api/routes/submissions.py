"""Submissions: upload a workbook, read your submissions, SECAS approves them whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from cpl_service.api.deps import (
    CurrentActor,
    CurrentParty,
    DecisionNotices,
    FirmwareRequests,
    SecasParty,
    SessionDep,
    SettingsDep,
)
from cpl_service.api.params import IdPath, Offset
from cpl_service.api.schemas import (
    ApprovalIn,
    DocumentPublic,
    EntryPublic,
    RejectionIn,
    SubmissionCreated,
    SubmissionPage,
    SubmissionPublic,
    SubmissionSummary,
)
from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.entries.models import EntryStatus
from cpl_service.errors import UploadTooLargeError
from cpl_service.submissions import service

router = APIRouter(prefix="/submissions", tags=["submissions"])


SIGNATURE_MAX_BYTES = 1024 * 1024


def _read_capped(upload: UploadFile, limit: int, what: str) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLargeError(f"The {what} is larger than {limit // (1024 * 1024)} MB.")
    return data


@dataclass(frozen=True)
class UploadParts:
    """The parts of an upload, read within their size limits."""

    content: bytes
    signature: bytes | None
    documents: list[service.UploadedDocument]


def read_upload(
    settings: Settings,
    file: UploadFile,
    signature: UploadFile | None,
    documents: Sequence[UploadFile],
) -> UploadParts:
    """Read a workbook, its signature and its documents (413 for a part over its limit)."""
    return UploadParts(
        content=_read_capped(file, settings.max_upload_bytes, "workbook"),
        signature=(
            _read_capped(signature, SIGNATURE_MAX_BYTES, "signature") if signature else None
        ),
        documents=[
            service.UploadedDocument(
                filename=d.filename or "document.pdf",
                content=_read_capped(d, settings.max_document_bytes, f"document {d.filename!r}"),
            )
            for d in documents
        ],
    )


def _public(detail: service.SubmissionDetail) -> SubmissionPublic:
    submission = detail.submission
    assert submission.id is not None
    return SubmissionPublic(
        id=submission.id,
        status=detail.status,
        filename=submission.filename,
        content_sha256=submission.content_sha256,
        signed=submission.signed,
        submitted_by=detail.submitted_by,
        created_at=submission.created_at,
        entries=[EntryPublic.of(e) for e in detail.entries],
        issues=submission.issues,
        documents=[
            DocumentPublic.model_validate(d, from_attributes=True) for d in detail.documents
        ],
    )


@router.post("", status_code=201, response_model=SubmissionCreated)
def create_submission(
    session: SessionDep,
    settings: SettingsDep,
    notify: FirmwareRequests,
    party: CurrentParty,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="The CPL submission workbook (.xlsx/.xlsm)")],
    signature: Annotated[UploadFile | None, File(description="Detached CMS signature")] = None,
    documents: Annotated[list[UploadFile] | None, File(description="Certificate PDFs")] = None,
) -> Response:
    """Upload a submission workbook; 201 with its entries, or 422 listing every problem."""
    parts = read_upload(settings, file, signature, documents or [])
    result = service.submit(
        session=session,
        settings=settings,
        party=party,
        actor=actor,
        filename=file.filename or "upload.xlsx",
        content=parts.content,
        now=utcnow(),
        notify=notify,
        signature=parts.signature,
        documents=parts.documents,
    )
    submission = result.submission
    entries = service.entry_summaries(session, submission)
    assert submission.id is not None
    created = SubmissionCreated(
        id=submission.id,
        status=service.submission_status({EntryStatus(s) for s in {e["status"] for e in entries}}),
        filename=submission.filename,
        content_sha256=submission.content_sha256,
        signed=submission.signed,
        submitted_by=party.name if submission.party_id == party.id else "another party",
        created_at=submission.created_at,
        issues=submission.issues,
        entries=[],
        document_count=len(parts.documents),
    )
    body = created.model_dump(mode="json")
    body["entries"] = entries  # plain rows: building 20,000 models would dominate the upload
    return JSONResponse(body, status_code=201 if result.created else 200)


@router.get("", response_model=SubmissionPage)
def list_submissions(
    session: SessionDep,
    party: CurrentParty,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> SubmissionPage:
    """Your submissions (SECAS: everyone's), newest first."""
    page, total = service.list_submissions(session=session, party=party, limit=limit, offset=offset)
    items = [
        SubmissionSummary(
            id=s.submission.id,
            status=s.status,
            filename=s.submission.filename,
            submitted_by=s.submitted_by,
            created_at=s.submission.created_at,
            entry_count=s.entry_count,
        )
        for s in page
    ]
    return SubmissionPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{submission_id}", response_model=SubmissionPublic)
def read_submission(
    submission_id: IdPath, session: SessionDep, party: CurrentParty
) -> SubmissionPublic:
    """One submission with its entries and its report (warnings included)."""
    submission = service.visible_submission(
        session=session, party=party, submission_id=submission_id
    )
    return _public(service.submission_detail(session=session, submission=submission))


@router.get("/{submission_id}/documents", response_model=list[DocumentPublic])
def list_documents(
    submission_id: IdPath, session: SessionDep, party: CurrentParty
) -> list[DocumentPublic]:
    """The certificate documents carried with a submission."""
    submission = service.visible_submission(
        session=session, party=party, submission_id=submission_id
    )
    documents = service.submission_documents(session=session, submission=submission)
    return [DocumentPublic.model_validate(d, from_attributes=True) for d in documents]


@router.get("/{submission_id}/documents/{document_id}")
def download_document(
    submission_id: IdPath, document_id: IdPath, session: SessionDep, party: CurrentParty
) -> Response:
    """Download one certificate document (PDF)."""
    submission = service.visible_submission(
        session=session, party=party, submission_id=submission_id
    )
    document = service.get_document(session=session, submission=submission, document_id=document_id)
    safe_name = "".join(c for c in document.filename if c.isalnum() or c in "._- ") or "document"
    return Response(
        document.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{safe_name}"',
            "X-Content-SHA256": document.sha256,
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/{submission_id}/approve", response_model=list[EntryPublic])
def approve_submission(
    submission_id: IdPath,
    session: SessionDep,
    notify: DecisionNotices,
    secas: SecasParty,
    actor: CurrentActor,
    body: ApprovalIn | None = None,
) -> list[EntryPublic]:
    """Approve every pending entry of the submission at once, all or nothing (SECAS)."""
    submission = service.visible_submission(
        session=session, party=secas, submission_id=submission_id
    )
    approved = service.approve_submission(
        session=session,
        submission=submission,
        actor=actor,
        note=body.note if body else None,
        now=utcnow(),
        notify=notify,
    )
    return [EntryPublic.of(e) for e in approved]


@router.post("/{submission_id}/reject", response_model=list[EntryPublic])
def reject_submission(
    submission_id: IdPath,
    body: RejectionIn,
    session: SessionDep,
    secas: SecasParty,
    actor: CurrentActor,
    notify: DecisionNotices,
) -> list[EntryPublic]:
    """Reject every pending entry of the submission with one reason, all or nothing (SECAS)."""
    submission = service.visible_submission(
        session=session, party=secas, submission_id=submission_id
    )
    rejected = service.reject_submission(
        session=session,
        submission=submission,
        actor=actor,
        reason=body.reason,
        now=utcnow(),
        notify=notify,
    )
    return [EntryPublic.of(e) for e in rejected]
