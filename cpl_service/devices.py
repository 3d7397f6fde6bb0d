"""Physical Device Types and the Assurance Certificate matrix (DOMAIN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CertificateKind(StrEnum):
    ZIGBEE = "ZigBee"
    DLMS = "DLMS"
    CPA = "CPA"


@dataclass(frozen=True)
class PhysicalDeviceType:
    code: str
    name: str
    required: frozenset[CertificateKind]

    @property
    def is_comms_hub(self) -> bool:
        return self.code == "CH"


_Z, _C, _D = CertificateKind.ZIGBEE, CertificateKind.CPA, CertificateKind.DLMS

DEVICE_TYPES: tuple[PhysicalDeviceType, ...] = (
    PhysicalDeviceType("CH", "Communications Hub", frozenset({_Z, _C})),
    PhysicalDeviceType(
        "ESME_SINGLE", "Single Element Electricity Metering Equipment", frozenset({_Z, _C, _D})
    ),
    PhysicalDeviceType(
        "ESME_TWIN", "Twin Element Electricity Metering Equipment", frozenset({_Z, _C, _D})
    ),
    PhysicalDeviceType(
        "ESME_POLY", "Polyphase Electricity Metering Equipment", frozenset({_Z, _C, _D})
    ),
    PhysicalDeviceType("GSME", "Gas Smart Meter", frozenset({_Z, _C})),
    PhysicalDeviceType("PPMID", "Pre-Payment Meter Interface Device", frozenset({_Z})),
    PhysicalDeviceType(
        "HCALCS", "HAN Connected Auxiliary Load Control Switch", frozenset({_Z, _C})
    ),
)

BY_CODE: dict[str, PhysicalDeviceType] = {t.code: t for t in DEVICE_TYPES}

# Names people write for devices the CPL does not list (Type 2 devices).
NOT_LISTED = (
    "ihd",
    "in-home display",
    "in home display",
    "type 2",
    "cad",
    "consumer access device",
)


def _key(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").lower().split())


_LOOKUP: dict[str, PhysicalDeviceType] = {}
for _t in DEVICE_TYPES:
    _LOOKUP[_key(_t.code)] = _t
    _LOOKUP[_key(_t.name)] = _t
    _LOOKUP[_key(_t.name.replace("Equipment", "Equipment (ESME)"))] = _t
_LOOKUP[_key("Single Element ESME")] = BY_CODE["ESME_SINGLE"]
_LOOKUP[_key("Twin Element ESME")] = BY_CODE["ESME_TWIN"]
_LOOKUP[_key("Polyphase ESME")] = BY_CODE["ESME_POLY"]
_LOOKUP[_key("Polyphase Element Electricity Metering Equipment")] = BY_CODE["ESME_POLY"]
_LOOKUP[_key("Comms Hub")] = BY_CODE["CH"]


def find_device_type(text: str) -> PhysicalDeviceType | None:
    """The device type named by its code or full name (case and spacing ignored)."""
    return _LOOKUP.get(_key(text))


def is_unlisted_device(text: str) -> bool:
    """True for IHDs and other Type 2 devices, which the CPL does not list."""
    key = _key(text)
    return any(key == k or key.startswith(k + " ") for k in NOT_LISTED) or "in home display" in key
