"""`import-cpl`: load a whole CPL workbook (the layout of `/api/v1/cpl.xlsx`).

Every row is checked first, by the rules uploads are checked by (`workbook.checks` with the
`IMPORT` row source), and every problem reported; a file with any bad row imports nothing.
A good file is loaded in one transaction: each entry keeps its ID and status, gets one
`imported` event in its history, and the certificate register is filled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from cpl_service.batches import batches
from cpl_service.certificates.models import CertificateStatus
from cpl_service.clock import utcnow
from cpl_service.db import bulk_insert, bulk_load, is_postgres
from cpl_service.devices import CertificateKind
from cpl_service.entries.models import format_entry_id
from cpl_service.entries.workflow import REMOVAL_STATUSES
from cpl_service.errors import ConflictError, InvalidInputError, WorkbookRejectedError
from cpl_service.parties.models import Role
from cpl_service.publication.reader import read_cpl_workbook
from cpl_service.specifications.models import TechnicalSpecification
from cpl_service.workbook.checks import check_workbook
from cpl_service.workbook.context import (
    CERTIFICATE_FIELDS,
    IMPORT,
    CheckContext,
    CpaOnRecord,
    Identity,
    named_certificate_numbers,
    named_entry_ids,
    named_identities,
)
from cpl_service.workbook.reader import RawRow
from cpl_service.workbook.report import Issue
from cpl_service.workbook.specifications import SpecificationInfo

ACTOR_NAME = "import-cpl"
# Rows per INSERT or COPY: large enough that PostgreSQL works on one batch while the next
# is being converted, small enough to keep a batch's tuples in memory lightly.
_BATCH = 10_000

# import-cpl's own names, kept stable for its users, for problems the upload rules name
# otherwise: (column, upload code) -> import code.
IMPORT_CODES: dict[tuple[str, str], str] = {
    ("Physical Device Type", "invalid-choice"): "invalid-device-type",
    ("Physical Device Type", "unlisted-device"): "invalid-device-type",
    ("GBCS Version", "unknown-specification"): "unknown-gbcs-version",
    ("Submission Type", "invalid-choice"): "invalid-submission-type",
    ("CPA Expiry Date", "cpa-expiry-required"): "required",
    ("Manufacturer Image Hash Creator", "hash-creator-required"): "required",
    ("Firmware Version", "duplicate-in-file"): "duplicate-device-model",
    ("Firmware Version", "duplicate-entry"): "duplicate-device-model",
    ("CPA Expiry Date", "cpa-expiry-conflict"): "cpa-dates-conflict",
    ("CPA Conditional Date", "cpa-conditional-conflict"): "cpa-dates-conflict",
    ("CPA Renewal Date", "cpa-renewal-required"): "required",
    ("CPA Renewal Date", "cpa-renewal-conflict"): "cpa-dates-conflict",
    ("CPA Certificate Type", "cpa-type-conflict"): "cpa-dates-conflict",
}


@dataclass
class ImportResult:
    """What an import loaded, and the warnings its rows raised."""

    entries: int
    certificates_added: int
    by_status: dict[str, int]
    warnings: list[dict[str, Any]] = field(default_factory=list)


def import_issue(issue: Issue) -> dict[str, Any]:
    """An issue as `import-cpl` reports it: the upload's, under the import's code."""
    found = issue.to_dict()
    found["code"] = IMPORT_CODES.get((issue.column, issue.code), issue.code)
    return found


def _taken_entry_ids(session: Session, named: Collection[str]) -> set[str]:
    """Those of the `named` entry IDs in use: as an entry's ID, or as the number of one."""
    table = SQLModel.metadata.tables["entry"]
    numbers = sorted(
        {int(n) for n in (e.removeprefix("CPL-") for e in named) if n.isdigit() and len(n) < 10}
    )
    taken: set[str] = set()
    for batch in batches(sorted(named)):
        rows = session.connection().execute(
            sa.select(table.c.entry_id).where(table.c.entry_id.in_(list(batch)))
        )
        taken.update(entry_id for (entry_id,) in rows)
    for number_batch in batches(numbers):
        rows = session.connection().execute(
            sa.select(table.c.id).where(table.c.id.in_(list(number_batch)))
        )
        taken.update(format_entry_id(number) for (number,) in rows)
    return taken


