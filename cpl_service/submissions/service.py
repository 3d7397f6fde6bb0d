"""Accepting a submission workbook: read, check, verify, store atomically."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any, Protocol

from cryptography import x509
from sqlalchemy import Connection, bindparam, func, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from cpl_service.batches import batches
from cpl_service.certificates.cpa import CpaCertificateType
from cpl_service.certificates.models import CertificateStatus
from cpl_service.config import Settings
from cpl_service.db import bulk_insert
from cpl_service.devices import CertificateKind
from cpl_service.entries import service as entries
from cpl_service.entries.models import (
    LIVE_STATUSES_SQL,
    Entry,
    EntryEvent,
    EntryStatus,
    SubmissionType,
    format_entry_id,
)
from cpl_service.entries.workflow import REMOVAL_STATUSES
from cpl_service.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SignatureError,
    UnsupportedFileError,
    UploadTooLargeError,
    WorkbookRejectedError,
)
from cpl_service.parties.actors import Actor
from cpl_service.parties.models import Party, PartyCertificate, Role
from cpl_service.signing.verify import verify_with_registered
from cpl_service.specifications.models import TechnicalSpecification
from cpl_service.storable import check_filename
from cpl_service.submissions.models import Submission, SubmissionDocument, SubmissionStatus
from cpl_service.workbook.checks import (
    CheckContext,
    CheckReport,
    PreviousEntry,
    check_workbook,
    referenced_entry_ids,
)
from cpl_service.workbook.context import (
    CpaOnRecord,
    Identity,
    named_certificate_numbers,
    named_identities,
)
from cpl_service.workbook.reader import ReadLimits, read_workbook
from cpl_service.workbook.specifications import SpecificationInfo

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
ENTRY_FIELD_NAMES = frozenset(Entry.model_fields) - {"id"}
# The entry columns `_store` fills itself, whatever a draft holds.
ENTRY_ASSIGNED = frozenset({"entry_id", "supplier_confirmation_ref"})
IDENTITY_COLUMNS = (
    "manufacturer_id",
    "model_id",
    "hardware_version",
    "firmware_version",
    "physical_device_type",
)
SUMMARY_COLUMNS = ("entry_id", "status", *IDENTITY_COLUMNS, "model_name")
_SUMMARY_SQL = (
    f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM entry "  # noqa: S608 - constant column names
    "WHERE submission_id = {marker} ORDER BY id"
)
# Every entry ever made Active is on the public CPL; pending and rejected ones are private.
PUBLIC_STATUSES = frozenset({EntryStatus.ACTIVE, *REMOVAL_STATUSES})


@dataclass(frozen=True)
class UploadedDocument:
    filename: str
    content: bytes


@dataclass(frozen=True)
class SubmissionResult:
    submission: Submission
    created: bool


def specification_infos(session: Session) -> list[SpecificationInfo]:
    specs = session.exec(select(TechnicalSpecification).order_by(col(TechnicalSpecification.id)))
    return [
        SpecificationInfo(name=s.name, kind=s.kind, installation_end_date=s.installation_end_date)
        for s in specs
    ]


# A join with a VALUES list rather than `(columns) IN (…)`: SQLite looks row values up
# through an index only this way. The status test is spelt exactly as the partial unique
# index's predicate (`LIVE_STATUSES_SQL`), so both databases answer from that index.
# Only the driver's placeholders are ever put in `{values}`; every value is bound.
_LIVE_IDENTITIES_SQL = (
    "SELECT e.manufacturer_id, e.model_id, e.hardware_version, e.firmware_version, "  # noqa: S608
    "e.physical_device_type FROM (VALUES {values}) AS v JOIN entry AS e "
    "ON e.manufacturer_id = v.column1 AND e.model_id = v.column2 "
    "AND e.hardware_version = v.column3 AND e.firmware_version = v.column4 "
    "AND e.physical_device_type = v.column5 WHERE e." + LIVE_STATUSES_SQL
)


def live_identities(session: Session, identities: Collection[Identity]) -> set[Identity]:
    """Those of `identities` that are live (pending review or Active) in the database.

    Asks only for the Device Models given, in batches: the cost grows with the rows checked,
    not with the CPL. The values go straight to the driver, positionally: thousands of
    named parameters cost SQLAlchemy more than the query costs the database.
    """
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    found: set[Identity] = set()
    for batch in batches(sorted(identities)):
        rows = connection.exec_driver_sql(
            _live_identities_sql(len(batch), marker), tuple(chain.from_iterable(batch))
        )
        found.update((r[0], r[1], r[2], r[3], r[4]) for r in rows)
    return found


@functools.lru_cache(maxsize=32)
def _live_identities_sql(count: int, marker: str) -> str:
    """The statement for `count` identities, with the driver's `marker` for each value."""
    row = "(" + ", ".join([marker] * 5) + ")"
    return _LIVE_IDENTITIES_SQL.format(values=", ".join([row] * count))


