"""The rules of SPEC §3, applied to every row; every problem is reported, none raised.

Pure: the service loads what the rules need from the database into a `CheckContext`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email

from cpl_service.devices import (
    BY_CODE,
    DEVICE_TYPES,
    CertificateKind,
    PhysicalDeviceType,
    find_device_type,
    is_unlisted_device,
)
from cpl_service.workbook.headings import HEADING_OF, REQUIRED_FIELDS
from cpl_service.workbook.reader import ParsedWorkbook, RawRow
from cpl_service.workbook.report import CheckReport, Issue, Severity
from cpl_service.workbook.specifications import (
    SpecificationInfo,
    index_specifications,
    specification_key,
)

NEW_DEVICE_MODEL = "New Device Model"
FIRMWARE_UPDATE = "Firmware Update"
SUBMISSION_TYPES = (NEW_DEVICE_MODEL, FIRMWARE_UPDATE)
PRIVILEGED_ROLES = frozenset({"dcc", "secas"})

Identity = tuple[str, str, str, str, str]

_HEX = re.compile(r"[0-9A-Fa-f]+")
_ENTRY_ID = re.compile(r"^CPL-?(\d{1,9})$", re.IGNORECASE)
# Unicode category Cc; line breaks and tabs are allowed in the long free-text fields.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXCEL_EPOCH = date(1899, 12, 30)
_MAX_SERIAL = 2_958_465  # 9999-12-31

_CERT_FIELDS: dict[CertificateKind, str] = {
    CertificateKind.ZIGBEE: "zigbee_certificate_number",
    CertificateKind.DLMS: "dlms_certificate_number",
    CertificateKind.CPA: "cpa_certificate_number",
}

# Longest text each field may hold (EntryFields' column sizes); names are 1-100 per SPEC.
_MAX_LENGTH: dict[str, int] = {
    "manufacturer_name": 100,
    "model_name": 100,
    "release_notes": 1000,
    "zigbee_certificate_number": 100,
    "dlms_certificate_number": 100,
    "cpa_certificate_number": 100,
    "manufacturer_image_hash_creator": 200,
    "certificate_mapping_evidence": 1000,
    "smets1_compliance_statement": 1000,
    "contact_email": 254,
}
# Free-text fields where a line break (Alt+Enter in Excel) is reasonable.
_MULTILINE = frozenset(
    {"release_notes", "certificate_mapping_evidence", "smets1_compliance_statement"}
)


@dataclass(frozen=True)
class PreviousEntry:
    """An existing entry a `Firmware Update` row may name as its Previous CPL Entry ID."""

    entry_id: str
    status: str
    manufacturer_id: str
    model_id: str
    hardware_version: str
    firmware_version: str
    physical_device_type: str


@dataclass(frozen=True)
class CheckContext:
    """What the rules need from outside the workbook, filled by the service.

    Attributes:
        submitter_role: the uploading party's role (`manufacturer`, `supplier`, `dcc`,
            `secas`).
        upload_date: the date of the upload (CPA expiry must be after it).
        specifications: the technical-specification register by canonical name.
        live_identities: (manufacturer_id, model_id, hardware_version, firmware_version,
            physical_device_type code) of every pending_review or active entry.
        cpa_certificates: CPA number -> (expiry date, conditional date) on record.
        entries: entry_id -> the entries named by rows (see `referenced_entry_ids`).
    """

    submitter_role: str
    upload_date: date
    specifications: Mapping[str, SpecificationInfo] = field(default_factory=dict)
    live_identities: AbstractSet[Identity] = frozenset()
    cpa_certificates: Mapping[str, tuple[date | None, date | None]] = field(default_factory=dict)
    entries: Mapping[str, PreviousEntry] = field(default_factory=dict)


def normalise_entry_id(value: object) -> str | None:
    """`CPL-000123` for `cpl-123`, `CPL000123` or `123`; None for anything else.

    Args:
        value: a raw cell value.

    Returns:
        The canonical entry ID, or None when the value cannot be one.
    """
    text = _cell_text(value)
    if text is None:
        return None
    if text.isdigit():
        text = "CPL-" + text
    match = _ENTRY_ID.match(text)
    if not match:
        return None
    return f"CPL-{int(match.group(1)):06d}"


def referenced_entry_ids(rows: Sequence[RawRow]) -> set[str]:
    """The Previous CPL Entry IDs the rows name, so the service can load those entries.

    Args:
        rows: the rows returned by `read_workbook`.

    Returns:
        The canonical entry IDs (e.g. `CPL-000123`) named by any row.
    """
    found: set[str] = set()
    for row in rows:
        entry_id = normalise_entry_id(row.values.get("previous_entry_id"))
        if entry_id is not None:
            found.add(entry_id)
    return found


def check_workbook(parsed: ParsedWorkbook, *, context: CheckContext) -> CheckReport:
    """Check a parsed workbook: its layout issues and every rule on every row.

    Args:
        parsed: what `read_workbook` returned.
        context: what the rules need from the database.

    Returns:
        The report of `check_rows`, with the reader's layout issues (missing columns …)
        added; when those include errors no row is returned as an entry.
    """
    report = check_rows(parsed.rows, context=context)
    report.issues = sorted([*parsed.issues, *report.issues], key=lambda i: i.row)
    if any(i.severity == "error" for i in parsed.issues):
        report.entries = []
    return report


def check_rows(rows: Sequence[RawRow], *, context: CheckContext) -> CheckReport:
    """Apply every rule of SPEC §3 to every row and report all problems.

    A field absent from a row's values (its column is missing from the sheet) is not
    reported row by row when the column is always required: the reader reports the
    missing column once. Such a row is never returned as an entry.

    Args:
        rows: the data rows from `read_workbook`.
        context: the register, live identities, CPA certificates on record, the entries
            named as previous entries, the submitter's role and the upload date.

    Returns:
        The entries of the rows without errors (EntryFields-keyed, with `excel_row`), every
        issue (errors and warnings) in row order, and whether a signature is needed.
    """
    checker = _Checker(context)
    report = CheckReport()
    for row in rows:
        entry, row_issues, complete = checker.check(row)
        report.issues.extend(row_issues)
        if complete and not any(i.severity == "error" for i in row_issues):
            report.entries.append(entry)
        if entry.get("manufacturer_image_hash") or row.values.get("manufacturer_image_hash"):
            report.needs_signature = True
    return report


# --- cell conversion ----------------------------------------------------------------------


def _cell_text(value: object) -> str | None:
    """A cell's text: whole floats lose their `.0` (Excel stores typed 1234 as 1234.0)."""
    if value is None:
        return None
    if type(value) is str:
        return value.strip() or None
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float):
        text = str(int(value)) if math.isfinite(value) and value.is_integer() else repr(value)
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, date | time):
        text = value.isoformat()
    elif isinstance(value, timedelta):
        text = str(value)
    else:
        text = str(value)
    text = text.strip()
    return text or None


