"""Loading signing keys: PEM (plain and encrypted), PKCS#12, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

from cpl_service.signing.devpki import DevPki, issue_certificate
from cpl_service.signing.errors import SigningConfigError
from cpl_service.signing.keys import FileSigner, Signer, load_file_signer
from tests.signing.conftest import NOW, leaf_from


def _write_key(path: Path, key: object, password: bytes | None = None) -> Path:
    encryption = BestAvailableEncryption(password) if password else NoEncryption()
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption))  # type: ignore[attr-defined]
    return path


def test_plain_pem_key_with_chain(pki: DevPki) -> None:
    signer = load_file_signer(pki.key_path, chain_path=pki.chain_path)

    assert isinstance(signer, Signer)
    assert signer.certificate == pki.signer.certificate
    assert signer.chain == (pki.signer.certificate, pki.issuing_ca.certificate)
    assert "private_key" not in repr(signer)


def test_chain_is_put_in_order(tmp_path: Path, pki: DevPki) -> None:
    chain = tmp_path / "shuffled.pem"
    chain.write_bytes(
        pki.signer_path.read_bytes() + pki.root_path.read_bytes() + pki.issuing_ca_path.read_bytes()
    )
    signer = load_file_signer(pki.key_path, chain_path=chain)
    assert signer.chain == (
        pki.signer.certificate,
        pki.issuing_ca.certificate,
        pki.root.certificate,
    )


def test_key_and_certificates_in_one_pem_file(tmp_path: Path, pki: DevPki) -> None:
    combined = tmp_path / "combined.pem"
    combined.write_bytes(pki.key_path.read_bytes() + pki.chain_path.read_bytes())
    assert load_file_signer(combined).certificate == pki.signer.certificate


def test_encrypted_pem_key_with_password(tmp_path: Path, pki: DevPki) -> None:
    key = _write_key(tmp_path / "enc.key", pki.signer.private_key, b"s3cret")

    signer = load_file_signer(key, password=b"s3cret", chain_path=pki.chain_path)

    assert signer.certificate == pki.signer.certificate
    with pytest.raises(SigningConfigError, match="encrypted; set CPL_SIGNING_KEY_PASSWORD"):
        load_file_signer(key, chain_path=pki.chain_path)
    with pytest.raises(SigningConfigError, match="password"):
        load_file_signer(key, password=b"wrong", chain_path=pki.chain_path)


def test_password_for_a_plain_key_is_refused(pki: DevPki) -> None:
    with pytest.raises(SigningConfigError, match="not encrypted"):
        load_file_signer(pki.key_path, password=b"x", chain_path=pki.chain_path)


@pytest.mark.parametrize("suffix", [".p12", ".pfx"])
def test_pkcs12(tmp_path: Path, pki: DevPki, suffix: str) -> None:
    bundle = tmp_path / f"signer{suffix}"
    bundle.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"signer",
            pki.signer.private_key,  # type: ignore[arg-type]
            pki.signer.certificate,
            [pki.issuing_ca.certificate],
            BestAvailableEncryption(b"p12pass"),
        )
    )

    signer = load_file_signer(bundle, password=b"p12pass")

    assert signer.certificate == pki.signer.certificate
    assert signer.chain == (pki.signer.certificate, pki.issuing_ca.certificate)
    with pytest.raises(SigningConfigError, match="PKCS#12"):
        load_file_signer(bundle, password=b"nope")


def test_key_not_matching_certificate_is_refused(tmp_path: Path, pki: DevPki) -> None:
    stranger = _write_key(tmp_path / "other.key", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SigningConfigError, match="does not match the signer certificate"):
        load_file_signer(stranger, chain_path=pki.chain_path)


def test_rsa_key_is_refused(tmp_path: Path, pki: DevPki) -> None:
    rsa_leaf = leaf_from(pki, key_type="rsa")
    key = _write_key(tmp_path / "rsa.key", rsa_leaf.private_key)
    with pytest.raises(SigningConfigError, match="EC P-256"):
        load_file_signer(key, chain_path=pki.chain_path)


def test_other_curve_is_refused(tmp_path: Path, pki: DevPki) -> None:
    key = _write_key(tmp_path / "p384.key", ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(SigningConfigError, match="secp384r1"):
        load_file_signer(key, chain_path=pki.chain_path)


def test_missing_certificate_is_refused(pki: DevPki) -> None:
    with pytest.raises(SigningConfigError, match="CPL_SIGNING_CHAIN"):
        load_file_signer(pki.key_path)


def test_unreadable_files_are_refused(tmp_path: Path, pki: DevPki) -> None:
    with pytest.raises(SigningConfigError, match="Cannot read"):
        load_file_signer(tmp_path / "missing.key")
    with pytest.raises(SigningConfigError, match="not a PEM private key"):
        load_file_signer(pki.root_path, chain_path=pki.chain_path)
    with pytest.raises(SigningConfigError, match="not a PEM certificate chain"):
        load_file_signer(pki.key_path, chain_path=pki.key_path)


def test_file_signer_signs_verifiably(pki: DevPki) -> None:
    leaf = issue_certificate(
        "x", issuer=pki.issuing_ca, not_before=NOW, not_after=NOW.replace(year=NOW.year + 1)
    )
    assert isinstance(leaf.private_key, ec.EllipticCurvePrivateKey)
    signer = FileSigner(
        certificate=leaf.certificate, chain=(leaf.certificate,), private_key=leaf.private_key
    )
    signature = signer.sign(b"data")
    public = leaf.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"data", ec.ECDSA(hashes.SHA256()))