def certificates_on_record(
    session: Session, numbers: Collection[str], *, kinds: Collection[str]
) -> dict[tuple[str, str], CpaOnRecord]:
    """(kind, number) -> the register's certificate, for those of `numbers` (of `kinds`) in it.

    Only CPA certificates carry a type and dates; the others are there only to say they are.
    """
    table = SQLModel.metadata.tables["assurance_certificate"]
    found: dict[tuple[str, str], CpaOnRecord] = {}
    for batch in batches(sorted(numbers)):
        rows = session.connection().execute(
            sa_select(
                table.c.kind,
                table.c.number,
                table.c.cpa_certificate_type,
                table.c.cpa_expiry_date,
                table.c.cpa_renewal_date,
                table.c.cpa_conditional_date,
            ).where(table.c.kind.in_(sorted(kinds)), table.c.number.in_(list(batch)))
        )
        for kind, number, cpa_type, expiry, renewal, conditional in rows:
            found[(kind, number)] = CpaOnRecord(
                CpaCertificateType(cpa_type or CpaCertificateType.FIXED_TERM),
                expiry,
                renewal,
                conditional,
            )
    return found


def _previous_entries(
    session: Session, party: Party, entry_ids: Collection[str]
) -> dict[str, PreviousEntry]:
    previous: dict[str, PreviousEntry] = {}
    for batch in batches(sorted(entry_ids)):
        for e in session.exec(select(Entry).where(col(Entry.entry_id).in_(batch))).all():
            if e.status not in PUBLIC_STATUSES and not entries.can_see(party, e):
                continue  # another party's private entry must read exactly like a missing one
            previous[e.entry_id] = PreviousEntry(
                entry_id=e.entry_id,
                status=e.status,
                manufacturer_id=e.manufacturer_id,
                model_id=e.model_id,
                hardware_version=e.hardware_version,
                firmware_version=e.firmware_version,
                physical_device_type=e.physical_device_type,
            )
    return previous


def _context(session: Session, party: Party, rows: Sequence[Any], today: Any) -> CheckContext:
    """What the rules need from the database, for exactly what the rows name."""
    cpa = certificates_on_record(
        session,
        named_certificate_numbers(rows, ["cpa_certificate_number"]),
        kinds=[CertificateKind.CPA.value],
    )
    return CheckContext(
        submitter_role=party.role,
        upload_date=today,
        specifications={s.name: s for s in specification_infos(session)},
        live_identities=live_identities(session, named_identities(rows)),
        cpa_certificates={number: on_record for (_, number), on_record in cpa.items()},
        entries=_previous_entries(session, party, referenced_entry_ids(rows)),
    )


def _check_documents(documents: Sequence[UploadedDocument], settings: Settings) -> None:
    for document in documents:
        if len(document.content) > settings.max_document_bytes:
            raise UploadTooLargeError(
                f"Document {document.filename!r} is larger than "
                f"{settings.max_document_bytes // (1024 * 1024)} MB."
            )
        tail = document.content[-2048:]
        if not document.content.startswith(b"%PDF-") or b"%%EOF" not in tail:
            raise UnsupportedFileError(
                f"Document {document.filename!r} is not a PDF file; certificate documents "
                "must be PDFs."
            )


