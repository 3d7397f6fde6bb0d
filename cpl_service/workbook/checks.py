"""The rules of SPEC §3, applied to every row of a workbook; every problem is reported, none
raised.

One rule set serves both ways rows arrive: an uploaded submission workbook, and `import-cpl`
loading a published CPL. What differs between the two is stated once, in the context's
`RowSource` (`UPLOAD` or `IMPORT`, see `context`). Pure: the caller loads what the rules need
from the database into a `CheckContext`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache, partial
from operator import eq, is_not, methodcaller
from types import NoneType
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email

from cpl_service.certificates.cpa import CpaCertificateType
from cpl_service.devices import (
    BY_CODE,
    DEVICE_TYPES,
    CertificateKind,
    PhysicalDeviceType,
    find_device_type,
    is_unlisted_device,
)
from cpl_service.entries.models import Entry, EntryStatus, format_entry_id
from cpl_service.workbook.cells import (
    cell_date,
    cell_flag,
    cell_moment,
    cell_text,
    has_control,
    show,
)
from cpl_service.workbook.context import (
    FIRMWARE_UPDATE,
    IMPORT,
    NEW_DEVICE_MODEL,
    SUBMISSION_TYPES,
    UPLOAD,
    CheckContext,
    CpaOnRecord,
    Identity,
    PreviousEntry,
    RowSource,
)
from cpl_service.workbook.headings import HEADING_OF
from cpl_service.workbook.reader import ParsedWorkbook, RawRow
from cpl_service.workbook.report import CheckReport, Issue, Severity
from cpl_service.workbook.specifications import (
    SpecificationInfo,
    index_specifications,
    specification_key,
)

PRIVILEGED_ROLES = frozenset({"dcc", "secas"})
# A Device Model may be live (pending review or Active) only once.
LIVE_STATUSES = frozenset({EntryStatus.PENDING_REVIEW, EntryStatus.ACTIVE})

_T = TypeVar("_T")

_HEX = re.compile(r"[0-9A-Fa-f]+")
_ENTRY_ID = re.compile(r"^CPL-?(\d{1,9})$", re.IGNORECASE)
_LISTED_ENTRY_ID = re.compile(r"^CPL-(\d{6,})$")

_CERT_FIELDS: dict[CertificateKind, str] = {
    CertificateKind.ZIGBEE: "zigbee_certificate_number",
    CertificateKind.DLMS: "dlms_certificate_number",
    CertificateKind.CPA: "cpa_certificate_number",
}
# What a row says about its CPA certificate besides the number.
_CPA_DETAILS = (
    "cpa_certificate_type",
    "cpa_expiry_date",
    "cpa_renewal_date",
    "cpa_conditional_date",
)
# Free-text fields where a line break (Alt+Enter in Excel) is reasonable.
_MULTILINE = frozenset(
    {"release_notes", "certificate_mapping_evidence", "smets1_compliance_statement"}
)


# The lengths a hexadecimal identifier may have; any other length is `invalid-hex`. The
# template's in-sheet checks (`validations`) are built from this table too.
HEX_LENGTHS: dict[str, tuple[int, ...]] = {
    "manufacturer_id": (4,),
    "model_id": (4, 8),
    "hardware_version": (4,),
    "firmware_version": (8,),
    "manufacturer_image_hash": (64,),
}


def declared_max_lengths() -> dict[str, int]:
    """Each text field's longest value, as declared once on the entry model's fields."""
    limits: dict[str, int] = {}
    for name, info in Entry.model_fields.items():
        for constraint in info.metadata:
            limit = getattr(constraint, "max_length", None)
            if isinstance(limit, int):
                limits[name] = limit
    return limits


_MAX_LENGTH = declared_max_lengths()


def normalise_entry_id(value: object) -> str | None:
    """`CPL-000123` for `cpl-123`, `CPL000123` or `123`; None for anything else.

    Args:
        value: a raw cell value.

    Returns:
        The canonical entry ID, or None when the value cannot be one.
    """
    text = cell_text(value)
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


# --- whole columns at once -----------------------------------------------------------------
# The rules read one cell at a time and say what is wrong with it. Nearly every cell of a
# real workbook is fine, and that a whole column of rows is fine can be settled in a few
# passes in C (over the values, or over their concatenation). Each predicate below accepts
# a column only when the one-cell rule would take every value exactly as it is, with no
# issue; a column it does not accept goes through the one-cell rule, which alone states
# the messages.

# Rows are settled this many at a time, so one odd cell sends only its block's column
# through the one-cell rule.
SETTLE_BLOCK = 512
_not_none = partial(is_not, None)
_starts_formula = methodcaller("startswith", "=")


def _bare_texts(values: Sequence[object]) -> list[str] | None:
    """The values that are not None, when each is non-empty text without surrounding
    whitespace (what `cell_text` returns unchanged); None when any is something else."""
    given: list[Any] = list(filter(_not_none, values))
    if not set(map(type, given)) <= {str} or not all(given):
        return None
    if not all(map(eq, given, map(str.strip, given))):
        return None
    return given


def plain_texts(
    values: Sequence[object], *, limit: int, multiline: bool, formula_allowed: bool
) -> bool:
    """Whether `_text` takes every value as it is with no issue (None: an empty cell).

    Args:
        values: raw cell values of one text column.
        limit: the column's longest value (`declared_max_lengths`).
        multiline: line breaks and tabs are allowed.
        formula_allowed: text may start with `=`.

    Returns:
        True when each value is None or text that is stripped, non-empty, at most `limit`
        characters, free of control characters and (unless allowed) not starting with `=`.
    """
    given = _bare_texts(values)
    if given is None:
        return False
    if not given:
        return True
    if max(map(len, given)) > limit or has_control("".join(given), multiline=multiline):
        return False
    return formula_allowed or not any(map(_starts_formula, given))


@cache
def _hex_column(lengths: tuple[int, ...]) -> re.Pattern[str]:
    one = "|".join(f"[0-9A-F]{{{n}}}" for n in lengths)
    return re.compile(f"(?:{one})(?:,(?:{one}))*")


def plain_hexes(values: Sequence[object], lengths: tuple[int, ...]) -> bool:
    """Whether `_hex` takes every value as it is with no issue (None: an empty cell).

    Args:
        values: raw cell values of one hexadecimal column.
        lengths: the lengths allowed (`HEX_LENGTHS`).

    Returns:
        True when each value is None or upper-case hexadecimal text of an allowed length.
    """
    given: list[Any] = list(filter(_not_none, values))
    if not given:
        return True
    if not set(map(type, given)) <= {str}:
        return False
    joined = ",".join(given)
    # One comma per join: no value holds a comma, so each value is matched on its own.
    return (
        joined.count(",") == len(given) - 1 and _hex_column(lengths).fullmatch(joined) is not None
    )


def plain_dates(values: Sequence[object]) -> bool:
    """Whether `_date` takes every value as it is with no issue: each is a date or None."""
    return set(map(type, values)) <= {date, NoneType}


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
    reported row by row when the layout always requires the column: the reader reports
    the missing column once. Such a row is never returned as an entry.

    Args:
        rows: the data rows from `read_workbook`.
        context: the register, live identities, CPA certificates on record, the entries
            named as previous entries, the submitter's role, the check date and where the
            rows come from.

    Returns:
        The entries of the rows without errors (EntryFields-keyed, with `excel_row`; rows
        of a published CPL add `entry_id`, `status`, `status_effective_at`,
        `panel_decision_ref` and `removal_proposed`), every issue (errors and warnings) in
        row order, and whether a signature is needed.
    """
    return _check_rows(rows, context=context)


