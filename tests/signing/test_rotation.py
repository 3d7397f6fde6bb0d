"""Signer rotation: a second signer under the same root while the first is still listed."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi.testclient import TestClient

from cpl_service.config import Settings
from cpl_service.extracts.verify import verify_extract
from cpl_service.signing.certificates import certificate_pem, fingerprint_sha256
from cpl_service.signing.cms import sign_detached
from cpl_service.signing.config import LoadedSigner, load_configured_signer, signer_from_settings
from cpl_service.signing.devpki import DOCUMENT_SIGNING, CertifiedKey, DevPki
from cpl_service.signing.errors import SigningConfigError
from tests.signing.conftest import NOW, leaf_from, make_extract, payload_of


def _write_key(tmp_path: Path, leaf: CertifiedKey, pki: DevPki, name: str) -> tuple[Path, Path]:
    key = tmp_path / f"{name}.key"
    key.write_bytes(
        leaf.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    chain = tmp_path / f"{name}-chain.pem"
    chain.write_bytes(certificate_pem([leaf.certificate, pki.issuing_ca.certificate]))
    return key, chain


def _rotated(tmp_path: Path, pki: DevPki, *previous: Path) -> LoadedSigner:
    new = leaf_from(pki, "Signer 2", extended_key_usage=[DOCUMENT_SIGNING])
    key, chain = _write_key(tmp_path, new, pki, "new")
    return load_configured_signer(
        key_path=key,
        key_password=None,
        chain_path=chain,
        data_dir=tmp_path,
        now=NOW,
        previous_chains=previous,
    )


def test_extracts_before_and_after_a_rotation_both_verify(tmp_path: Path, pki: DevPki) -> None:
    old = load_configured_signer(
        key_path=pki.key_path,
        key_password=None,
        chain_path=pki.chain_path,
        data_dir=tmp_path,
        now=NOW,
    )
    before = payload_of(make_extract(sequence=1))
    before_signature = sign_detached(before, old.signer, signing_time=NOW)

    rotated = _rotated(tmp_path, pki, pki.chain_path)
    after = payload_of(make_extract(sequence=2))
    after_signature = sign_detached(after, rotated.signer, signing_time=NOW)

    assert rotated.signer.certificate != old.signer.certificate
    assert rotated.previous == (tuple(old.signer.chain),)
    roots = [pki.root.certificate]
    assert verify_extract(before, before_signature, roots=roots)["sequence"] == 1
    assert verify_extract(after, after_signature, roots=roots, last_sequence=1)["sequence"] == 2


def test_previous_signer_under_another_root_is_refused(
    tmp_path: Path, pki: DevPki, other_pki: DevPki
) -> None:
    with pytest.raises(SigningConfigError, match="same root"):
        _rotated(tmp_path, pki, other_pki.chain_path)


def test_previous_signer_listed_twice_or_as_current_is_refused(tmp_path: Path, pki: DevPki) -> None:
    with pytest.raises(SigningConfigError, match="repeats the signer"):
        _rotated(tmp_path, pki, pki.chain_path, pki.chain_path)
    new = leaf_from(pki, "Signer 3")
    key, chain = _write_key(tmp_path, new, pki, "three")
    with pytest.raises(SigningConfigError, match="repeats the signer"):
        load_configured_signer(
            key_path=key,
            key_password=None,
            chain_path=chain,
            data_dir=tmp_path,
            now=NOW,
            previous_chains=[chain],
        )


def test_broken_previous_chain_is_refused(tmp_path: Path, pki: DevPki, other_pki: DevPki) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_bytes(pki.signer_path.read_bytes() + other_pki.issuing_ca_path.read_bytes())
    with pytest.raises(SigningConfigError, match="broken"):
        _rotated(tmp_path, pki, broken)


def test_expired_previous_signer_stays_listed(tmp_path: Path, pki: DevPki) -> None:
    expired = leaf_from(
        pki, "Old", not_before=NOW - timedelta(days=50), not_after=NOW - timedelta(1)
    )
    _key, chain = _write_key(tmp_path, expired, pki, "old")
    assert _rotated(tmp_path, pki, chain).previous[0][0] == expired.certificate


def test_previous_chains_without_a_key_are_refused(tmp_path: Path, pki: DevPki) -> None:
    with pytest.raises(SigningConfigError, match="CPL_SIGNING_PREVIOUS_CHAINS"):
        load_configured_signer(
            key_path=None,
            key_password=None,
            chain_path=None,
            data_dir=tmp_path,
            now=NOW,
            previous_chains=[pki.chain_path],
        )


def test_previous_chains_setting_is_a_path_list(tmp_path: Path, pki: DevPki) -> None:
    older = leaf_from(pki, "Older")
    _key, older_chain = _write_key(tmp_path, older, pki, "older")
    new = leaf_from(pki, "Signer 2")
    key, chain = _write_key(tmp_path, new, pki, "new")
    settings = Settings(
        data_dir=tmp_path,
        signing_key=key,
        signing_chain=chain,
        signing_previous_chains=f"{pki.chain_path}{os.pathsep}{older_chain}{os.pathsep}",
    )
    assert settings.signing_previous_chain_paths == (pki.chain_path, older_chain)
    loaded = signer_from_settings(settings, now=NOW)
    assert [c[0] for c in loaded.previous] == [pki.signer.certificate, older.certificate]


def test_signing_certificates_lists_current_and_previous(
    client: TestClient, tmp_path: Path, pki: DevPki
) -> None:
    rotated = _rotated(tmp_path, pki, pki.chain_path)
    client.app.state.signer = rotated  # type: ignore[attr-defined]

    plain = client.get("/api/v1/signing/certificates")
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/pem-certificate-chain"
    assert plain.content == rotated.chain_pem

    for response in (
        client.get("/api/v1/signing/certificates", headers={"Accept": "application/json"}),
        client.get("/api/v1/signing/certificates?format=json"),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        signers = response.json()["signers"]
        assert [s["current"] for s in signers] == [True, False]
        assert signers[0]["fingerprint_sha256"] == fingerprint_sha256(rotated.signer.certificate)
        assert signers[1]["fingerprint_sha256"] == fingerprint_sha256(pki.signer.certificate)
        assert signers[0]["chain_pem"].encode() == rotated.chain_pem
        assert signers[1]["chain_pem"].encode() == pki.chain_path.read_bytes()
        assert signers[1]["not_valid_after"].startswith(
            pki.signer.certificate.not_valid_after_utc.date().isoformat()
        )

    assert client.get("/api/v1/signing/certificates?format=xml").status_code == 422
