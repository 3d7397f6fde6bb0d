"""`import-cpl`: load a whole CPL workbook (the layout of `/api/v1/cpl.xlsx`).

Every row is checked first and every problem reported; a file with any bad row imports
nothing. A good file is loaded in one transaction: each entry keeps its ID and status,
gets one `imported` event in its history, and the certificate register is filled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.clock import utcnow
from cpl_service.db import is_postgres
from cpl_service.devices import CertificateKind, find_device_type, is_unlisted_device
from cpl_service.entries.models import LIVE_STATUSES_SQL, Entry, EntryEvent, format_entry_id
from cpl_service.entries.workflow import REMOVAL_STATUSES as REMOVED_STATUSES
from cpl_service.errors import ConflictError, InvalidInputError, WorkbookRejectedError
from cpl_service.extracts.rows import internal_status
from cpl_service.publication.reader import SheetRow, heading_key, read_cpl_sheet
from cpl_service.publication.rows import restore
from cpl_service.specifications.models import TechnicalSpecification
from cpl_service.workbook.specifications import specification_key

ACTOR_NAME = "import-cpl"
SUBMISSION_TYPES = ("New Device Model", "Firmware Update")
CONTACT_EMAIL = "Contact Email"
_BATCH = 1000
_ENTRY_ID = re.compile(r"^CPL-(\d{6,})$")
_HEX = re.compile(r"^[0-9A-F]+$")

# Headings a CPL workbook must have; the others of `rows.COLUMNS` (and Contact Email)
# are read when present.
REQUIRED_HEADINGS: tuple[str, ...] = (
    "CPL Entry ID",
    "Status",
    "Manufacturer Name",
    "Manufacturer ID",
    "Model Name",
    "Model ID",
    "Hardware Version",
    "Firmware Version",
    "Physical Device Type",
    "Technical Specification",
    "Manufacturer Release Notes",
)
_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0", ""}


@dataclass
class ImportResult:
    """What an import loaded."""

    entries: int
    certificates_added: int
    by_status: dict[str, int]


@dataclass
class _Register:
    """What the database already holds that a row may clash with."""

    entry_numbers: set[int]
    entry_ids: set[str]
    live_identities: set[tuple[str, ...]]
    cpa_dates: dict[str, tuple[date | None, date | None]]
    certificates: set[tuple[str, str]]
    specifications: dict[tuple[str, tuple[int, ...]], TechnicalSpecification]


@dataclass
class _RowCheck:
    """Converts one row's cells, collecting issues instead of stopping at the first."""

    row: SheetRow
    issues: list[dict[str, Any]] = field(default_factory=list)

    def issue(self, column: str, code: str, message: str) -> None:
        self.issues.append(
            {"row": self.row.number, "column": column, "code": code, "message": message}
        )

    def raw(self, heading: str) -> Any:
        return self.row.values.get(heading_key(heading))

    def text(self, heading: str, *, required: bool = False, max_length: int = 100) -> str | None:
        value = self.raw(heading)
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        elif isinstance(value, float) and value.is_integer():
            value = str(int(value))
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        result = restore(str(value).strip()) if value is not None else ""
        if not result:
            if required:
                self.issue(heading, "required", f"{heading} is required.")
            return None
        if len(result) > max_length:
            self.issue(heading, "too-long", f"{heading} is longer than {max_length} characters.")
            return None
        return result

    def hex(self, heading: str, lengths: tuple[int, ...], *, required: bool = True) -> str | None:
        value = self.text(heading, required=required, max_length=max(lengths))
        if value is None:
            return None
        upper = value.upper()
        if len(upper) not in lengths or not _HEX.match(upper):
            digits = " or ".join(str(n) for n in lengths)
            self.issue(
                heading,
                "invalid-hex",
                f"{heading} must be exactly {digits} hexadecimal digits (0-9, A-F); "
                f"{value!r} is not.",
            )
            return None
        return upper

    def day(self, heading: str) -> date | None:
        value = self.raw(heading)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        textual = self.text(heading, max_length=30)
        if textual is None:
            return None
        try:
            return date.fromisoformat(textual)
        except ValueError:
            self.issue(heading, "invalid-date", f"{heading} must be a date (YYYY-MM-DD).")
            return None

    def moment(self, heading: str) -> datetime | None:
        value = self.raw(heading)
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time())
        else:
            textual = self.text(heading, max_length=40)
            if textual is None:
                return None
            try:
                moment = datetime.fromisoformat(textual)
            except ValueError:
                self.issue(
                    heading,
                    "invalid-date",
                    f"{heading} must be a date and time (e.g. 2024-05-01T09:30:00Z).",
                )
                return None
        # Spreadsheets hold times as day fractions; round away the float noise.
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = round(moment.timestamp())
        return datetime.fromtimestamp(seconds, tz=UTC)

    def flag(self, heading: str) -> bool:
        value = self.raw(heading)
        if isinstance(value, bool):
            return value
        textual = (self.text(heading, max_length=10) or "").casefold()
        if textual in _TRUE:
            return True
        if textual not in _FALSE:
            self.issue(heading, "invalid-flag", f"{heading} must be Yes or No.")
        return False