def _verify_signature(
    session: Session, party: Party, content: bytes, signature: bytes | None, now: datetime
) -> None:
    if not signature:
        raise SignatureError(
            "A row gives a Manufacturer Image Hash, so the workbook must be signed: upload a "
            "detached CMS signature over the workbook file as the 'signature' part."
        )
    registered = session.exec(
        select(PartyCertificate).where(PartyCertificate.party_id == party.id)
    ).all()
    if not registered:
        raise SignatureError(
            "A row gives a Manufacturer Image Hash, so the workbook must be signed with a "
            "certificate registered to your party, and your party has none; ask SECAS to run "
            "'cpl-service party add-certificate'."
        )
    certificates = [x509.load_pem_x509_certificate(r.pem.encode()) for r in registered]
    verify_with_registered(content, signature, registered=certificates, at=now)


def _find_existing(session: Session, party: Party, digest: str) -> Submission | None:
    return session.exec(
        select(Submission).where(
            Submission.party_id == party.id, Submission.content_sha256 == digest
        )
    ).first()


class SubmissionNotice(Protocol):
    """Queues the emails a new submission sends (a supplier asked to confirm a manufacturer's
    firmware updates), in the submission's own transaction. Passed in by whoever accepts
    the upload: notices sit above submissions in the package order."""

    def __call__(self, *, session: Session, submission: Submission, party: Party) -> object: ...


def submit(
    *,
    session: Session,
    settings: Settings,
    party: Party,
    filename: str,
    content: bytes,
    now: datetime,
    notify: SubmissionNotice,
    signature: bytes | None = None,
    documents: Sequence[UploadedDocument] = (),
    actor: Actor | None = None,
) -> SubmissionResult:
    """Check an uploaded workbook and store its rows as pending entries, all or nothing.

    Re-uploading byte-identical content (same party) returns the first submission.
    `notify` queues the emails of a new submission in the same transaction.
    """
    check_filename(filename, what="workbook")
    for document in documents:
        check_filename(document.filename, what="document")
    if not filename.lower().endswith(WORKBOOK_SUFFIXES):
        raise UnsupportedFileError(
            f"{filename!r} is not an .xlsx or .xlsm workbook; save the CPL template as "
            "an Excel workbook and upload that."
        )
    digest = hashlib.sha256(content).hexdigest()
    existing = _find_existing(session, party, digest)
    if existing is not None:
        return SubmissionResult(existing, created=False)
    _check_documents(documents, settings)

    parsed = read_workbook(
        content,
        limits=ReadLimits(
            max_bytes=settings.max_upload_bytes,
            max_rows=settings.max_rows,
            max_uncompressed_bytes=settings.max_uncompressed_bytes,
        ),
    )
    report: CheckReport = check_workbook(
        parsed, context=_context(session, party, parsed.rows, now.date())
    )
    issues = [i.to_dict() for i in report.issues]
    if report.errors:
        count = len(report.errors)
        raise WorkbookRejectedError(
            f"The workbook has {count} problem{'s' if count != 1 else ''}; nothing was stored. "
            "Fix every row listed in 'issues' and upload it again.",
            issues=issues,
        )
    if report.needs_signature:
        _verify_signature(session, party, content, signature, now)

    try:
        submission = _store(
            session=session,
            party=party,
            filename=filename,
            content=content,
            digest=digest,
            signed=bool(signature),
            issues=issues,
            report=report,
            documents=documents,
            now=now,
            actor=actor,
            notify=notify,
        )
    except IntegrityError:
        session.rollback()
        existing = _find_existing(session, party, digest)
        if existing is not None:
            return SubmissionResult(existing, created=False)
        raise ConflictError(
            "Another submission of the same Device Model was accepted at the same moment; "
            "nothing of this upload was stored. Check the CPL and upload again if needed."
        ) from None
    return SubmissionResult(submission, created=True)