def _holds_any(session: Session, table_name: str) -> bool:
    """Whether `table_name` (a name from the metadata) has any row: one row read at most."""
    quoted = session.get_bind().dialect.identifier_preparer.quote(table_name)
    probe = f"SELECT 1 FROM {quoted} LIMIT 1"  # noqa: S608 - a table name from the metadata
    return session.connection().exec_driver_sql(probe).first() is not None


def _check_context(
    session: Session, rows: Sequence[RawRow], *, today: date
) -> tuple[CheckContext, set[tuple[str, str]], bool]:
    """What the rules need from the database for what the rows name, which of the
    certificates they name are registered already, and whether the list and the register
    are empty.

    Into an empty list or register (the usual import, onto a new instance) nothing the
    rows name can be there: the look-ups, a tenth of a 100,000-row import, are skipped.
    """
    any_entry = _holds_any(session, "entry")
    any_certificate = _holds_any(session, "assurance_certificate")
    registered: dict[tuple[str, str], CpaOnRecord] = {}
    taken: set[str] = set()
    live: set[Identity] = set()
    if any_entry or any_certificate:
        # lazy: the upload's service brings in the signing stack (cryptography), a tenth of
        # the command's start-up; only an import into a list that holds rows asks it.
        from cpl_service.submissions.service import certificates_on_record, live_identities

        if any_certificate:
            registered = certificates_on_record(
                session,
                named_certificate_numbers(rows, CERTIFICATE_FIELDS),
                kinds=[kind.value for kind in CertificateKind],
            )
        if any_entry:
            live = live_identities(session, named_identities(rows))
            taken = _taken_entry_ids(session, named_entry_ids(rows))
    cpa = {
        number: on_record
        for (kind, number), on_record in registered.items()
        if kind == CertificateKind.CPA
    }
    specifications = {
        s.name: SpecificationInfo(s.name, s.kind, s.installation_end_date)
        for s in session.exec(select(TechnicalSpecification)).all()
    }
    context = CheckContext(
        submitter_role=Role.SECAS,
        upload_date=today,
        specifications=specifications,
        live_identities=live,
        cpa_certificates=cpa,
        source=IMPORT,
        taken_entry_ids=taken,
    )
    return context, set(registered), not (any_entry or any_certificate)


def import_cpl(
    *,
    session: Session,
    path: Path,
    panel_decision_ref: str,
    fallback_email: str,
    now: datetime | None = None,
) -> ImportResult:
    """Load a CPL workbook in one transaction, or nothing at all.

    Raises:
        InvalidInputError: no Panel decision reference was given.
        UnreadableWorkbookError, UnsupportedFileError, UploadTooLargeError: the file is not
            a safe CPL workbook.
        WorkbookRejectedError: columns or rows break the rules; `issues` lists every error.
        ConflictError: the database changed underneath (e.g. an ID taken meanwhile).
    """
    reference = panel_decision_ref.strip()
    if not reference or len(reference) > 100:
        raise InvalidInputError("A Panel decision reference (at most 100 characters) is needed.")
    moment = now or utcnow()
    parsed = read_cpl_workbook(path)
    context, known, empty = _check_context(session, parsed.rows, today=moment.date())
    report = check_workbook(parsed, context=context)
    if report.errors:
        raise WorkbookRejectedError(
            f"{path.name} has {len(report.errors)} problem(s); nothing was imported.",
            [import_issue(i) for i in report.errors],
        )
    entries = report.entries
    undated = moment.replace(microsecond=0)
    for fields in entries:
        fields["contact_email"] = fields["contact_email"] or fallback_email
        # A removal always names a Panel decision: the import's, if the file gives none.
        if fields["status"] in REMOVAL_STATUSES and not fields["panel_decision_ref"]:
            fields["panel_decision_ref"] = reference
        if fields["status_effective_at"] is None:
            fields["status_effective_at"] = undated
    try:
        added = _store(
            session,
            entries,
            known,
            empty=empty,
            reference=reference,
            source=path.name,
            now=moment,
        )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(
            "The database changed while importing (an entry ID or Device Model was taken "
            "meanwhile); nothing was imported."
        ) from exc
    except BaseException:
        session.rollback()
        raise
    by_status = dict(Counter(map(itemgetter("status"), entries)))
    return ImportResult(
        entries=len(entries),
        certificates_added=added,
        by_status=by_status,
        warnings=[import_issue(i) for i in report.warnings],
    )


