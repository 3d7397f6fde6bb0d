"""The columns of the submission workbook (SPEC §3, format v1), in template order."""

from __future__ import annotations

from dataclasses import dataclass

SHEET_NAME = "CPL - New Entry"


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
    kind: str = "text"  # text | hex | date | choice | email


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
        "Required with a CPA certificate number: the certificate's expiry date, as an Excel "
        "date or YYYY-MM-DD, after today.",
        "date",
    ),
    Column(
        "CPA Conditional Date",
        "cpa_conditional_date",
        False,
        "Optional: the date by which a conditional CPA certificate's conditions must be met; "
        "not after the CPA Expiry Date.",
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

BY_FIELD: dict[str, Column] = {c.field: c for c in COLUMNS}
HEADING_OF: dict[str, str] = {c.field: c.heading for c in COLUMNS}
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


_BY_KEY: dict[str, Column] = {heading_key(c.heading): c for c in COLUMNS}


def match_heading(text: object) -> Column | None:
    """The column a heading cell names, if any.

    Args:
        text: a cell value from a candidate heading row.

    Returns:
        The matching column, or None when the cell is not a known heading.
    """
    if not isinstance(text, str):
        return None
    return _BY_KEY.get(heading_key(text))