def _store(
    *,
    session: Session,
    party: Party,
    filename: str,
    content: bytes,
    digest: str,
    signed: bool,
    issues: list[dict[str, Any]],
    report: CheckReport,
    documents: Sequence[UploadedDocument],
    now: datetime,
    notify: SubmissionNotice,
    actor: Actor | None = None,
) -> Submission:
    assert party.id is not None
    submission = Submission(
        party_id=party.id,
        filename=filename[:255],
        content_sha256=digest,
        size_bytes=len(content),
        signed=signed,
        issues=issues,
        created_at=now,
    )
    session.add(submission)
    session.flush()
    assert submission.id is not None
    for document in documents:
        session.add(
            SubmissionDocument(
                submission_id=submission.id,
                filename=document.filename[:255],
                sha256=hashlib.sha256(document.content).hexdigest(),
                size_bytes=len(document.content),
                content=document.content,
                created_at=now,
            )
        )
    connection = session.connection()
    drafts = report.entries
    ids = reserve_entry_ids(session, len(drafts))
    _insert_entries(connection, drafts, ids, submission_id=submission.id, party=party, now=now)
    bulk_insert(
        connection,
        SQLModel.metadata.tables["entry_event"],
        [{"entry_pk": pk} for pk in ids],
        names=["entry_pk"],
        constants={
            "action": "submitted",
            "from_status": None,
            "to_status": EntryStatus.PENDING_REVIEW,
            "actor_party_id": party.id,
            "actor_name": party.name,
            "actor_person": actor.person if actor else None,
            "actor_token": actor.token if actor else None,
            "actor_user_id": actor.user_id if actor else None,
            "actor_token_id": actor.token_id if actor else None,
            "at": now,
            "reason": f"Submission {submission.id} ({filename[:200]})",
        },
    )
    _register_certificates(session, drafts, now)
    notify(session=session, submission=submission, party=party)
    session.commit()
    return submission


def _insert_entries(
    connection: Connection,
    drafts: list[dict[str, Any]],
    ids: Sequence[int],
    *,
    submission_id: int,
    party: Party,
    now: datetime,
) -> None:
    """Insert the checked rows as pending entries numbered `ids`, with one `bulk_insert`.

    The drafts themselves are the rows handed to the driver, and each gains its `id` and
    `entry_id` (and a supplier's, its `supplier_confirmation_ref`): no copy per row.
    Whatever is the same for every row is bound once.
    """
    # Every draft comes out of the same rule set, so all hold the same keys; a draft
    # missing some (never seen, but cheap to allow) has them filled in as None.
    keys = set().union(*drafts)
    for draft in drafts:
        if len(draft) != len(keys):
            for name in keys.difference(draft):
                draft[name] = None
    names = sorted(keys & ENTRY_FIELD_NAMES - ENTRY_ASSIGNED)
    for draft, pk, entry_id in zip(drafts, ids, map(format_entry_id, ids), strict=True):
        draft["id"] = pk
        draft["entry_id"] = entry_id
    constants: dict[str, Any] = {
        "submission_id": submission_id,
        "submitted_by_party_id": party.id,
        "status": EntryStatus.PENDING_REVIEW,
        "status_effective_at": now,
        "removal_proposed": False,
        "created_at": now,
        "updated_at": now,
    }
    # A supplier's own firmware update needs no separate supplier confirmation.
    if party.role == Role.SUPPLIER:
        confirmed = f"submitted by supplier {party.name}"
        for draft in drafts:
            draft["supplier_confirmation_ref"] = (
                confirmed
                if draft.get("submission_type") == SubmissionType.FIRMWARE_UPDATE
                else None
            )
        names.append("supplier_confirmation_ref")
    else:
        constants["supplier_confirmation_ref"] = None
    bulk_insert(
        connection,
        SQLModel.metadata.tables["entry"],
        drafts,
        names=[*names, "id", "entry_id"],
        constants=constants,
    )


# The certificate numbers of an entry draft, by kind, in the order the register's rows are
# inserted: by (kind, number), so certificates get the IDs one sorted insert would give.
_CERTIFICATE_NUMBER_FIELDS = sorted(
    (kind.value, field)
    for kind, field in (
        (CertificateKind.ZIGBEE, "zigbee_certificate_number"),
        (CertificateKind.DLMS, "dlms_certificate_number"),
        (CertificateKind.CPA, "cpa_certificate_number"),
    )
)
_CPA = CertificateKind.CPA.value
_CPA_DETAIL_FIELDS = ("cpa_certificate_type", "cpa_expiry_date", "cpa_renewal_date")


