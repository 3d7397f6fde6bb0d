"""Choosing the signer at startup: development key, configured key, refusals, warnings."""

from __future__ import annotations

import logging
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from cpl_service.config import Settings
from cpl_service.signing.certificates import certificate_pem
from cpl_service.signing.config import load_configured_signer, signer_from_settings
from cpl_service.signing.devpki import CertifiedKey, DevPki, init_dev_pki
from cpl_service.signing.errors import SigningConfigError
from tests.signing.conftest import NOW, leaf_from


def _configure(tmp_path: Path, leaf: CertifiedKey, pki: DevPki) -> tuple[Path, Path]:
    key = tmp_path / "configured.key"
    key.write_bytes(
        leaf.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    chain = tmp_path / "configured-chain.pem"
    chain.write_bytes(certificate_pem([leaf.certificate, pki.issuing_ca.certificate]))
    return key, chain


def test_no_key_creates_a_development_pki_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    with caplog.at_level(logging.WARNING):
        first = load_configured_signer(
            key_path=None, key_password=None, chain_path=None, data_dir=data_dir, now=NOW
        )

    assert first.development
    assert "DEVELOPMENT ONLY" in first.signer.certificate.subject.rfc4514_string()
    dev = data_dir / "dev-pki"
    assert stat.S_IMODE((dev / "signer.key").stat().st_mode) == 0o600
    assert first.chain_pem.endswith((dev / "root.pem").read_bytes())
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "DEVELOPMENT KEY" in warning and "NOT FOR PRODUCTION" in warning

    second = load_configured_signer(
        key_path=None, key_password=None, chain_path=None, data_dir=data_dir, now=NOW
    )
    assert second.signer.certificate == first.signer.certificate


def test_chain_without_key_is_refused(tmp_path: Path, pki: DevPki) -> None:
    with pytest.raises(SigningConfigError, match="CPL_SIGNING_KEY is not"):
        load_configured_signer(
            key_path=None, key_password=None, chain_path=pki.chain_path, data_dir=tmp_path, now=NOW
        )


def test_configured_key_is_used(
    tmp_path: Path, pki: DevPki, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        loaded = load_configured_signer(
            key_path=pki.key_path,
            key_password=None,
            chain_path=pki.chain_path,
            data_dir=tmp_path,
            now=NOW,
        )
    assert not loaded.development
    assert loaded.signer.certificate == pki.signer.certificate
    assert loaded.chain_pem == pki.chain_path.read_bytes()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not (tmp_path / "dev-pki").exists()


def test_settings_helper_passes_the_password(tmp_path: Path, pki: DevPki) -> None:
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption

    key = tmp_path / "enc.key"
    key.write_bytes(
        pki.signer.private_key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"pw")
        )
    )
    settings = Settings(
        data_dir=tmp_path,
        signing_key=key,
        signing_key_password="pw",  # type: ignore[arg-type]
        signing_chain=pki.chain_path,
    )
    assert signer_from_settings(settings, now=NOW).signer.certificate == pki.signer.certificate


def test_mismatched_key_and_certificate_are_refused(tmp_path: Path, pki: DevPki) -> None:
    other = init_dev_pki(tmp_path / "other", now=NOW)
    with pytest.raises(SigningConfigError, match="does not match"):
        load_configured_signer(
            key_path=other.key_path,
            key_password=None,
            chain_path=pki.chain_path,
            data_dir=tmp_path,
            now=NOW,
        )


def test_expired_signer_is_refused(tmp_path: Path, pki: DevPki) -> None:
    expired = leaf_from(pki, not_before=NOW - timedelta(days=40), not_after=NOW - timedelta(1))
    key, chain = _configure(tmp_path, expired, pki)
    with pytest.raises(SigningConfigError, match="expired"):
        load_configured_signer(
            key_path=key, key_password=None, chain_path=chain, data_dir=tmp_path, now=NOW
        )


def test_signer_without_digital_signature_is_refused(tmp_path: Path, pki: DevPki) -> None:
    key, chain = _configure(tmp_path, leaf_from(pki, digital_signature=False), pki)
    with pytest.raises(SigningConfigError, match="digitalSignature"):
        load_configured_signer(
            key_path=key, key_password=None, chain_path=chain, data_dir=tmp_path, now=NOW
        )


def test_broken_chain_is_refused(tmp_path: Path, pki: DevPki) -> None:
    other = init_dev_pki(tmp_path / "other", now=NOW)
    chain = tmp_path / "broken.pem"
    # Same issuer name, different CA key: ordering by name accepts it, signatures do not.
    chain.write_bytes(pki.signer_path.read_bytes() + other.issuing_ca_path.read_bytes())
    with pytest.raises(SigningConfigError, match="broken"):
        load_configured_signer(
            key_path=pki.key_path, key_password=None, chain_path=chain, data_dir=tmp_path, now=NOW
        )


def test_signer_expiring_within_30_days_warns(
    tmp_path: Path, pki: DevPki, caplog: pytest.LogCaptureFixture
) -> None:
    soon = leaf_from(pki, not_before=NOW - timedelta(days=40), not_after=NOW + timedelta(days=10))
    key, chain = _configure(tmp_path, soon, pki)
    with caplog.at_level(logging.WARNING):
        loaded = load_configured_signer(
            key_path=key, key_password=None, chain_path=chain, data_dir=tmp_path, now=NOW
        )
    assert loaded.signer.certificate == soon.certificate
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("expires" in w and "renew" in w for w in warnings)


def test_signer_expiring_in_31_days_does_not_warn(
    tmp_path: Path, pki: DevPki, caplog: pytest.LogCaptureFixture
) -> None:
    later = leaf_from(pki, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=31))
    key, chain = _configure(tmp_path, later, pki)
    with caplog.at_level(logging.WARNING):
        load_configured_signer(
            key_path=key, key_password=None, chain_path=chain, data_dir=tmp_path, now=NOW
        )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_init_dev_pki_refuses_to_overwrite(pki: DevPki) -> None:
    with pytest.raises(SigningConfigError, match="already holds"):
        init_dev_pki(pki.directory)
