"""The public CPL's rows: the listing's view of an entry and the export columns.

CSV and XLSX share the columns, and `import-cpl` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cpl_service.devices import BY_CODE
from cpl_service.entries.models import Entry, EntryEvent
from cpl_service.entries.workflow import LISTED_STATUSES
from cpl_service.extracts.rows import public_entry, status_word


def listed_entry(entry: Entry) -> dict[str, Any]:
    """The public listing's view of an entry: the §6 fields plus `removal_proposed`."""
    return {**public_entry(entry), "removal_proposed": bool(entry.removal_proposed)}


@dataclass(frozen=True)
class PublicEvent:
    """A change of a listed entry's status as the public sees it.

    `previous` is the status word before (None when the entry was not yet listed);
    `party` is the acting party's name (an organisation, or a system name such as the
    importer's) — never the person or the named token that acted.
    """

    at: datetime
    status: str
    previous: str | None
    panel_decision_ref: str | None
    party: str


def public_history(events: Iterable[EntryEvent]) -> list[PublicEvent]:
    """The events of an entry's history the public may see, oldest first as given.

    Only changes into a listed status (listed as Active, then each removal) count: the
    review before listing is not public. Left out on purpose: who acted as a person or
    token (personal data) and the free-text reason (it may name people); the Panel
    decision reference is the public reason for a removal, as in the CPL itself.
    """
    shown: list[PublicEvent] = []
    for event in events:
        to = event.to_status
        if to is None or to not in LISTED_STATUSES or to == event.from_status:
            continue
        before = event.from_status
        shown.append(
            PublicEvent(
                at=event.at,
                status=status_word(to),
                previous=status_word(before)
                if before is not None and before in LISTED_STATUSES
                else None,
                panel_decision_ref=event.panel_decision_ref,
                party=event.actor_name,
            )
        )
    return shown


@dataclass(frozen=True)
class Column:
    """One column of the exported CPL: its heading, value kind, width in the XLSX, and the
    entry field it shows.

    Kinds: "text"; "status" (the DCC word); "device_type" (its name); "datetime"; "date";
    "bool" (Yes/No).
    """

    heading: str
    kind: str
    width: float
    field: str


COLUMNS: tuple[Column, ...] = (
    Column("CPL Entry ID", "text", 14, "entry_id"),
    Column("Status", "status", 12, "status"),
    Column("Status Effective Date", "datetime", 20, "status_effective_at"),
    Column("Panel Decision Reference", "text", 24, "panel_decision_ref"),
    Column("Removal Proposed", "bool", 11, "removal_proposed"),
    Column("Manufacturer Name", "text", 28, "manufacturer_name"),
    Column("Manufacturer ID", "text", 12, "manufacturer_id"),
    Column("Model Name", "text", 28, "model_name"),
    Column("Model ID", "text", 11, "model_id"),
    Column("Hardware Version", "text", 11, "hardware_version"),
    Column("Firmware Version", "text", 12, "firmware_version"),
    Column("Physical Device Type", "device_type", 34, "physical_device_type"),
    Column("Technical Specification", "text", 16, "technical_specification"),
    Column("GBCS Version", "text", 12, "gbcs_version"),
    Column("SMETS1", "bool", 9, "smets1"),
    Column("Manufacturer Release Notes", "text", 30, "release_notes"),
    Column("ZigBee Certificate Number", "text", 20, "zigbee_certificate_number"),
    Column("DLMS Certificate Number", "text", 20, "dlms_certificate_number"),
    Column("CPA Certificate Number", "text", 20, "cpa_certificate_number"),
    Column("CPA Expiry Date", "date", 13, "cpa_expiry_date"),
    Column("CPA Conditional Date", "date", 13, "cpa_conditional_date"),
    Column("CPA Certificate Type", "text", 13, "cpa_certificate_type"),
    Column("CPA Renewal Date", "date", 13, "cpa_renewal_date"),
    Column("Manufacturer Image Hash", "text", 30, "manufacturer_image_hash"),
    Column("Manufacturer Image Hash Creator", "text", 24, "manufacturer_image_hash_creator"),
    Column("Submission Type", "text", 17, "submission_type"),
)
# The name a spreadsheet shows for each Physical Device Type code.
DEVICE_TYPE_NAMES: dict[str, str] = {code: kind.name for code, kind in BY_CODE.items()}
HEADINGS: tuple[str, ...] = tuple(c.heading for c in COLUMNS)

# A spreadsheet treats text starting with these as a formula (CSV/formula injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that no spreadsheet will evaluate: a leading `'` before a formula trigger.

    Text already starting with `'` and then a trigger gets one more `'`, so `restore`
    gives back exactly the original.
    """
    if text.lstrip("'").startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def restore(text: str) -> str:
    """Undo `neutralise` on text read back from an exported CPL."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def naive_utc(moment: datetime) -> datetime:
    """A datetime as naive UTC to the second, as spreadsheets hold it."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)