def _check_rows(rows: Sequence[RawRow], *, context: CheckContext, fast: bool = True) -> CheckReport:
    """`check_rows`; with `fast=False` every cell goes through its one-cell rule and every
    value is parsed afresh (the tests compare the two)."""
    checker = _Checker(context, fast=fast)
    report = CheckReport()
    for start in range(0, len(rows), SETTLE_BLOCK):
        block = rows[start : start + SETTLE_BLOCK]
        if fast:
            checker.settle(block)
        for row in block:
            entry, row_issues, complete = checker.check(row)
            if row_issues:
                report.issues.extend(row_issues)
                if any(i.severity == "error" for i in row_issues):
                    complete = False
            if complete:
                report.entries.append(entry)
            if entry.get("manufacturer_image_hash") or row.values.get("manufacturer_image_hash"):
                report.needs_signature = True
    return report


_DEVICE_LIST = ", ".join(f"{t.name} ({t.code})" for t in DEVICE_TYPES)


def parse_cpa_certificate_type(text: str) -> CpaCertificateType | None:
    """The CPA certificate type a cell names, ignoring case, spaces and hyphens.

    Args:
        text: the cell's text, e.g. `Lifetime`, `Fixed-term` or `fixed term`.

    Returns:
        The type, or None when the text names neither.
    """
    key = "".join(ch for ch in text.casefold() if ch.isalnum())
    for kind in CpaCertificateType:
        if key == "".join(ch for ch in kind.value.casefold() if ch.isalnum()):
            return kind
    return None


