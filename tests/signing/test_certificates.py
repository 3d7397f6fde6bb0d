"""Describing certificates for the party certificate register."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from cpl_service.errors import InvalidInputError
from cpl_service.signing.certificates import describe_certificate
from cpl_service.signing.devpki import DevPki


def test_describes_a_pem_certificate(pki: DevPki) -> None:
    pem = b"\r\n" + pki.signer_path.read_bytes().replace(b"\n", b"\r\n")

    info = describe_certificate(pem)

    cert = pki.signer.certificate
    assert info.fingerprint_sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert info.fingerprint_sha256 == info.fingerprint_sha256.lower()
    assert info.subject == cert.subject.rfc4514_string()
    assert "CN=CPL DEVELOPMENT ONLY Extract Signer" in info.subject
    assert info.not_valid_after == cert.not_valid_after_utc
    assert info.not_valid_after.utcoffset() is not None
    assert info.pem == cert.public_bytes(Encoding.PEM).decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello", "no PEM certificate"),
        (b"", "no PEM certificate"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a valid"),
    ],
)
def test_refuses_what_is_not_a_pem_certificate(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        describe_certificate(data)


def test_refuses_der(pki: DevPki) -> None:
    with pytest.raises(InvalidInputError, match="openssl x509 -inform DER"):
        describe_certificate(pki.signer.certificate.public_bytes(Encoding.DER))


def test_refuses_a_private_key(pki: DevPki) -> None:
    with pytest.raises(InvalidInputError, match="private key"):
        describe_certificate(pki.signer_path.read_bytes() + pki.key_path.read_bytes())


def test_refuses_several_certificates(pki: DevPki) -> None:
    with pytest.raises(InvalidInputError, match="2 certificates"):
        describe_certificate(pki.chain_path.read_bytes())