def _spec(register: _Register, name: str, *, default_kind: str | None = None) -> str | None:
    key = specification_key(name, default_kind=default_kind)
    found = register.specifications.get(key) if key else None
    return found.name if found else None


def _check_row(
    check: _RowCheck, register: _Register, *, panel_decision_ref: str, fallback_email: str
) -> dict[str, Any] | None:
    """The entry fields of a good row; `None` (with issues recorded) for a bad one."""
    before = len(check.issues)
    entry_id = (check.text("CPL Entry ID", required=True, max_length=20) or "").upper()
    number: int | None = None
    if entry_id:
        match = _ENTRY_ID.match(entry_id)
        if match is None or format_entry_id(int(match.group(1))) != entry_id:
            check.issue(
                "CPL Entry ID",
                "invalid-entry-id",
                f"{entry_id!r} is not a CPL entry ID; write it like CPL-000123.",
            )
        else:
            number = int(match.group(1))

    status_text = check.text("Status", required=True, max_length=20)
    status = internal_status(status_text) if status_text else None
    if status_text and status is None:
        check.issue(
            "Status",
            "invalid-status",
            f"Status {status_text!r} cannot be imported; use Active, Expired, Cancelled "
            "or Withdrawn (pending and rejected entries are not on the CPL).",
        )

    device_text = check.text("Physical Device Type", required=True, max_length=100)
    device_type = find_device_type(device_text) if device_text else None
    if device_text and device_type is None:
        if is_unlisted_device(device_text):
            message = f"{device_text} is a Type 2 device; those are not listed on the CPL."
        else:
            message = f"{device_text!r} is not a Physical Device Type (e.g. ESME_SINGLE, GSME)."
        check.issue("Physical Device Type", "invalid-device-type", message)

    spec_text = check.text("Technical Specification", required=True, max_length=50)
    specification = _spec(register, spec_text) if spec_text else None
    if spec_text and specification is None:
        known = ", ".join(sorted(s.name for s in register.specifications.values()))
        check.issue(
            "Technical Specification",
            "unknown-specification",
            f"{spec_text!r} is not in the technical-specification register ({known}); "
            "add it to the register first.",
        )
    smets1_default = bool(specification and specification.upper().startswith("SMETS1"))
    smets1 = check.flag("SMETS1") if check.raw("SMETS1") not in (None, "") else smets1_default

    gbcs_text = check.text("GBCS Version", max_length=50)
    gbcs = _spec(register, gbcs_text, default_kind="GBCS") if gbcs_text else None
    if gbcs_text and (gbcs is None or not gbcs.upper().startswith("GBCS")):
        check.issue(
            "GBCS Version", "unknown-gbcs-version", f"{gbcs_text!r} is not a known GBCS version."
        )
    elif gbcs_text is None and not smets1:
        check.issue("GBCS Version", "required", "GBCS Version is required unless SMETS1.")

    submission_type = check.text("Submission Type", max_length=30) or SUBMISSION_TYPES[0]
    matched_type = next(
        (t for t in SUBMISSION_TYPES if t.casefold() == submission_type.casefold()), None
    )
    if matched_type is None:
        check.issue(
            "Submission Type",
            "invalid-submission-type",
            "Submission Type must be New Device Model or Firmware Update.",
        )

    certificates: dict[str, str | None] = {
        kind: check.text(f"{kind} Certificate Number", max_length=100) for kind in CertificateKind
    }
    expiry = check.day("CPA Expiry Date")
    conditional = check.day("CPA Conditional Date")
    if certificates["CPA"] and check.raw("CPA Expiry Date") in (None, ""):
        check.issue("CPA Expiry Date", "required", "A CPA certificate needs its expiry date.")
    if expiry and conditional and conditional > expiry:
        check.issue(
            "CPA Conditional Date",
            "conditional-after-expiry",
            "The CPA Conditional Date must not be after the CPA Expiry Date.",
        )
    if not certificates["CPA"] and (expiry or conditional):
        check.issue(
            "CPA Certificate Number",
            "required",
            "CPA dates are given without a CPA Certificate Number.",
        )

    image_hash = check.hex("Manufacturer Image Hash", (64,), required=False)
    creator = check.text("Manufacturer Image Hash Creator", max_length=200)
    if image_hash and not creator:
        check.issue(
            "Manufacturer Image Hash Creator",
            "required",
            "Manufacturer Image Hash Creator is required when a hash is given.",
        )

    email = check.text(CONTACT_EMAIL, max_length=254)
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            check.issue(CONTACT_EMAIL, "invalid-email", f"Contact Email is not valid: {exc}")

    panel_ref = check.text("Panel Decision Reference", max_length=100)
    if status in REMOVED_STATUSES and not panel_ref:
        panel_ref = panel_decision_ref
    effective_at = check.moment("Status Effective Date") or utcnow().replace(microsecond=0)

    fields: dict[str, Any] = {
        "entry_id": entry_id,
        "number": number,
        "submission_type": matched_type,
        "manufacturer_name": check.text("Manufacturer Name", required=True),
        "manufacturer_id": check.hex("Manufacturer ID", (4,)),
        "model_name": check.text("Model Name", required=True),
        "model_id": check.hex("Model ID", (4, 8)),
        "hardware_version": check.hex("Hardware Version", (4,)),
        "firmware_version": check.hex("Firmware Version", (8,)),
        "physical_device_type": device_type.code if device_type else None,
        "technical_specification": specification,
        "gbcs_version": gbcs,
        "release_notes": check.text("Manufacturer Release Notes", required=True, max_length=1000),
        "zigbee_certificate_number": certificates["ZigBee"],
        "dlms_certificate_number": certificates["DLMS"],
        "cpa_certificate_number": certificates["CPA"],
        "cpa_expiry_date": expiry,
        "cpa_conditional_date": conditional,
        "manufacturer_image_hash": image_hash,
        "manufacturer_image_hash_creator": creator,
        "smets1": smets1,
        "contact_email": email or fallback_email,
        "status": status,
        "status_effective_at": effective_at,
        "panel_decision_ref": panel_ref,
        "removal_proposed": check.flag("Removal Proposed"),
    }
    return fields if len(check.issues) == before else None