def _conditional(day: date | None) -> str:
    return f"conditional date {day.isoformat()}" if day else "no conditional date"


class _Checker:
    def __init__(self, context: CheckContext, *, fast: bool = True) -> None:
        self.context = context
        self.source = context.source
        specs = list(context.specifications.values())
        self.tech_index = index_specifications(s for s in specs if not s.is_gbcs)
        self.gbcs_index = index_specifications(s for s in specs if s.is_gbcs)
        self.tech_names = ", ".join(s.name for s in specs if not s.is_gbcs) or "none"
        self.gbcs_names = ", ".join(s.name for s in specs if s.is_gbcs) or "none"
        self.seen_identities: dict[Identity, int] = {}
        self.seen_cpa: dict[str, tuple[CpaOnRecord, int]] = {}
        self.seen_entry_ids: dict[str, int] = {}
        self.email_cache: dict[str, str | EmailNotValidError] = {}
        # Rows repeat a handful of device types and specification names: look each up once.
        self.device_cache: dict[str, PhysicalDeviceType | None] = {}
        self.key_cache: dict[tuple[str, str | None], tuple[str, tuple[int, ...]] | None] = {}
        # What `_parsed` read, by field and value (None: parse every cell afresh).
        self.parsed_cache: dict[tuple[str, type, object], Any] | None = {} if fast else None
        # The fields whose every cell in the current block its rule takes as it is.
        self.plain: frozenset[str] = frozenset()
        columns = self.source.layout.columns
        formula_allowed = self.source.formula_text_allowed
        self.settlers: list[tuple[str, Callable[[Sequence[object]], bool]]] = [
            *(
                (
                    c.field,
                    partial(
                        plain_texts,
                        limit=_MAX_LENGTH[c.field],
                        multiline=c.field in _MULTILINE,
                        formula_allowed=formula_allowed,
                    ),
                )
                for c in columns
                if c.kind in ("text", "email") and c.field in _MAX_LENGTH
            ),
            *(
                (c.field, partial(plain_hexes, lengths=HEX_LENGTHS[c.field]))
                for c in columns
                if c.field in HEX_LENGTHS
            ),
            *((c.field, plain_dates) for c in columns if c.kind == "date"),
        ]

    def settle(self, rows: Sequence[RawRow]) -> None:
        """Find the fields whose every cell in `rows` its rule takes as it is."""
        values = [row.values for row in rows]
        self.plain = frozenset(
            name
            for name, plain in self.settlers
            if plain(list(map(methodcaller("get", name), values)))
        )

    # one row -------------------------------------------------------------------------

    def check(self, row: RawRow) -> tuple[dict[str, Any], list[Issue], bool]:
        self.row = row.excel_row
        self.values = row.values
        self.issues: list[Issue] = []
        entry: dict[str, Any] = {"excel_row": row.excel_row}
        complete = self.source.layout.required_fields <= row.values.keys()

        if self.source.entry_id_given:
            entry["entry_id"] = self._listed_entry_id()
        status: str | None = EntryStatus.PENDING_REVIEW
        if self.source.statuses:
            status = self._listing(entry)
        submission_type = self._choice_submission_type()
        entry["submission_type"] = submission_type
        entry["manufacturer_name"] = self._text("manufacturer_name", required=True)
        entry["model_name"] = self._text("model_name", required=True)
        entry["manufacturer_id"] = self._hex("manufacturer_id", required=True)
        entry["model_id"] = self._hex("model_id", required=True)
        entry["hardware_version"] = self._hex("hardware_version", required=True)
        entry["firmware_version"] = self._hex("firmware_version", required=True)
        device = self._device_type()
        entry["physical_device_type"] = device.code if device else None
        spec = self._technical_specification(device)
        smets1 = spec is not None and spec.kind.upper() == "SMETS1"
        entry["technical_specification"] = spec.name if spec else None
        entry["smets1"] = smets1
        if self.source.statuses:
            self._smets1_flag(spec, smets1=smets1)
        entry["gbcs_version"] = self._gbcs_version(smets1=smets1, spec_known=spec is not None)
        entry["release_notes"] = self._text("release_notes", required=True)
        self._certificates(entry, device, smets1=smets1, status=status)
        entry["manufacturer_image_hash"] = self._hex("manufacturer_image_hash")
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
        if status in LIVE_STATUSES:
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
        if name in self.source.layout.required_fields and name not in self.values:
            return  # the reader reports the missing column once
        self._error(name, "required", f"{HEADING_OF[name]} is required{why}.")

    # field kinds ---------------------------------------------------------------------

    def _raw_text(self, name: str) -> str | None:
        value = self.values.get(name)
        if type(value) is str:  # nearly every cell: `cell_text`'s first case, inline
            return value.strip() or None
        return cell_text(value)

    def _filled(self, name: str) -> bool:
        """Whether the cell holds anything at all (a date, a number or some text)."""
        value = self.values.get(name)
        return value is not None and not (isinstance(value, str) and not value.strip())

    def _given(self, name: str, *, required: bool) -> str | None:
        """The cell's text; when there is none and the field is `required`, say so."""
        value = self.values.get(name)
        text = (value.strip() or None) if type(value) is str else cell_text(value)
        if text is None and required:
            self._required(name)
        return text

    def _text(self, name: str, *, required: bool = False) -> str | None:
        if name in self.plain:
            value: str | None = self.values.get(name)
            if value is not None or not required:
                return value
        text = self._given(name, required=required)
        if text is None:
            return None
        ok = True
        limit = _MAX_LENGTH[name]
        if len(text) > limit:
            self._error(
                name,
                "too-long",
                f"{HEADING_OF[name]} is {len(text)} characters long; at most {limit} are allowed.",
            )
            ok = False
        if has_control(text, multiline=name in _MULTILINE):
            self._error(
                name,
                "invalid-text",
                f"{HEADING_OF[name]} contains control characters; use plain text.",
            )
            ok = False
        if text[:1] == "=" and not self.source.formula_text_allowed:
            heading = HEADING_OF[name]
            self._error(
                name,
                "invalid-text",
                f"{heading} must not start with '=' (it would be read as a formula).",
            )
            ok = False
        return text if ok else None

    def _hex(self, name: str, *, required: bool = False) -> str | None:
        if name in self.plain:
            value: str | None = self.values.get(name)
            if value is not None or not required:
                return value
        lengths = HEX_LENGTHS[name]
        text = self._given(name, required=required)
        if text is None:
            return None
        if len(text) in lengths and _HEX.fullmatch(text):
            return text.upper()
        heading = HEADING_OF[name]
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
            f"{show(text)}.{hint}",
        )
        return None

    def _date(self, name: str) -> date | None:
        if name in self.plain:
            day: date | None = self.values.get(name)
            return day
        return self._parsed(
            name,
            cell_date,
            "invalid-date",
            "must be a date, entered as an Excel date or written YYYY-MM-DD (e.g. 2027-03-31)",
            quote=True,
        )

    def _moment(self, name: str) -> datetime | None:
        return self._parsed(
            name, cell_moment, "invalid-date", "must be a date and time (e.g. 2024-05-01T09:30:00Z)"
        )

    def _flag(self, name: str) -> bool | None:
        return self._parsed(name, cell_flag, "invalid-flag", "must be Yes or No")

    def _parsed(
        self,
        name: str,
        parse: Callable[[object], _T | None],
        code: str,
        rule: str,
        *,
        quote: bool = False,
    ) -> _T | None:
        """The cell read by `parse`; when it cannot be, the issue `code` saying the `rule`."""
        value = self.values.get(name)
        # Flags, dates and moments repeat down a column: each value is parsed once. The type
        # is part of the key, as 1 == 1.0 == True.
        cache = self.parsed_cache
        key = (name, value.__class__, value)
        if cache is not None:
            try:
                hit: _T | None = cache[key]
                return hit
            except KeyError:
                pass
            except TypeError:  # an unhashable value: only from a caller other than the reader
                cache = None
        try:
            result = parse(value)
        except ValueError:
            found = f"; found {show(cell_text(value) or '')}" if quote else ""
            self._error(name, code, f"{HEADING_OF[name]} {rule}{found}.")
            return None
        if cache is not None:
            cache[key] = result
        return result

    # the rules of a listed entry -----------------------------------------------------

    def _listed_entry_id(self) -> str | None:
        name = "entry_id"
        text = self._text(name, required=True)
        if text is None:
            return None
        entry_id = text.upper()
        match = _LISTED_ENTRY_ID.match(entry_id)
        if match is None or format_entry_id(int(match.group(1))) != entry_id:
            self._error(
                name,
                "invalid-entry-id",
                f"{entry_id!r} is not a CPL entry ID; write it like CPL-000123.",
            )
            return None
        earlier = self.seen_entry_ids.setdefault(entry_id, self.row)
        if earlier != self.row:
            self._error(
                name, "duplicate-entry-id", f"{entry_id} is also on row {earlier} of this file."
            )
        elif entry_id in self.context.taken_entry_ids:
            self._error(name, "entry-exists", f"{entry_id} is already in the database.")
        return entry_id

    def _listing(self, entry: dict[str, Any]) -> str | None:
        """The entry's status and what the CPL records with it; the status, if known."""
        name = "status"
        text = self._raw_text(name)
        status: str | None = None
        if text is None:
            self._required(name)
        elif text.lower() in self.source.statuses:
            status = text.lower()
        else:
            words = [s.capitalize() for s in EntryStatus if s in self.source.statuses]
            self._error(
                name,
                "invalid-status",
                f"Status {show(text)} cannot be imported; use {', '.join(words[:-1])} or "
                f"{words[-1]} (pending and rejected entries are not on the CPL).",
            )
        entry["status"] = status
        entry["status_effective_at"] = self._moment("status_effective_at")
        entry["panel_decision_ref"] = self._text("panel_decision_ref")
        entry["removal_proposed"] = bool(self._flag("removal_proposed"))
        return status

    def _smets1_flag(self, spec: SpecificationInfo | None, *, smets1: bool) -> None:
        given = self._flag("smets1")
        if given is None or spec is None or given == smets1:
            return
        self._error(
            "smets1",
            "smets1-mismatch",
            f"SMETS1 says {'Yes' if given else 'No'}, but {spec.name} is "
            f"{'a' if smets1 else 'not a'} SMETS1 specification; SMETS1 follows the "
            "Technical Specification.",
        )

    # the rules -----------------------------------------------------------------------

    def _choice_submission_type(self) -> str | None:
        text = self._raw_text("submission_type")
        if text is None:
            if self.source.default_submission_type is None:
                self._required("submission_type")
            return self.source.default_submission_type
        key = " ".join(text.split()).casefold()
        for choice in SUBMISSION_TYPES:
            if key == choice.casefold():
                return choice
        self._error(
            "submission_type",
            "invalid-choice",
            f"Submission Type must be {NEW_DEVICE_MODEL.value!r} or "
            f"{FIRMWARE_UPDATE.value!r}; found {show(text)}.",
        )
        return None

    def _device_type(self) -> PhysicalDeviceType | None:
        text = self._raw_text("physical_device_type")
        if text is None:
            self._required("physical_device_type")
            return None
        device = self.device_cache.get(text)
        if device is None:
            device = self.device_cache[text] = find_device_type(text)
        if device is not None:
            return device
        if is_unlisted_device(text):
            self._error(
                "physical_device_type",
                "unlisted-device",
                f"{show(text)} devices (IHDs and other Type 2 devices) are not listed on the "
                "CPL; do not submit them.",
            )
        else:
            self._error(
                "physical_device_type",
                "invalid-choice",
                f"Physical Device Type {show(text)} is not known; use one of: {_DEVICE_LIST}.",
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
        key = self._specification_key(text)
        spec = self.tech_index.get(key) if key else None
        if spec is None:
            if key is not None and key in self.gbcs_index:
                message = (
                    f"{self.gbcs_index[key].name} is a GBCS version: put it in GBCS Version and "
                    f"give the SMETS or CHTS version here (one of: {self.tech_names})."
                )
            else:
                message = (
                    f"Technical Specification {show(text)} is not in the register; use one "
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

    def _specification_key(
        self, text: str, *, default_kind: str | None = None
    ) -> tuple[str, tuple[int, ...]] | None:
        cache_key = (text, default_kind)
        if cache_key not in self.key_cache:
            self.key_cache[cache_key] = specification_key(text, default_kind=default_kind)
        return self.key_cache[cache_key]

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
        key = self._specification_key(text, default_kind="GBCS")
        spec = self.gbcs_index.get(key) if key and key[0] == "gbcs" else None
        if spec is None:
            self._error(
                name,
                "unknown-specification",
                f"GBCS Version {show(text)} is not in the register; use one of: {self.gbcs_names}.",
            )
            return None
        self._ended(name, spec)
        return spec.name

    def _certificates(
        self,
        entry: dict[str, Any],
        device: PhysicalDeviceType | None,
        *,
        smets1: bool,
        status: str | None,
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
        self._cpa_dates(entry, status=status)

    def _cpa_dates(self, entry: dict[str, Any], *, status: str | None) -> None:
        """The CPA certificate's type and dates: an expiry date for a Fixed-term one, a
        renewal date for a Lifetime one (SEC MP209), an optional conditional date not after
        either."""
        number = entry["cpa_certificate_number"]
        kind = self._cpa_type()
        expiry = self._date("cpa_expiry_date")
        renewal = self._date("cpa_renewal_date")
        conditional = self._date("cpa_conditional_date")
        has_number = self._raw_text("cpa_certificate_number") is not None
        if not has_number:
            for name in _CPA_DETAILS:
                entry[name] = None
                if self._filled(name):
                    self._warning(
                        name,
                        "not-applicable",
                        f"{HEADING_OF[name]} was ignored because no CPA Certificate Number is "
                        "given.",
                    )
            return
        entry["cpa_certificate_type"] = kind.value if kind else None
        entry["cpa_expiry_date"] = expiry
        entry["cpa_renewal_date"] = renewal
        entry["cpa_conditional_date"] = conditional
        if kind is None:
            return
        # The date a certificate of this type must have, and the one it must not.
        own, other = (
            ("cpa_renewal_date", "cpa_expiry_date")
            if kind is CpaCertificateType.LIFETIME
            else ("cpa_expiry_date", "cpa_renewal_date")
        )
        if self._filled(other):
            self._error(
                other,
                "cpa-date-not-applicable",
                f"A {kind.value} CPA certificate has a {HEADING_OF[own]}, not a "
                f"{HEADING_OF[other]}; leave {HEADING_OF[other]} empty or change the CPA "
                "Certificate Type.",
            )
        if not self._filled(own):
            code = "cpa-renewal-required" if own == "cpa_renewal_date" else "cpa-expiry-required"
            self._error(
                own,
                code,
                f"{HEADING_OF[own]} is required with a {kind.value} CPA Certificate Number.",
            )
        ends = renewal if kind is CpaCertificateType.LIFETIME else expiry
        if (
            ends is not None
            and ends <= self.context.upload_date
            and status is not None
            and status not in self.source.past_cpa_expiry_allowed
        ):
            lifetime = kind is CpaCertificateType.LIFETIME
            self._error(
                own,
                "cpa-expired",
                f"The CPA certificate {'renewal' if lifetime else 'expiry'} date "
                f"{ends.isoformat()} is not after today "
                f"({self.context.upload_date.isoformat()}); "
                + (
                    "a lifetime certificate past its renewal date cannot be listed."
                    if lifetime
                    else "an expired certificate cannot be listed."
                ),
            )
        if ends is not None and conditional is not None and conditional > ends:
            self._error(
                "cpa_conditional_date",
                "conditional-after-expiry"
                if own == "cpa_expiry_date"
                else "conditional-after-renewal",
                f"CPA Conditional Date {conditional.isoformat()} is after the {HEADING_OF[own]} "
                f"{ends.isoformat()}; it must not be later.",
            )
        if number is not None and ends is not None:
            self._one_certificate(number, CpaOnRecord(kind, expiry, renewal, conditional))

    def _cpa_type(self) -> CpaCertificateType | None:
        """The row's CPA Certificate Type; Fixed-term when not given, None when unknown."""
        text = self._raw_text("cpa_certificate_type")
        if text is None:
            return CpaCertificateType.FIXED_TERM
        kind = parse_cpa_certificate_type(text)
        if kind is None:
            self._error(
                "cpa_certificate_type",
                "invalid-choice",
                f"CPA Certificate Type must be 'Fixed-term' or 'Lifetime'; found {show(text)}.",
            )
        return kind

    def _one_certificate(self, number: str, given: CpaOnRecord) -> None:
        """One CPA certificate has one type, one expiry or renewal date (and, where fixed,
        one conditional date), in the register and across the rows of a file."""
        on_record = self.context.cpa_certificates.get(number)
        if on_record is not None:
            self._same_certificate(number, given, on_record, "is on record with", None)
        earlier = self.seen_cpa.get(number)
        if earlier is None:
            self.seen_cpa[number] = (given, self.row)
        else:
            self._same_certificate(number, given, earlier[0], "is given", earlier[1])

    def _same_certificate(
        self,
        number: str,
        given: CpaOnRecord,
        known: CpaOnRecord,
        verb: str,
        earlier_row: int | None,
    ) -> None:
        """Report where `given` differs from `known` (on record, or an earlier row)."""
        if given == known:  # the usual case: the same certificate again
            return

        def report(name: str, code: str, theirs: str, ours: str, what: str) -> None:
            if earlier_row is None:
                said = f"CPA certificate {show(number)} {verb} {theirs}, not {ours}"
            else:
                said = (
                    f"CPA certificate {show(number)} {verb} {ours} here but {theirs} in row "
                    f"{earlier_row}"
                )
            self._error(name, code, f"{said}; one certificate has {what}.")

        if known.certificate_type is not given.certificate_type:
            report(
                "cpa_certificate_type",
                "cpa-type-conflict",
                f"type {known.certificate_type.value}",
                f"type {given.certificate_type.value}",
                "one type",
            )
            return
        # Only the date a certificate of its type has (a Lifetime one's renewal date, a
        # Fixed-term one's expiry date): a row giving the other date is refused for that
        # on its own (`cpa-date-not-applicable`), and `given` always has its own date.
        if given.certificate_type is CpaCertificateType.LIFETIME:
            if known.renewal_date is not None and known.renewal_date != given.renewal_date:
                assert given.renewal_date is not None
                report(
                    "cpa_renewal_date",
                    "cpa-renewal-conflict",
                    f"renewal date {known.renewal_date.isoformat()}",
                    f"renewal date {given.renewal_date.isoformat()}",
                    "one renewal date",
                )
        elif known.expiry_date is not None and known.expiry_date != given.expiry_date:
            assert given.expiry_date is not None
            report(
                "cpa_expiry_date",
                "cpa-expiry-conflict",
                f"expiry date {known.expiry_date.isoformat()}",
                f"expiry date {given.expiry_date.isoformat()}",
                "one expiry date",
            )
        if self.source.cpa_conditional_date_fixed and known.conditional_date != (
            given.conditional_date
        ):
            report(
                "cpa_conditional_date",
                "cpa-conditional-conflict",
                _conditional(known.conditional_date),
                _conditional(given.conditional_date),
                "one conditional date",
            )

    def _previous_entry(self, entry: dict[str, Any], submission_type: str | None) -> str | None:
        if not self.source.submission_evidence:
            return None
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
                f"There is no CPL entry {show(raw)}; give the ID of an Active entry, like "
                "CPL-000123.",
            )
            return None
        if previous.status != EntryStatus.ACTIVE:
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
        if not self.source.submission_evidence:
            return None
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
        text = self._text(name, required=self.source.contact_email_required)
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
                f"Contact Email {show(text)} is not a valid email address: {result}",
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
        other = self.seen_identities.get(identity)
        if other is None:
            self.seen_identities[identity] = self.row
        live = identity in self.context.live_identities
        if other is None and not live:
            return
        device = BY_CODE[identity[4]].name
        described = (
            f"Manufacturer ID {identity[0]}, Model ID {identity[1]}, Hardware Version "
            f"{identity[2]}, Firmware Version {identity[3]}, {device}"
        )
        if other is not None:
            self._error(
                "firmware_version",
                "duplicate-in-file",
                f"This Device Model ({described}) is already given in row {other}.",
            )
        if live:
            self._error(
                "firmware_version",
                "duplicate-entry",
                f"This Device Model ({described}) is already on the CPL or awaiting review.",
            )


__all__ = [
    "FIRMWARE_UPDATE",
    "IMPORT",
    "NEW_DEVICE_MODEL",
    "SUBMISSION_TYPES",
    "UPLOAD",
    "CheckContext",
    "CheckReport",
    "CpaOnRecord",
    "PreviousEntry",
    "RowSource",
    "check_rows",
    "check_workbook",
    "normalise_entry_id",
    "parse_cpa_certificate_type",
    "referenced_entry_ids",
]
