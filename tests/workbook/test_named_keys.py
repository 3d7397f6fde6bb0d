"""What the rows name (`context.named_*`) covers every database lookup the rules make.

The service loads only what the rows name; a key the rules asked for but the service did not
load would silently pass a duplicate or a conflicting certificate. A context that records
what the rules ask for shows that every key they ask for was named.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from cpl_service.workbook import IMPORT, UPLOAD, CpaOnRecord, RawRow, RowSource, check_rows
from cpl_service.workbook.context import (
    CERTIFICATE_FIELDS,
    named_certificate_numbers,
    named_entry_ids,
    named_identities,
)
from cpl_service.workbook.headings import HEADING_OF

from .conftest import make_context, valid_row_dict

FIELD_OF = {heading: field for field, heading in HEADING_OF.items()}


class AskedSet(frozenset[Any]):
    """An empty set that remembers every membership test."""

    asked: set[Any]

    def __new__(cls) -> AskedSet:
        made = super().__new__(cls)
        made.asked = set()
        return made

    def __contains__(self, item: object) -> bool:
        self.asked.add(item)
        return False


class AskedMapping(dict[str, CpaOnRecord]):
    """An empty mapping that remembers every key looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return default

    def __getitem__(self, key: str) -> CpaOnRecord:
        self.asked.add(key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the rules must look certificates up, not list them")


def row(**changes: Any) -> dict[str, Any]:
    values = {FIELD_OF[h]: v for h, v in valid_row_dict().items()}
    values.update(entry_id="CPL-000010", status="Active")
    values.update(changes)
    return values


# Rows as people type them: lower case, numbers Excel stored as numbers, spaces around,
# device types by name or code, the CPA number in odd places; some rows break rules.
ROWS = [
    row(),
    row(manufacturer_id=" ab01 ", model_id="12ab", firmware_version="0002012f"),
    row(model_id=1234.0, hardware_version=101, cpa_certificate_number=" CPA-0009 "),
    row(physical_device_type="esme_single", firmware_version="00000001"),
    row(physical_device_type=" gas smart meter ", model_id="5555"),
    row(physical_device_type="Communications Hub", firmware_version="0000000A"),
    row(physical_device_type="IHD", firmware_version="0000000B"),
    row(manufacturer_id="zz01", cpa_certificate_number=77.0),
    row(cpa_certificate_number=None, cpa_expiry_date=None, firmware_version="0000000C"),
    row(cpa_certificate_type="Lifetime", cpa_expiry_date=None, cpa_renewal_date=date(2031, 1, 1)),
    row(entry_id="cpl-000011", firmware_version="0000000D", cpa_certificate_number="CPA-X"),
    row(entry_id=" CPL-000012 ", status="Withdrawn", firmware_version="0000000E"),
    row(entry_id="CPL-12", firmware_version="0000000F"),
    row(technical_specification="SMETS1 v1.2", cpa_certificate_number=None),
    row(zigbee_certificate_number="  ZIG-9 ", dlms_certificate_number=42),
]


@pytest.mark.parametrize("source", [UPLOAD, IMPORT], ids=["upload", "import"])
@pytest.mark.parametrize("role", ["manufacturer", "dcc", "secas"])
def test_every_lookup_is_named_by_the_rows(source: RowSource, role: str) -> None:
    raw = [RawRow(n, values) for n, values in enumerate(ROWS, start=2)]
    identities, certificates, taken = AskedSet(), AskedMapping(), AskedSet()
    check_rows(
        raw,
        context=make_context(
            role,
            source=source,
            live_identities=identities,
            cpa_certificates=certificates,
            taken_entry_ids=taken,
        ),
    )
    assert identities.asked, "the rows should have been checked against the CPL"
    assert identities.asked <= named_identities(raw)
    assert certificates.asked
    assert certificates.asked <= named_certificate_numbers(raw, ["cpa_certificate_number"])
    if source is IMPORT:
        assert taken.asked
        assert taken.asked <= named_entry_ids(raw)


def test_named_values_are_the_rules_spelling() -> None:
    raw = [
        RawRow(2, row(manufacturer_id=" ab01 ", model_id=1234.0, hardware_version=101)),
        RawRow(3, row(physical_device_type="Gas Smart Meter")),
        RawRow(4, row(physical_device_type="IHD")),
        RawRow(5, row(manufacturer_id=None)),
    ]
    assert named_identities(raw) == {
        ("AB01", "1234", "101", "0002012F", "ESME_SINGLE"),
        ("AB01", "1234", "0101", "0002012F", "GSME"),
    }
    numbers = named_certificate_numbers(
        [RawRow(2, row(zigbee_certificate_number=" ZIG-9 ", dlms_certificate_number=42.0))],
        CERTIFICATE_FIELDS,
    )
    assert numbers == {"ZIG-9", "42", "CPA-0001"}
    assert named_entry_ids([RawRow(2, row(entry_id=" cpl-000011 ")), RawRow(3, {})]) == {
        "CPL-000011"
    }
