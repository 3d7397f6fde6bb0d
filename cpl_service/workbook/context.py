"""What the row rules need from outside the workbook, and where rows come from.

An upload and `import-cpl` share every rule of `checks`; what differs between them is
stated here, once, as a `RowSource`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date

from cpl_service.certificates.cpa import CpaCertificateType
from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.devices import find_device_type
from cpl_service.entries.models import SubmissionType
from cpl_service.entries.workflow import LISTED_STATUSES
from cpl_service.workbook.cells import cell_text
from cpl_service.workbook.headings import CPL_LAYOUT, SUBMISSION_LAYOUT, Layout
from cpl_service.workbook.reader import RawRow
from cpl_service.workbook.specifications import SpecificationInfo

NEW_DEVICE_MODEL = SubmissionType.NEW_DEVICE_MODEL
FIRMWARE_UPDATE = SubmissionType.FIRMWARE_UPDATE
SUBMISSION_TYPES: tuple[SubmissionType, ...] = tuple(SubmissionType)

Identity = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class RowSource:
    """Where rows come from: everything an upload and an import do not share.

    Attributes:
        layout: the sheet the rows are read from, and the columns it must have.
        statuses: the statuses a row may give in its Status column (with its Status
            Effective Date, Panel Decision Reference, Removal Proposed and SMETS1); empty
            when rows give none, each becoming a new `pending_review` entry.
        entry_id_given: each row gives its CPL Entry ID, which must not be in use yet.
        past_cpa_expiry_allowed: the statuses a row may have with a CPA Expiry Date (or
            Renewal Date) that is not after the check date.
        submission_evidence: a Firmware Update must name its Previous CPL Entry ID and give
            Certificate Mapping Evidence, a SMETS1 entry its SMETS1 Compliance Statement
            (a published CPL lists none of them).
        formula_text_allowed: text may start with `=` (text read back from a published CPL
            is exactly what was listed, once the export's protective `'` is taken off).
        contact_email_required: every row must give a Contact Email.
        default_submission_type: the Submission Type of a row that gives none; None when
            every row must give one.
        cpa_conditional_date_fixed: one CPA certificate has one conditional date, as it has
            one type and one expiry or renewal date (an upload may give a certificate on
            record a new condition).
    """

    layout: Layout
    statuses: frozenset[str] = frozenset()
    entry_id_given: bool = False
    past_cpa_expiry_allowed: frozenset[str] = frozenset()
    submission_evidence: bool = True
    formula_text_allowed: bool = False
    contact_email_required: bool = True
    default_submission_type: str | None = None
    cpa_conditional_date_fixed: bool = False


UPLOAD = RowSource(layout=SUBMISSION_LAYOUT)
"""A submission workbook: new Device Models and Firmware Updates, for review."""

IMPORT = RowSource(
    layout=CPL_LAYOUT,
    statuses=frozenset(LISTED_STATUSES),
    entry_id_given=True,
    # An Active entry past its CPA expiry is real: it stays Active until the Panel decides.
    past_cpa_expiry_allowed=frozenset(LISTED_STATUSES),
    submission_evidence=False,
    formula_text_allowed=True,
    contact_email_required=False,
    default_submission_type=NEW_DEVICE_MODEL,
    cpa_conditional_date_fixed=True,
)
"""A published CPL (the layout of `/api/v1/cpl.xlsx`): entries listed already."""


@dataclass(frozen=True)
class CpaOnRecord:
    """A CPA certificate in the register, as far as the row rules compare rows with it.

    Attributes:
        certificate_type: Fixed-term (an expiry date) or Lifetime (a renewal date).
        expiry_date: a fixed-term certificate's expiry date.
        renewal_date: a lifetime certificate's renewal date (as last recorded).
        conditional_date: the conditional date, if any.
    """

    certificate_type: CpaCertificateType = CpaCertificateType.FIXED_TERM
    expiry_date: date | None = None
    renewal_date: date | None = None
    conditional_date: date | None = None

    @classmethod
    def of(cls, certificate: AssuranceCertificate) -> CpaOnRecord:
        """The register's CPA certificate, as the rules compare rows with it."""
        return cls(
            CpaCertificateType(certificate.cpa_certificate_type or CpaCertificateType.FIXED_TERM),
            certificate.cpa_expiry_date,
            certificate.cpa_renewal_date,
            certificate.cpa_conditional_date,
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
        submitter_role: the role of the party giving the rows (`manufacturer`, `supplier`,
            `dcc`, `secas`; an import is SECAS's).
        upload_date: the date the rows are checked on (CPA expiry must be after it).
        specifications: the technical-specification register by canonical name.
        live_identities: (manufacturer_id, model_id, hardware_version, firmware_version,
            physical_device_type code) of every pending_review or active entry.
        cpa_certificates: CPA number -> the certificate on record (type and dates).
        entries: entry_id -> the entries rows name as Previous CPL Entry ID (see
            `referenced_entry_ids`). An ID missing here is reported as no such entry, so
            an entry the submitter may not see is left out and stays hidden.
        source: where the rows come from (`UPLOAD` or `IMPORT`).
        taken_entry_ids: the entry IDs in use, when rows give their own.
    """

    submitter_role: str
    upload_date: date
    specifications: Mapping[str, SpecificationInfo] = field(default_factory=dict)
    live_identities: AbstractSet[Identity] = frozenset()
    cpa_certificates: Mapping[str, CpaOnRecord] = field(default_factory=dict)
    entries: Mapping[str, PreviousEntry] = field(default_factory=dict)
    source: RowSource = UPLOAD
    taken_entry_ids: AbstractSet[str] = frozenset()


# What the rows name, so the service loads only that from the database. Each is a superset of
# what the rules look up: a value the rules would refuse is looked up anyway, harmlessly.

CERTIFICATE_FIELDS = (
    "zigbee_certificate_number",
    "dlms_certificate_number",
    "cpa_certificate_number",
)


def named_identities(rows: Iterable[RawRow]) -> set[Identity]:
    """The Device Models (as `CheckContext.live_identities` holds them) the rows give."""
    found: set[Identity] = set()
    # Rows repeat a handful of device type names: look each up once.
    codes: dict[str, str | None] = {}
    for row in rows:
        values = row.values
        device_text = cell_text(values.get("physical_device_type"))
        if device_text is None:
            continue
        if device_text not in codes:
            device = find_device_type(device_text)
            codes[device_text] = device.code if device else None
        code = codes[device_text]
        if code is None:
            continue
        manufacturer = cell_text(values.get("manufacturer_id"))
        model = cell_text(values.get("model_id"))
        hardware = cell_text(values.get("hardware_version"))
        firmware = cell_text(values.get("firmware_version"))
        if manufacturer is None or model is None or hardware is None or firmware is None:
            continue
        found.add((manufacturer.upper(), model.upper(), hardware.upper(), firmware.upper(), code))
    return found


def named_certificate_numbers(rows: Iterable[RawRow], fields: Iterable[str]) -> set[str]:
    """The certificate numbers the rows give in any of `fields` (e.g. `CERTIFICATE_FIELDS`)."""
    names = tuple(fields)
    found: set[str] = set()
    for row in rows:
        for name in names:
            number = cell_text(row.values.get(name))
            if number is not None:
                found.add(number)
    return found


def named_entry_ids(rows: Iterable[RawRow]) -> set[str]:
    """The CPL Entry IDs rows of a published CPL give as their own (e.g. `CPL-000123`)."""
    found: set[str] = set()
    for row in rows:
        text = cell_text(row.values.get("entry_id"))
        if text is not None:
            found.add(text.upper())
    return found