def named_certificates(drafts: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """kind -> a register row for each certificate the drafts name, sorted by number.

    A row is `{"number": …}`; a CPA certificate's adds its type, expiry and renewal dates
    as the first draft naming it gives them, and the first conditional date any of them
    gives (None when none does). Empty numbers name nothing.
    """
    named: dict[str, list[dict[str, Any]]] = {}
    for kind, field in _CERTIFICATE_NUMBER_FIELDS:
        if kind != _CPA:
            numbers = {draft.get(field) for draft in drafts}
            named[kind] = [{"number": n} for n in sorted(n for n in numbers if n)]
            continue
        cpa: dict[str, dict[str, Any]] = {}
        for draft in drafts:
            number = draft.get(field)
            if not number:
                continue
            row = cpa.get(number)
            if row is None:
                cpa[number] = {
                    "number": number,
                    "cpa_certificate_type": draft.get("cpa_certificate_type"),
                    "cpa_expiry_date": draft.get("cpa_expiry_date"),
                    "cpa_renewal_date": draft.get("cpa_renewal_date"),
                    "cpa_conditional_date": draft.get("cpa_conditional_date") or None,
                }
            elif row["cpa_conditional_date"] is None and draft.get("cpa_conditional_date"):
                row["cpa_conditional_date"] = draft["cpa_conditional_date"]
        named[kind] = [cpa[number] for number in sorted(cpa)]
    return named


def _register_certificates(
    session: Session, drafts: Sequence[Mapping[str, Any]], now: datetime
) -> None:
    """Put every certificate the drafts name in the register, unless it is there already."""
    named = named_certificates(drafts)
    # Insert-or-ignore, then update: a concurrent upload registering the same new number
    # (for another Device Model) is not a conflict, and no statement grows with the upload.
    # Every upload inserts in one order, by (kind, number): two registering the same new
    # numbers wait for each other's rows in that order, never in a cycle.
    table = SQLModel.metadata.tables["assurance_certificate"]
    connection = session.connection()
    for kind, rows in named.items():
        if not rows:
            continue
        bulk_insert(
            connection,
            table,
            rows,
            names=list(rows[0]),
            constants={"kind": kind, "status": CertificateStatus.VALID, "created_at": now},
            ignore_conflicts_on=("kind", "number"),
        )
    # A newly declared condition is recorded: it can only bring notices earlier.
    conditions = [
        {"cert_number": row["number"], "cert_date": row["cpa_conditional_date"]}
        for row in named[_CPA]
        if row["cpa_conditional_date"]
    ]
    if conditions:
        connection.execute(
            update(table)
            .where(
                table.c.kind == _CPA,
                table.c.number == bindparam("cert_number"),
                table.c.cpa_conditional_date.is_(None),
            )
            .values(cpa_conditional_date=bindparam("cert_date")),
            conditions,
        )


def reserve_entry_ids(session: Session, count: int) -> list[int]:
    """`count` fresh entry numbers, so rows can be inserted with their final IDs at once."""
    if count == 0:
        return []
    bind = session.connection()
    if bind.dialect.name == "postgresql":
        return list(
            bind.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('entry', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            ).scalars()
        )
    # SQLite has one writer at a time and this transaction has already written (the
    # submission row), so nobody can take these numbers before we commit.
    top = bind.execute(text("SELECT COALESCE(MAX(id), 0) FROM entry")).scalar_one()
    return list(range(top + 1, top + 1 + count))


def submission_entries(session: Session, submission: Submission) -> list[Entry]:
    return list(
        session.exec(
            select(Entry).where(Entry.submission_id == submission.id).order_by(col(Entry.id))
        ).all()
    )


def entry_summaries(session: Session, submission: Submission) -> list[dict[str, Any]]:
    """The submission's entries in brief (ID, status, identity), cheap even for 20,000.

    Plain driver rows (the status as its word): every column is text, so there is nothing
    to convert, and SQLAlchemy's per-row result processing would be most of the cost.
    """
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    rows = connection.exec_driver_sql(_SUMMARY_SQL.format(marker=marker), (submission.id,))
    # All at once: iterating the result fetches row by row, through SQLAlchemy.
    return [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in rows.fetchall()]


def status_overview(
    session: Session, submission_ids: Sequence[int]
) -> dict[int, tuple[set[EntryStatus], int]]:
    """For each submission: the statuses of its entries and how many there are (one query)."""
    table = SQLModel.metadata.tables["entry"]
    rows = session.connection().execute(
        sa_select(table.c.submission_id, table.c.status, func.count())
        .where(table.c.submission_id.in_(submission_ids))
        .group_by(table.c.submission_id, table.c.status)
    )
    overview: dict[int, tuple[set[EntryStatus], int]] = {sid: (set(), 0) for sid in submission_ids}
    for submission_id, status, count in rows:
        statuses, total = overview[submission_id]
        statuses.add(status)
        overview[submission_id] = (statuses, total + count)
    return overview


def submission_status(statuses: set[EntryStatus]) -> SubmissionStatus:
    """pending_review while any entry waits; otherwise approved, rejected or mixed."""
    if EntryStatus.PENDING_REVIEW in statuses:
        return SubmissionStatus.PENDING_REVIEW
    if statuses == {EntryStatus.REJECTED}:
        return SubmissionStatus.REJECTED
    if EntryStatus.REJECTED in statuses:
        return SubmissionStatus.PARTIALLY_APPROVED
    return SubmissionStatus.APPROVED


def visible_submission(*, session: Session, party: Party, submission_id: int) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None or (party.role != Role.SECAS and submission.party_id != party.id):
        raise NotFoundError(f"There is no submission {submission_id}.")
    return submission


def _party_names(session: Session, party_ids: Sequence[int]) -> dict[int, str]:
    rows = session.exec(select(Party.id, Party.name).where(col(Party.id).in_(set(party_ids))))
    return {party_id: name for party_id, name in rows if party_id is not None}


@dataclass(frozen=True)
class SubmissionOverview:
    """A submission in a listing: its status and size, and who submitted it."""

    submission: Submission
    status: SubmissionStatus
    submitted_by: str
    entry_count: int


def list_submissions(
    *, session: Session, party: Party, limit: int, offset: int
) -> tuple[list[SubmissionOverview], int]:
    """The submissions `party` may see (SECAS: all), newest first, and their total."""
    query = select(Submission)
    if party.role != Role.SECAS:
        query = query.where(Submission.party_id == party.id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = list(
        session.exec(query.order_by(col(Submission.id).desc()).limit(limit).offset(offset)).all()
    )
    overview = status_overview(session, [s.id for s in page if s.id is not None])
    names = _party_names(session, [s.party_id for s in page])
    items = []
    for submission in page:
        assert submission.id is not None
        statuses, count = overview[submission.id]
        items.append(
            SubmissionOverview(
                submission=submission,
                status=submission_status(statuses),
                submitted_by=names.get(submission.party_id, "unknown"),
                entry_count=count,
            )
        )
    return items, int(total)


@dataclass(frozen=True)
class SubmissionDetail:
    """One submission with its entries, its documents and who submitted it."""

    submission: Submission
    status: SubmissionStatus
    submitted_by: str
    entries: list[Entry]
    documents: list[SubmissionDocument]


def submission_documents(*, session: Session, submission: Submission) -> list[SubmissionDocument]:
    return list(
        session.exec(
            select(SubmissionDocument)
            .where(SubmissionDocument.submission_id == submission.id)
            .order_by(col(SubmissionDocument.id))
        ).all()
    )


def submission_detail(*, session: Session, submission: Submission) -> SubmissionDetail:
    entries = submission_entries(session, submission)
    return SubmissionDetail(
        submission=submission,
        status=submission_status({e.status for e in entries}),
        submitted_by=_party_names(session, [submission.party_id]).get(
            submission.party_id, "unknown"
        ),
        entries=entries,
        documents=submission_documents(session=session, submission=submission),
    )


def get_document(
    *, session: Session, submission: Submission, document_id: int
) -> SubmissionDocument:
    document = session.exec(
        select(SubmissionDocument).where(
            col(SubmissionDocument.id) == document_id,
            col(SubmissionDocument.submission_id) == submission.id,
        )
    ).first()
    if document is None:
        raise NotFoundError(f"Submission {submission.id} has no document {document_id}.")
    return document


def approve_submission(
    *,
    session: Session,
    submission: Submission,
    actor: Actor,
    note: str | None,
    now: datetime,
    notify: entries.DecisionNotice,
) -> list[Entry]:
    """Approve every pending entry of a submission, or none of them (409 with reasons)."""
    submitter = session.get(Party, submission.party_id)
    pending = [
        e for e in submission_entries(session, submission) if e.status == EntryStatus.PENDING_REVIEW
    ]
    if not pending:
        raise ConflictError(f"Submission {submission.id} has no entry pending review.")
    blockers = [
        reason
        for entry in pending
        for reason in entries.approval_blockers(
            session=session,
            entry=entry,
            submitter_role=submitter.role if submitter else None,
            today=now.date(),
        )
    ]
    if blockers:
        raise ConflictError(
            f"Submission {submission.id} cannot be approved as a whole: " + " ".join(blockers),
            reasons=blockers,
        )
    for entry in pending:
        # transition() rolls back and raises if any entry changed under us: all or nothing.
        entries.transition(
            session=session,
            entry=entry,
            to_status=EntryStatus.ACTIVE,
            actor=actor,
            action="approved",
            at=now,
            reason=note or f"Submission {submission.id} approved",
        )
    notify(session=session, decision=entries.Decision(EntryStatus.ACTIVE, pending, now, note))
    session.commit()
    return pending


def reject_submission(
    *,
    session: Session,
    submission: Submission,
    actor: Actor,
    reason: str,
    now: datetime,
    notify: entries.DecisionNotice,
) -> list[Entry]:
    """Reject every pending entry of a submission with one reason, all or nothing (SECAS).

    One decision batch: `notify` queues one email for it, in the same transaction.
    """
    if not reason.strip():
        raise InvalidInputError("A rejection needs a reason the submitter can act on.")
    pending = [
        e for e in submission_entries(session, submission) if e.status == EntryStatus.PENDING_REVIEW
    ]
    if not pending:
        raise ConflictError(f"Submission {submission.id} has no entry pending review.")
    for entry in pending:
        # transition() rolls back and raises if any entry changed under us: all or nothing.
        entries.transition(
            session=session,
            entry=entry,
            to_status=EntryStatus.REJECTED,
            actor=actor,
            action="rejected",
            at=now,
            reason=reason.strip(),
        )
    notify(
        session=session,
        decision=entries.Decision(EntryStatus.REJECTED, pending, now, reason.strip()),
    )
    session.commit()
    return pending


@dataclass(frozen=True)
class SubmissionEntriesPage:
    """A submission with one page of its entries and their histories (for the pages)."""

    submission: Submission
    status: SubmissionStatus
    submitted_by: str
    submitter_role: str | None
    entry_count: int
    entries: list[Entry]
    histories: dict[int, list[EntryEvent]]
    documents: list[SubmissionDocument]


def submission_entries_page(
    *, session: Session, submission: Submission, limit: int, offset: int
) -> SubmissionEntriesPage:
    """`submission`, its status and size, and `limit` of its entries from `offset` (by ID).

    Cheap for a submission of 20,000 entries: one grouped count, one page of entries and
    one query for their histories.
    """
    assert submission.id is not None
    statuses, count = status_overview(session, [submission.id])[submission.id]
    page = list(
        session.exec(
            select(Entry)
            .where(Entry.submission_id == submission.id)
            .order_by(col(Entry.id))
            .limit(limit)
            .offset(offset)
        ).all()
    )
    submitter = session.get(Party, submission.party_id)
    return SubmissionEntriesPage(
        submission=submission,
        status=submission_status(statuses),
        submitted_by=submitter.name if submitter else "unknown",
        submitter_role=submitter.role if submitter else None,
        entry_count=count,
        entries=page,
        histories=entries.histories(session=session, entries=page),
        documents=submission_documents(session=session, submission=submission),
    )