# Each kind of certificate, the entry field naming its number, and whether the CPA dates
# go with it.
_CERTIFICATE_NUMBERS = tuple(
    (kind.value, f"{kind.value.lower()}_certificate_number", kind == CertificateKind.CPA)
    for kind in CertificateKind
)


def new_certificates(
    entries: Sequence[dict[str, Any]], known: Collection[tuple[str, str]], *, now: datetime
) -> list[dict[str, Any]]:
    """The register rows for the certificates `entries` name that are not `known`: one per
    (kind, number), in the order the entries first name them, CPA dates from that entry."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    valid = CertificateStatus.VALID.value
    for fields in entries:
        for kind, name, is_cpa in _CERTIFICATE_NUMBERS:
            number = fields[name]
            if not number:
                continue
            key = (kind, number)
            if key in found or key in known:
                continue
            found[key] = {
                "kind": kind,
                "number": number,
                "cpa_certificate_type": fields["cpa_certificate_type"] if is_cpa else None,
                "cpa_expiry_date": fields["cpa_expiry_date"] if is_cpa else None,
                "cpa_renewal_date": fields["cpa_renewal_date"] if is_cpa else None,
                "cpa_conditional_date": fields["cpa_conditional_date"] if is_cpa else None,
                "status": valid,
                "created_at": now,
            }
    return list(found.values())


def _store(
    session: Session,
    entries: list[dict[str, Any]],
    known: set[tuple[str, str]],
    *,
    empty: bool,
    reference: str,
    source: str,
    now: datetime,
) -> int:
    certificate_rows = new_certificates(entries, known, now=now)
    tables = SQLModel.metadata.tables
    # Straight to the driver (`db.bulk_insert`: COPY on PostgreSQL), one statement per
    # table and batch: no ORM object, no per-row SQLAlchemy work.
    connection = session.connection()
    fields_inserted = [name for name in entries[0] if name != "excel_row"] if entries else []
    for fields in entries:
        fields["id"] = int(fields["entry_id"].removeprefix("CPL-"))
        # The spreadsheet does not say when an entry first became Active; its status
        # date is the best bound we have.
        fields["first_active_at"] = fields["status_effective_at"]
    entry_constants = {
        "submission_id": None,
        "submitted_by_party_id": None,
        "supplier_confirmation_ref": None,
        "created_at": now,
        "updated_at": now,
    }
    event_constants = {
        "action": "imported",
        "from_status": None,
        "actor_party_id": None,
        "actor_name": ACTOR_NAME,
        "at": now,
        "reason": f"Imported from {source}",
        "panel_decision_ref": reference,
    }
    entry_names = list(dict.fromkeys([*fields_inserted, "id", "first_active_at"]))
    # The secondary indexes are built once, after the rows are in, not updated 100,000
    # times (`db.bulk_load`: on SQLite, and on PostgreSQL into an empty list); all in this
    # one transaction.
    with bulk_load(
        connection,
        [tables["assurance_certificate"], tables["entry"], tables["entry_event"]],
        empty=empty,
    ):
        for batch in batches(certificate_rows, _BATCH):
            bulk_insert(connection, tables["assurance_certificate"], batch, names=list(batch[0]))
        for batch in batches(entries, _BATCH):
            bulk_insert(
                connection, tables["entry"], batch, names=entry_names, constants=entry_constants
            )
            events = [{"entry_pk": f["id"], "to_status": f["status"]} for f in batch]
            bulk_insert(
                connection,
                tables["entry_event"],
                events,
                names=["entry_pk", "to_status"],
                constants=event_constants,
            )
    if is_postgres(session.get_bind()):  # type: ignore[arg-type]
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('entry', 'id'), (SELECT max(id) FROM entry))"
            )
        )
    return len(certificate_rows)