def _show(text: str, limit: int = 40) -> str:
    """A value safe and short enough to quote in a message."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return repr(clean)


def _has_control(text: str, *, multiline: bool) -> bool:
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    return pattern.search(text) is not None


_DEVICE_LIST = ", ".join(f"{t.name} ({t.code})" for t in DEVICE_TYPES)


class _Checker:
    def __init__(self, context: CheckContext) -> None:
        self.context = context
        specs = list(context.specifications.values())
        self.tech_index = index_specifications(s for s in specs if not s.is_gbcs)
        self.gbcs_index = index_specifications(s for s in specs if s.is_gbcs)
        self.tech_names = ", ".join(s.name for s in specs if not s.is_gbcs) or "none"
        self.gbcs_names = ", ".join(s.name for s in specs if s.is_gbcs) or "none"
        self.seen_identities: dict[Identity, int] = {}
        self.seen_cpa: dict[str, tuple[date, int]] = {}
        self.email_cache: dict[str, str | EmailNotValidError] = {}

    # one row -------------------------------------------------------------------------

    def check(self, row: RawRow) -> tuple[dict[str, Any], list[Issue], bool]:
        self.row = row.excel_row
        self.values = row.values
        self.issues: list[Issue] = []
        entry: dict[str, Any] = {"excel_row": row.excel_row}
        complete = all(f in row.values for f in REQUIRED_FIELDS)

        submission_type = self._choice_submission_type()
        entry["submission_type"] = submission_type
        entry["manufacturer_name"] = self._text("manufacturer_name", required=True)
        entry["model_name"] = self._text("model_name", required=True)
        entry["manufacturer_id"] = self._hex("manufacturer_id", (4,), required=True)
        entry["model_id"] = self._hex("model_id", (4, 8), required=True)
        entry["hardware_version"] = self._hex("hardware_version", (4,), required=True)
        entry["firmware_version"] = self._hex("firmware_version", (8,), required=True)
        device = self._device_type()
        entry["physical_device_type"] = device.code if device else None
        spec = self._technical_specification(device)
        smets1 = spec is not None and spec.kind.upper() == "SMETS1"
        entry["technical_specification"] = spec.name if spec else None
        entry["smets1"] = smets1
        entry["gbcs_version"] = self._gbcs_version(smets1=smets1, spec_known=spec is not None)
        entry["release_notes"] = self._text("release_notes", required=True)
        self._certificates(entry, device, smets1=smets1)
        entry["manufacturer_image_hash"] = self._hex("manufacturer_image_hash", (64,))
        entry["manufacturer_image_hash_creator"] = self._text("manufacturer_image_hash_creator")
        if self._raw_text("manufacturer_image_hash") and not self._raw_text(
            "manufacturer_image_hash_creator"
        ):
            self._error(
                "manufacturer_image_hash_creator",
                "hash-creator-required",
                "Manufacturer Image Hash Creator is required when a Manufacturer Image Hash is "
                "given: say who created the hash.",
            )
        entry["certificate_mapping_evidence"] = self._text("certificate_mapping_evidence")
        entry["previous_entry_id"] = self._previous_entry(entry, submission_type)
        entry["smets1_compliance_statement"] = self._smets1_statement(smets1=smets1, spec=spec)
        entry["contact_email"] = self._email()
        self._submitter(device, smets1=smets1)
        self._identity(entry)
        return entry, self.issues, complete

    # reporting -----------------------------------------------------------------------

    def _issue(self, name: str, code: str, message: str, severity: Severity) -> None:
        self.issues.append(Issue(self.row, HEADING_OF[name], code, message, severity))

    def _error(self, name: str, code: str, message: str) -> None:
        self._issue(name, code, message, "error")

    def _warning(self, name: str, code: str, message: str) -> None:
        self._issue(name, code, message, "warning")

    def _required(self, name: str, why: str = "") -> None:
        if name in REQUIRED_FIELDS and name not in self.values:
            return  # the reader reports the missing column once
        self._error(name, "required", f"{HEADING_OF[name]} is required{why}.")

    # field kinds ---------------------------------------------------------------------

    def _raw_text(self, name: str) -> str | None:
        return _cell_text(self.values.get(name))

    def _text(self, name: str, *, required: bool = False) -> str | None:
        text = self._raw_text(name)
        heading = HEADING_OF[name]
        if text is None:
            if required:
                self._required(name)
            return None
        ok = True
        limit = _MAX_LENGTH.get(name, 100)
        if len(text) > limit:
            self._error(
                name,
                "too-long",
                f"{heading} is {len(text)} characters long; at most {limit} are allowed.",
            )
            ok = False
        if _has_control(text, multiline=name in _MULTILINE):
            self._error(
                name,
                "invalid-text",
                f"{heading} contains control characters; use plain text.",
            )
            ok = False
        if text.startswith("="):
            self._error(
                name,
                "invalid-text",
                f"{heading} must not start with '=' (it would be read as a formula).",
            )
            ok = False
        return text if ok else None

    def _hex(self, name: str, lengths: tuple[int, ...], *, required: bool = False) -> str | None:
        text = self._raw_text(name)
        heading = HEADING_OF[name]
        if text is None:
            if required:
                self._required(name)
            return None
        if len(text) in lengths and _HEX.fullmatch(text):
            return text.upper()
        digits = " or ".join(str(n) for n in lengths)
        hint = ""
        if isinstance(self.values.get(name), float | int) and not isinstance(
            self.values.get(name), bool
        ):
            hint = (
                " Excel stored it as a number, which drops leading zeros: format the column "
                "as Text and type the digits again."
            )
        self._error(
            name,
            "invalid-hex",
            f"{heading} must be exactly {digits} hexadecimal digits (0-9, A-F); found "
            f"{_show(text)}.{hint}",
        )
        return None

    def _date(self, name: str) -> date | None:
        value = self.values.get(name)
        heading = HEADING_OF[name]
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and float(value).is_integer() and 1 <= value <= _MAX_SERIAL:
                return _EXCEL_EPOCH + timedelta(days=int(value))
        elif isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if _ISO_DATE.match(text):
                try:
                    return date.fromisoformat(text)
                except ValueError:
                    pass
        shown = _cell_text(value) or ""
        self._error(
            name,
            "invalid-date",
            f"{heading} must be a date, entered as an Excel date or written YYYY-MM-DD "
            f"(e.g. 2027-03-31); found {_show(shown)}.",
        )
        return None

    # the rules -----------------------------------------------------------------------

    def _choice_submission_type(self) -> str | None:
        text = self._raw_text("submission_type")
        if text is None:
            self._required("submission_type")
            return None
        key = " ".join(text.split()).casefold()
        for choice in SUBMISSION_TYPES:
            if key == choice.casefold():
                return choice
        self._error(
            "submission_type",
            "invalid-choice",
            f"Submission Type must be {NEW_DEVICE_MODEL!r} or {FIRMWARE_UPDATE!r}; found "
            f"{_show(text)}.",
        )
        return None

    def _device_type(self) -> PhysicalDeviceType | None:
        text = self._raw_text("physical_device_type")
        if text is None:
            self._required("physical_device_type")
            return None
        device = find_device_type(text)
        if device is not None:
            return device
        if is_unlisted_device(text):
            self._error(
                "physical_device_type",
                "unlisted-device",
                f"{_show(text)} devices (IHDs and other Type 2 devices) are not listed on the "
                "CPL; do not submit them.",
            )
        else:
            self._error(
                "physical_device_type",
                "invalid-choice",
                f"Physical Device Type {_show(text)} is not known; use one of: {_DEVICE_LIST}.",
            )
        return None

    def _technical_specification(
        self, device: PhysicalDeviceType | None
    ) -> SpecificationInfo | None:
        name = "technical_specification"
        text = self._raw_text(name)
        if text is None:
            self._required(name)
            return None
        key = specification_key(text)
        spec = self.tech_index.get(key) if key else None
        if spec is None:
            if key is not None and key in self.gbcs_index:
                message = (
                    f"{self.gbcs_index[key].name} is a GBCS version: put it in GBCS Version and "
                    f"give the SMETS or CHTS version here (one of: {self.tech_names})."
                )
            else:
                message = (
                    f"Technical Specification {_show(text)} is not in the register; use one "
                    f"of: {self.tech_names}."
                )
            self._error(name, "unknown-specification", message)
            return None
        self._ended(name, spec)
        if device is not None:
            is_chts = spec.kind.upper() == "CHTS"
            if is_chts != device.is_comms_hub and spec.kind.upper() != "SMETS1":
                self._warning(
                    name,
                    "specification-device-mismatch",
                    f"{spec.name} is unusual for a {device.name}: CHTS versions apply to "
                    "Communications Hubs, SMETS versions to meters and other devices.",
                )
        return spec

    def _ended(self, name: str, spec: SpecificationInfo) -> None:
        end = spec.installation_end_date
        if end is not None and end < self.context.upload_date:
            self._warning(
                name,
                "specification-ended",
                f"{spec.name} passed its installation end date on {end.isoformat()}; the row "
                "is accepted, but new devices of this version may no longer be installed.",
            )

    def _gbcs_version(self, *, smets1: bool, spec_known: bool) -> str | None:
        name = "gbcs_version"
        text = self._raw_text(name)
        if smets1:
            if text is not None:
                self._warning(
                    name,
                    "not-applicable",
                    "SMETS1 devices have no GBCS version; the GBCS Version given was ignored.",
                )
            return None
        if text is None:
            if spec_known:
                self._required(name, " unless the device is SMETS1")
            return None
        key = specification_key(text, default_kind="GBCS")
        spec = self.gbcs_index.get(key) if key and key[0] == "gbcs" else None
        if spec is None:
            self._error(
                name,
                "unknown-specification",
                f"GBCS Version {_show(text)} is not in the register; use one of: "
                f"{self.gbcs_names}.",
            )
            return None
        self._ended(name, spec)
        return spec.name

    def _certificates(
        self, entry: dict[str, Any], device: PhysicalDeviceType | None, *, smets1: bool
    ) -> None:
        required: frozenset[CertificateKind] | None = None
        if device is not None:
            required = device.required - {CertificateKind.CPA} if smets1 else device.required
        for kind, name in _CERT_FIELDS.items():
            number = self._text(name)
            entry[name] = number
            if required is None:
                continue
            given = self._raw_text(name) is not None
            if kind in required and not given:
                why = f"every {device.name}" if device else "this device"
                self._error(
                    name,
                    "certificate-required",
                    f"A {kind.value} certificate number is required for {why}.",
                )
            elif kind not in required and given:
                reason = (
                    "SMETS1 devices have no CPA certificate"
                    if smets1 and kind is CertificateKind.CPA
                    else f"a {device.name if device else 'device'} does not need one"
                )
                self._error(
                    name,
                    "certificate-not-applicable",
                    f"Leave {HEADING_OF[name]} empty: {reason} (see the Certificate Matrix sheet).",
                )
                entry[name] = None
        self._cpa_dates(entry)

    def _cpa_dates(self, entry: dict[str, Any]) -> None:
        number = entry["cpa_certificate_number"]
        expiry = self._date("cpa_expiry_date")
        conditional = self._date("cpa_conditional_date")
        has_number = self._raw_text("cpa_certificate_number") is not None
        if not has_number:
            entry["cpa_expiry_date"] = None
            entry["cpa_conditional_date"] = None
            given = [n for n in ("cpa_expiry_date", "cpa_conditional_date") if self.values.get(n)]
            for name in given:
                self._warning(
                    name,
                    "not-applicable",
                    f"{HEADING_OF[name]} was ignored because no CPA Certificate Number is given.",
                )
            return
        entry["cpa_expiry_date"] = expiry
        entry["cpa_conditional_date"] = conditional
        if self.values.get("cpa_expiry_date") is None:
            self._error(
                "cpa_expiry_date",
                "cpa-expiry-required",
                "CPA Expiry Date is required with a CPA Certificate Number.",
            )
        elif expiry is not None and expiry <= self.context.upload_date:
            self._error(
                "cpa_expiry_date",
                "cpa-expired",
                f"The CPA certificate expiry date {expiry.isoformat()} is not after today "
                f"({self.context.upload_date.isoformat()}); an expired certificate cannot be "
                "listed.",
            )
        if expiry is not None and conditional is not None and conditional > expiry:
            self._error(
                "cpa_conditional_date",
                "conditional-after-expiry",
                f"CPA Conditional Date {conditional.isoformat()} is after the CPA Expiry Date "
                f"{expiry.isoformat()}; it must not be later.",
            )
        if number is None or expiry is None:
            return
        on_record = self.context.cpa_certificates.get(number)
        if on_record is not None and on_record[0] is not None and on_record[0] != expiry:
            self._error(
                "cpa_expiry_date",
                "cpa-expiry-conflict",
                f"CPA certificate {_show(number)} is on record with expiry date "
                f"{on_record[0].isoformat()}, not {expiry.isoformat()}; one certificate has "
                "one expiry date.",
            )
        earlier = self.seen_cpa.get(number)
        if earlier is None:
            self.seen_cpa[number] = (expiry, self.row)
        elif earlier[0] != expiry:
            self._error(
                "cpa_expiry_date",
                "cpa-expiry-conflict",
                f"CPA certificate {_show(number)} is given expiry date {expiry.isoformat()} "
                f"here but {earlier[0].isoformat()} in row {earlier[1]}; one certificate has "
                "one expiry date.",
            )

    def _previous_entry(self, entry: dict[str, Any], submission_type: str | None) -> str | None:
        name = "previous_entry_id"
        raw = self._raw_text(name)
        if submission_type != FIRMWARE_UPDATE:
            if raw is not None and submission_type == NEW_DEVICE_MODEL:
                self._warning(
                    name,
                    "not-applicable",
                    "Previous CPL Entry ID is used only for a Firmware Update; it was ignored.",
                )
            return None
        if (
            entry["certificate_mapping_evidence"] is None
            and self._raw_text("certificate_mapping_evidence") is None
        ):
            self._error(
                "certificate_mapping_evidence",
                "mapping-evidence-required",
                "Certificate Mapping Evidence is required for a Firmware Update: show that the "
                "certificates cover the new firmware version.",
            )
        if raw is None:
            self._error(
                name,
                "previous-entry-required",
                "Previous CPL Entry ID is required for a Firmware Update: give the ID "
                "(e.g. CPL-000123) of the Active entry this firmware updates.",
            )
            return None
        entry_id = normalise_entry_id(raw)
        previous = self.context.entries.get(entry_id) if entry_id else None
        if entry_id is None or previous is None:
            self._error(
                name,
                "previous-entry-not-found",
                f"There is no CPL entry {_show(raw)}; give the ID of an Active entry, like "
                "CPL-000123.",
            )
            return None
        if previous.status != "active":
            self._error(
                name,
                "previous-entry-not-active",
                f"{entry_id} is not Active (its status is {previous.status}); a Firmware Update "
                "must follow an Active entry.",
            )
        differing = [
            HEADING_OF[f]
            for f in ("manufacturer_id", "model_id", "hardware_version", "physical_device_type")
            if entry.get(f) is not None and entry[f] != getattr(previous, f)
        ]
        if differing:
            self._error(
                name,
                "previous-entry-mismatch",
                f"{entry_id} has a different {', '.join(differing)}; a Firmware Update must keep "
                "the Manufacturer ID, Model ID, Hardware Version and Physical Device Type of the "
                "entry it updates.",
            )
        firmware = entry.get("firmware_version")
        if firmware is not None and firmware == previous.firmware_version:
            self._error(
                "firmware_version",
                "same-firmware",
                f"Firmware Version {firmware} is the same as that of {entry_id}; a Firmware "
                "Update needs a new firmware version.",
            )
        return entry_id

    def _smets1_statement(self, *, smets1: bool, spec: SpecificationInfo | None) -> str | None:
        name = "smets1_compliance_statement"
        text = self._text(name)
        if smets1:
            if text is None and self._raw_text(name) is None:
                self._error(
                    name,
                    "smets1-statement-required",
                    "SMETS1 Compliance Statement is required for SMETS1 devices.",
                )
            return text
        if text is not None and spec is not None:
            self._warning(
                name,
                "not-applicable",
                "SMETS1 Compliance Statement applies only to SMETS1 devices; it was ignored.",
            )
        return None

    def _email(self) -> str | None:
        name = "contact_email"
        text = self._text(name, required=True)
        if text is None:
            return None
        result = self.email_cache.get(text)
        if result is None:
            try:
                result = validate_email(text, check_deliverability=False).normalized
            except EmailNotValidError as exc:
                result = exc
            self.email_cache[text] = result
        if isinstance(result, EmailNotValidError):
            self._error(
                name,
                "invalid-email",
                f"Contact Email {_show(text)} is not a valid email address: {result}",
            )
            return None
        return result

    def _submitter(self, device: PhysicalDeviceType | None, *, smets1: bool) -> None:
        if self.context.submitter_role in PRIVILEGED_ROLES:
            return
        if smets1:
            self._error(
                "technical_specification",
                "submitter-not-allowed",
                "SMETS1 entries may be submitted only by the DCC (or SECAS).",
            )
        if device is not None and device.is_comms_hub:
            self._error(
                "physical_device_type",
                "submitter-not-allowed",
                "Communications Hub entries may be submitted only by the DCC (or SECAS).",
            )

    def _identity(self, entry: dict[str, Any]) -> None:
        parts = (
            entry["manufacturer_id"],
            entry["model_id"],
            entry["hardware_version"],
            entry["firmware_version"],
            entry["physical_device_type"],
        )
        if any(p is None for p in parts):
            return
        identity: Identity = parts
        device = BY_CODE[identity[4]].name
        described = (
            f"Manufacturer ID {identity[0]}, Model ID {identity[1]}, Hardware Version "
            f"{identity[2]}, Firmware Version {identity[3]}, {device}"
        )
        other = self.seen_identities.get(identity)
        if other is not None:
            self._error(
                "firmware_version",
                "duplicate-in-file",
                f"This Device Model ({described}) is already given in row {other}.",
            )
        else:
            self.seen_identities[identity] = self.row
        if identity in self.context.live_identities:
            self._error(
                "firmware_version",
                "duplicate-entry",
                f"This Device Model ({described}) is already on the CPL or awaiting review.",
            )


__all__ = [
    "FIRMWARE_UPDATE",
    "NEW_DEVICE_MODEL",
    "CheckContext",
    "PreviousEntry",
    "check_rows",
    "check_workbook",
    "normalise_entry_id",
    "referenced_entry_ids",
]
