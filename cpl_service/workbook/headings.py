"""The columns of the workbooks the service reads, and the one way their headings are matched.

Two layouts share these columns: the submission workbook (SPEC §3, format v1), in template
order, and a published CPL (the layout of `/api/v1/cpl.xlsx`) that `import-cpl` loads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

SHEET_NAME = "CPL - New Entry"
CPL_SHEET_NAME = "CPL"


@dataclass(frozen=True)
class Column:
    """One column of the `CPL - New Entry` sheet.

    `heading` is the fixed heading text of SPEC §3, `field` the `EntryFields` name the
    row's value is produced under. `required` marks the columns every row must fill (they
    are light green in the template); the conditionally required ones are not marked.
    """

    heading: str
    field: str
    required: bool
    description: str
    kind: str = "text"  # text | hex | date | datetime | choice | email | flag


COLUMNS: tuple[Column, ...] = (
    Column(
        "Submission Type",
        "submission_type",
        True,
        "'New Device Model' for a new Device Model, or 'Firmware Update' for a new firmware "
        "version of a Device Model already Active on the CPL.",
        "choice",
    ),
    Column(
        "Manufacturer Name", "manufacturer_name", True, "The manufacturer's name, 1-100 characters."
    ),
    Column(
        "Manufacturer ID",
        "manufacturer_id",
        True,
        "The manufacturer identifier: exactly 4 hexadecimal digits, e.g. AB01.",
        "hex",
    ),
    Column("Model Name", "model_name", True, "The model's name, 1-100 characters."),
    Column(
        "Model ID",
        "model_id",
        True,
        "The model identifier: exactly 4 or 8 hexadecimal digits.",
        "hex",
    ),
    Column(
        "Hardware Version",
        "hardware_version",
        True,
        "The hardware version: exactly 4 hexadecimal digits, e.g. 0101.",
        "hex",
    ),
    Column(
        "Firmware Version",
        "firmware_version",
        True,
        "The firmware version: exactly 8 hexadecimal digits, e.g. 0002012F.",
        "hex",
    ),
    Column(
        "Physical Device Type",
        "physical_device_type",
        True,
        "The device type, by full name or code (CH, ESME_SINGLE, ESME_TWIN, ESME_POLY, GSME, "
        "PPMID, HCALCS). IHDs and other Type 2 devices are not listed on the CPL.",
        "choice",
    ),
    Column(
        "Technical Specification",
        "technical_specification",
        True,
        "The SMETS or CHTS version the device meets, as named in the register, e.g. "
        "'SMETS2 v4.2', 'CHTS v4.2' or 'SMETS1 v1.2'.",
        "choice",
    ),
    Column(
        "GBCS Version",
        "gbcs_version",
        False,
        "Required unless the device is SMETS1: the GBCS version, written '3.2', 'v3.2' or "
        "'GBCS v3.2'.",
        "choice",
    ),
    Column(
        "Manufacturer Release Notes",
        "release_notes",
        True,
        "A reference to the manufacturer's release notes for this firmware (up to 1000 "
        "characters).",
    ),
    Column(
        "ZigBee Certificate Number",
        "zigbee_certificate_number",
        False,
        "The ZigBee certificate number; required for every Physical Device Type (see the "
        "Certificate Matrix sheet).",
    ),
    Column(
        "DLMS Certificate Number",
        "dlms_certificate_number",
        False,
        "The DLMS certificate number; required for electricity meters (ESME) only.",
    ),
    Column(
        "CPA Certificate Number",
        "cpa_certificate_number",
        False,
        "The CPA certificate number; required for Communications Hubs, gas meters, HCALCS and "
        "electricity meters, but not for SMETS1 devices or PPMIDs.",
    ),
    Column(
        "CPA Expiry Date",
        "cpa_expiry_date",
        False,
        "Required with a Fixed-term CPA certificate number: the certificate's expiry date, as "
        "an Excel date or YYYY-MM-DD, after today. Leave it empty for a Lifetime certificate.",
        "date",
    ),
    Column(
        "CPA Conditional Date",
        "cpa_conditional_date",
        False,
        "Optional: the date by which a conditional CPA certificate's conditions must be met; "
        "not after the CPA Expiry Date (or, for a Lifetime certificate, the CPA Renewal Date).",
        "date",
    ),
    Column(
        "CPA Certificate Type",
        "cpa_certificate_type",
        False,
        "Optional: 'Fixed-term' (the default when empty) for a CPA certificate with an expiry "
        "date, or 'Lifetime' for an NCSC lifetime certificate, which has a renewal date instead "
        "(SEC modification MP209).",
        "choice",
    ),
    Column(
        "CPA Renewal Date",
        "cpa_renewal_date",
        False,
        "Required for a Lifetime CPA certificate, which then has no CPA Expiry Date: the "
        "certificate's renewal date, as an Excel date or YYYY-MM-DD, after today. Leave it "
        "empty for a Fixed-term certificate.",
        "date",
    ),
    Column(
        "Manufacturer Image Hash",
        "manufacturer_image_hash",
        False,
        "Optional: the SHA-256 hash of the manufacturer image, 64 hexadecimal digits. If any "
        "row has a hash, the upload must carry a detached signature over the workbook.",
        "hex",
    ),
    Column(
        "Manufacturer Image Hash Creator",
        "manufacturer_image_hash_creator",
        False,
        "Required when a Manufacturer Image Hash is given: who created the hash.",
    ),
    Column(
        "Certificate Mapping Evidence",
        "certificate_mapping_evidence",
        False,
        "Required for a Firmware Update: evidence that the certificates still cover the new "
        "firmware version.",
    ),
    Column(
        "Previous CPL Entry ID",
        "previous_entry_id",
        False,
        "Required for a Firmware Update: the ID (e.g. CPL-000123) of the Active entry with the "
        "same Manufacturer ID, Model ID, Hardware Version and Physical Device Type.",
    ),
    Column(
        "SMETS1 Compliance Statement",
        "smets1_compliance_statement",
        False,
        "Required for SMETS1 devices: a reference to the SMETS1 compliance statement.",
    ),
    Column(
        "Contact Email",
        "contact_email",
        True,
        "The email address CPA expiry notices for this entry are sent to.",
        "email",
    ),
)

# The columns a published CPL has besides those of a submission: what the CPL records
# about each listed entry.
LISTING_COLUMNS: tuple[Column, ...] = (
    Column("CPL Entry ID", "entry_id", True, "The entry's ID, e.g. CPL-000123."),
    Column("Status", "status", True, "Active, Expired, Cancelled or Withdrawn.", "choice"),
    Column(
        "Status Effective Date",
        "status_effective_at",
        False,
        "When the entry took its status.",
        "datetime",
    ),
    Column(
        "Panel Decision Reference",
        "panel_decision_ref",
        False,
        "The Panel decision that removed the entry.",
    ),
    Column(
        "Removal Proposed",
        "removal_proposed",
        False,
        "Yes while the Panel considers removing the entry.",
        "flag",
    ),
    Column("SMETS1", "smets1", False, "Yes for a SMETS1 entry.", "flag"),
)

BY_FIELD: dict[str, Column] = {c.field: c for c in COLUMNS}
# The heading of every field a workbook can give, for issues about it.
HEADING_OF: dict[str, str] = {c.field: c.heading for c in (*COLUMNS, *LISTING_COLUMNS)}
REQUIRED_FIELDS: frozenset[str] = frozenset(c.field for c in COLUMNS if c.required)


def heading_key(text: str) -> str:
    """The form a heading is matched in: case folded, spaces and a trailing `*` ignored.

    Args:
        text: the heading as written in the workbook.

    Returns:
        The key to compare with the keys of the known headings.
    """
    key = " ".join(text.split()).casefold()
    if key.endswith("*"):
        key = key[:-1].rstrip()
    return key


@dataclass(frozen=True)
class Layout:
    """A sheet the service reads rows from.

    Attributes:
        sheet_name: the sheet to read, matched like a heading (else the first sheet).
        columns: the columns the sheet may have; the `required` ones must all be present.
        min_heading_matches: how many known headings make a row the heading row.
    """

    sheet_name: str
    columns: tuple[Column, ...]
    min_heading_matches: int

    @cached_property
    def _by_key(self) -> dict[str, Column]:
        return {heading_key(c.heading): c for c in self.columns}

    @cached_property
    def required_fields(self) -> frozenset[str]:
        """The fields whose columns every sheet of this layout must have."""
        return frozenset(c.field for c in self.columns if c.required)

    def match(self, text: object) -> Column | None:
        """The column a heading cell names, if any.

        Args:
            text: a cell value from a candidate heading row.

        Returns:
            The matching column, or None when the cell is not a heading of this layout.
        """
        if not isinstance(text, str):
            return None
        return self._by_key.get(heading_key(text))


SUBMISSION_LAYOUT = Layout(SHEET_NAME, COLUMNS, min_heading_matches=3)

# A published CPL never carries what only a submission needs; it may leave out the
# Submission Type (New Device Model is assumed) and the Contact Email (personal data,
# never published).
_SUBMISSION_ONLY = frozenset(
    {"previous_entry_id", "certificate_mapping_evidence", "smets1_compliance_statement"}
)
_OPTIONAL_IN_CPL = frozenset({"submission_type", "contact_email"})
CPL_LAYOUT = Layout(
    CPL_SHEET_NAME,
    (
        *LISTING_COLUMNS,
        *(
            replace(c, required=c.required and c.field not in _OPTIONAL_IN_CPL)
            for c in COLUMNS
            if c.field not in _SUBMISSION_ONLY
        ),
    ),
    min_heading_matches=1,
)
