"""Fixtures for the signing tests: development PKIs, signers and extract payloads."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from cpl_service.clock import rfc3339
from cpl_service.extracts.canonical import canonical_json
from cpl_service.signing.devpki import CertifiedKey, DevPki, init_dev_pki, issue_certificate
from cpl_service.signing.keys import FileSigner, load_file_signer

NOW = datetime.now(UTC).replace(microsecond=0)

requires_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@dataclass(frozen=True)
class KeySigner:
    """A test `Signer` over any EC or RSA key (submissions may be signed with RSA)."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    private_key: Any = field(repr=False)

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def signer_for(leaf: CertifiedKey, *issuers: CertifiedKey) -> KeySigner:
    """A signer for `leaf`, embedding it and `issuers`."""
    chain = (leaf.certificate, *(i.certificate for i in issuers))
    return KeySigner(certificate=leaf.certificate, chain=chain, private_key=leaf.private_key)


def leaf_from(pki: DevPki, name: str = "Test Signer", **kwargs: Any) -> CertifiedKey:
    """A further end-entity certificate from a dev PKI's issuing CA (valid now by default)."""
    kwargs.setdefault("not_before", NOW - timedelta(days=1))
    kwargs.setdefault("not_after", NOW + timedelta(days=365))
    return issue_certificate(name, issuer=pki.issuing_ca, **kwargs)


@pytest.fixture
def pki(tmp_path: Path) -> DevPki:
    # Started a while ago, so tests can issue certificates that have already expired.
    return init_dev_pki(tmp_path / "pki", now=NOW - timedelta(days=60))


@pytest.fixture
def other_pki(tmp_path: Path) -> DevPki:
    return init_dev_pki(tmp_path / "other-pki", now=NOW - timedelta(days=60))


@pytest.fixture
def signer(pki: DevPki) -> FileSigner:
    return load_file_signer(pki.key_path, chain_path=pki.chain_path)


def make_entry(number: int = 1, **changes: Any) -> dict[str, Any]:
    """One valid extract entry."""
    entry: dict[str, Any] = {
        "entry_id": f"CPL-{number:06d}",
        "manufacturer_id": "AB01",
        "manufacturer_name": "Acme Meters Ltd",
        "model_id": "1234",
        "model_name": "Acme GSME 1",
        "hardware_version": "0001",
        "firmware_version": "0002012F",
        "physical_device_type": "GSME",
        "technical_specification": "SMETS2 v4.2",
        "gbcs_version": "3.2",
        "status": "Active",
        "status_effective_at": rfc3339(NOW - timedelta(days=2)),
        "panel_decision_ref": None,
        "zigbee_certificate_number": "ZIG-1",
        "dlms_certificate_number": None,
        "cpa_certificate_number": "CPA-1",
        "cpa_certificate_type": "Fixed-term",
        "cpa_expiry_date": "2030-01-31",
        "cpa_renewal_date": None,
        "cpa_conditional_date": None,
        "manufacturer_image_hash": "AB" * 32,
        "manufacturer_image_hash_creator": "Acme Meters Ltd",
        "release_notes": "RN-1",
        "smets1": False,
    }
    entry.update(changes)
    return entry


def make_extract(
    *,
    sequence: int = 1,
    issued_at: datetime = NOW,
    next_update: datetime | None = None,
    entries: list[dict[str, Any]] | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """A minimal valid `cpl-extract/1` document."""
    entries = [make_entry()] if entries is None else entries
    document: dict[str, Any] = {
        "format": "cpl-extract/1",
        "sequence": sequence,
        "issued_at": rfc3339(issued_at),
        "next_update": rfc3339(next_update or issued_at + timedelta(days=30)),
        "previous_sha256": None if sequence == 1 else "0" * 64,
        "entries": entries,
        "changes": {"added": [e["entry_id"] for e in entries], "status_changed": []},
        "entry_count": len(entries),
    }
    document.update(changes)
    return document


def payload_of(document: dict[str, Any]) -> bytes:
    return canonical_json(document)


RunOpenssl = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def openssl() -> RunOpenssl:
    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["openssl", *args], capture_output=True, check=check, timeout=60)

    return run