def _identity(fields: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        fields[name]
        for name in (
            "manufacturer_id",
            "model_id",
            "hardware_version",
            "firmware_version",
            "physical_device_type",
        )
    )


def _load_register(session: Session) -> _Register:
    numbers: set[int] = set()
    entry_ids: set[str] = set()
    for number, entry_id in session.exec(select(Entry.id, Entry.entry_id)).all():
        if number is not None:
            numbers.add(number)
        entry_ids.add(entry_id)
    live = session.execute(
        sa.select(
            col(Entry.manufacturer_id),
            col(Entry.model_id),
            col(Entry.hardware_version),
            col(Entry.firmware_version),
            col(Entry.physical_device_type),
        ).where(text(LIVE_STATUSES_SQL))
    ).all()
    cpa: dict[str, tuple[date | None, date | None]] = {}
    known: set[tuple[str, str]] = set()
    for cert in session.exec(select(AssuranceCertificate)).all():
        known.add((cert.kind, cert.number))
        if cert.kind == CertificateKind.CPA:
            cpa[cert.number] = (cert.cpa_expiry_date, cert.cpa_conditional_date)
    specs: dict[tuple[str, tuple[int, ...]], TechnicalSpecification] = {}
    for spec in session.exec(select(TechnicalSpecification)).all():
        key = specification_key(spec.name)
        if key is not None:
            specs.setdefault(key, spec)
    return _Register(numbers, entry_ids, {tuple(r) for r in live}, cpa, known, specs)


