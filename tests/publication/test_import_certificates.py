"""`importer.new_certificates`: the register rows an import adds, as a pure function."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from cpl_service.publication.importer import new_certificates

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _fields(zigbee: str | None, dlms: str | None, cpa: str | None, expiry: int) -> dict[str, Any]:
    return {
        "zigbee_certificate_number": zigbee,
        "dlms_certificate_number": dlms,
        "cpa_certificate_number": cpa,
        "cpa_certificate_type": "Full" if cpa else None,
        "cpa_expiry_date": date(2030, 1, expiry) if cpa else None,
        "cpa_renewal_date": None,
        "cpa_conditional_date": date(2029, 1, expiry) if cpa else None,
    }


def test_each_new_certificate_once_in_first_named_order_with_its_first_entrys_dates() -> None:
    entries = [
        _fields("Z-1", "D-1", "C-1", 1),
        _fields("Z-1", None, "C-1", 2),  # repeats: the first entry's CPA dates stand
        _fields("Z-2", "", "C-2", 3),  # an empty number names nothing
        _fields(None, "D-1", None, 4),
        _fields("D-1", "Z-1", "C-3", 5),  # the same numbers under other kinds are others
    ]
    rows = new_certificates(entries, {("CPA", "C-2"), ("ZigBee", "Z-9")}, now=NOW)
    assert [(r["kind"], r["number"]) for r in rows] == [
        ("ZigBee", "Z-1"),
        ("DLMS", "D-1"),
        ("CPA", "C-1"),
        ("ZigBee", "Z-2"),
        ("ZigBee", "D-1"),
        ("DLMS", "Z-1"),
        ("CPA", "C-3"),
    ]
    by_key = {(r["kind"], r["number"]): r for r in rows}
    assert by_key[("CPA", "C-1")] == {
        "kind": "CPA",
        "number": "C-1",
        "cpa_certificate_type": "Full",
        "cpa_expiry_date": date(2030, 1, 1),
        "cpa_renewal_date": None,
        "cpa_conditional_date": date(2029, 1, 1),
        "status": "valid",
        "created_at": NOW,
    }
    # Only a CPA certificate carries the CPA dates.
    for key in [("ZigBee", "Z-1"), ("DLMS", "D-1"), ("ZigBee", "D-1")]:
        row = by_key[key]
        assert row["cpa_certificate_type"] is None
        assert row["cpa_expiry_date"] is row["cpa_conditional_date"] is None


def test_nothing_new_when_everything_is_known_or_nothing_is_named() -> None:
    entries = [_fields("Z-1", None, "C-1", 1), _fields(None, None, None, 1)]
    assert new_certificates(entries, {("ZigBee", "Z-1"), ("CPA", "C-1")}, now=NOW) == []
    assert new_certificates([], set(), now=NOW) == []