def check_rows(
    rows: Iterable[SheetRow],
    register: _Register,
    *,
    panel_decision_ref: str,
    fallback_email: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check every row, alone and against the others and the database.

    Returns:
        (the entry fields of every row, every issue found); the rows are usable only
        when the issue list is empty.
    """
    entries: list[dict[str, Any]] = []
    issues: list[dict[str, Any]] = []
    seen_ids: dict[str, int] = {}
    seen_live: dict[tuple[str, ...], int] = {}
    cpa_dates = dict(register.cpa_dates)
    cpa_rows: dict[str, int] = {}
    for row in rows:
        check = _RowCheck(row)
        fields = _check_row(
            check, register, panel_decision_ref=panel_decision_ref, fallback_email=fallback_email
        )
        if fields is None:
            issues.extend(check.issues)
            continue
        entry_id = fields["entry_id"]
        if entry_id in seen_ids:
            check.issue(
                "CPL Entry ID",
                "duplicate-entry-id",
                f"{entry_id} is also on row {seen_ids[entry_id]} of this file.",
            )
        elif entry_id in register.entry_ids or fields["number"] in register.entry_numbers:
            check.issue("CPL Entry ID", "entry-exists", f"{entry_id} is already in the database.")
        seen_ids.setdefault(entry_id, row.number)
        if fields["status"] == "active":
            identity = _identity(fields)
            if identity in seen_live:
                check.issue(
                    "Firmware Version",
                    "duplicate-device-model",
                    f"This Device Model is also Active on row {seen_live[identity]}.",
                )
            elif identity in register.live_identities:
                check.issue(
                    "Firmware Version",
                    "duplicate-device-model",
                    "This Device Model is already pending or Active in the database.",
                )
            seen_live.setdefault(identity, row.number)
        cpa = fields["cpa_certificate_number"]
        if cpa:
            dates = (fields["cpa_expiry_date"], fields["cpa_conditional_date"])
            if cpa in cpa_dates and cpa_dates[cpa] != dates:
                where = f"row {cpa_rows[cpa]} of this file" if cpa in cpa_rows else "the register"
                check.issue(
                    "CPA Expiry Date",
                    "cpa-dates-conflict",
                    f"CPA certificate {cpa} has different expiry or conditional dates in {where}.",
                )
            cpa_dates.setdefault(cpa, dates)
            cpa_rows.setdefault(cpa, row.number)
        issues.extend(check.issues)
        entries.append(fields)
    return entries, issues


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
        UnreadableWorkbookError, UploadTooLargeError: the file is not a safe CPL workbook.
        WorkbookRejectedError: rows break the rules; `issues` lists every problem.
        ConflictError: the database changed underneath (e.g. an ID taken meanwhile).
    """
    reference = panel_decision_ref.strip()
    if not reference or len(reference) > 100:
        raise InvalidInputError("A Panel decision reference (at most 100 characters) is needed.")
    moment = now or utcnow()
    heading_row, written, rows = read_cpl_sheet(path, required=REQUIRED_HEADINGS)
    missing = [h for h in REQUIRED_HEADINGS if heading_key(h) not in written]
    if missing:
        raise WorkbookRejectedError(
            f"{path.name} lacks {len(missing)} required column(s).",
            [
                {
                    "row": heading_row,
                    "column": heading,
                    "code": "missing-column",
                    "message": f"The CPL sheet has no {heading!r} column.",
                }
                for heading in missing
            ],
        )
    register = _load_register(session)
    entries, issues = check_rows(
        rows, register, panel_decision_ref=reference, fallback_email=fallback_email
    )
    if issues:
        raise WorkbookRejectedError(
            f"{path.name} has {len(issues)} problem(s); nothing was imported.",
            sorted(issues, key=lambda i: i["row"]),
        )
    if not entries:
        raise WorkbookRejectedError(
            f"{path.name} lists no entries; nothing was imported.",
            [
                {
                    "row": heading_row,
                    "column": "CPL Entry ID",
                    "code": "no-entries",
                    "message": "The CPL sheet has a heading row but no entries under it.",
                }
            ],
        )
    try:
        added = _store(
            session, entries, register, reference=reference, source=path.name, now=moment
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
    by_status: dict[str, int] = {}
    for fields in entries:
        by_status[fields["status"]] = by_status.get(fields["status"], 0) + 1
    return ImportResult(entries=len(entries), certificates_added=added, by_status=by_status)


def _store(
    session: Session,
    entries: list[dict[str, Any]],
    register: _Register,
    *,
    reference: str,
    source: str,
    now: datetime,
) -> int:
    new_certificates: dict[tuple[str, str], AssuranceCertificate] = {}
    for fields in entries:
        for kind in CertificateKind:
            number = fields[f"{kind.value.lower()}_certificate_number"]
            key = (kind.value, number)
            if number and key not in register.certificates and key not in new_certificates:
                is_cpa = kind == CertificateKind.CPA
                new_certificates[key] = AssuranceCertificate(
                    kind=kind.value,
                    number=number,
                    cpa_expiry_date=fields["cpa_expiry_date"] if is_cpa else None,
                    cpa_conditional_date=fields["cpa_conditional_date"] if is_cpa else None,
                    created_at=now,
                )
    session.add_all(new_certificates.values())

    entry_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    for fields in entries:
        number = fields["number"]
        values = {k: v for k, v in fields.items() if k != "number"}
        entry_rows.append(
            {
                **values,
                "id": number,
                "submission_id": None,
                "submitted_by_party_id": None,
                "previous_entry_id": None,
                "certificate_mapping_evidence": None,
                "smets1_compliance_statement": None,
                "supplier_confirmation_ref": None,
                # The spreadsheet does not say when an entry first became Active; its
                # status date is the best bound we have.
                "first_active_at": fields["status_effective_at"],
                "created_at": now,
                "updated_at": now,
            }
        )
        event_rows.append(
            {
                "entry_pk": number,
                "action": "imported",
                "from_status": None,
                "to_status": fields["status"],
                "actor_party_id": None,
                "actor_name": ACTOR_NAME,
                "at": now,
                "reason": f"Imported from {source}",
                "panel_decision_ref": reference,
            }
        )
    for start in range(0, len(entry_rows), _BATCH):
        session.execute(insert(Entry), entry_rows[start : start + _BATCH])
    for start in range(0, len(event_rows), _BATCH):
        session.execute(insert(EntryEvent), event_rows[start : start + _BATCH])
    session.flush()
    if is_postgres(session.get_bind()):  # type: ignore[arg-type]
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('entry', 'id'), (SELECT max(id) FROM entry))"
            )
        )
    return len(new_certificates)
