"""Reading X.509 certificates: descriptions for the register, PEM bundles, fingerprints."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from cpl_service.errors import InvalidInputError

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s.+?-----END CERTIFICATE-----", re.DOTALL
)
_PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")


@dataclass(frozen=True)
class CertificateInfo:
    """What the service records about a certificate.

    Attributes:
        fingerprint_sha256: SHA-256 of the DER encoding, lower-case hex.
        subject: The subject as an RFC 4514 string.
        not_valid_after: End of validity, an aware UTC datetime.
        pem: The certificate re-encoded as a single normalised PEM block.
    """

    fingerprint_sha256: str
    subject: str
    not_valid_after: datetime
    pem: str


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    """The SHA-256 fingerprint of a certificate.

    Args:
        certificate: Any certificate.

    Returns:
        The SHA-256 of its DER encoding, as lower-case hex.
    """
    return certificate.fingerprint(hashes.SHA256()).hex()


def certificate_name(certificate: x509.Certificate) -> str:
    """How messages name a certificate.

    Args:
        certificate: Any certificate.

    Returns:
        Its subject as an RFC 4514 string, or its serial number (hex) when the subject
        is empty.
    """
    return certificate.subject.rfc4514_string() or f"serial {certificate.serial_number:x}"


def certificate_pem(certificates: x509.Certificate | list[x509.Certificate]) -> bytes:
    """Certificates as concatenated PEM blocks, in the order given.

    Args:
        certificates: One certificate or a list of them.

    Returns:
        The PEM text as bytes.
    """
    if isinstance(certificates, x509.Certificate):
        certificates = [certificates]
    return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)


def load_pem_certificates(data: bytes, *, what: str = "the file") -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in file order.

    Args:
        data: PEM text holding one or more `CERTIFICATE` blocks (other blocks are ignored).
        what: How to name the input in error messages.

    Returns:
        The certificates, at least one.

    Raises:
        InvalidInputError: There is no PEM certificate in `data`, or a block is not a
            valid certificate.
    """
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise InvalidInputError(
            f"{what} holds no PEM certificate (expected a '-----BEGIN CERTIFICATE-----' block;"
            " convert a DER file with `openssl x509 -inform DER -in FILE -out FILE.pem`)."
        )
    certificates = []
    for number, block in enumerate(blocks, start=1):
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            raise InvalidInputError(
                f"certificate {number} in {what} is not a valid X.509 certificate: {exc}"
            ) from None
    return certificates


def describe_certificate(pem: bytes) -> CertificateInfo:
    """Describe one PEM certificate for the party certificate register.

    Args:
        pem: A file holding exactly one PEM `CERTIFICATE` block.

    Returns:
        Its fingerprint, subject, end of validity and normalised PEM.

    Raises:
        InvalidInputError: The input is not PEM, not a certificate, holds several
            certificates, or also holds a private key (which must never be uploaded).
    """
    if _PEM_PRIVATE_KEY.search(pem):
        raise InvalidInputError(
            "The file contains a private key. Register only the certificate, and keep the"
            " private key secret (consider it exposed if it was copied anywhere)."
        )
    certificates = load_pem_certificates(pem, what="the certificate file")
    if len(certificates) > 1:
        raise InvalidInputError(
            f"The file holds {len(certificates)} certificates; register the signing"
            " certificate on its own, one file per certificate."
        )
    certificate = certificates[0]
    return CertificateInfo(
        fingerprint_sha256=fingerprint_sha256(certificate),
        subject=certificate.subject.rfc4514_string(),
        not_valid_after=certificate.not_valid_after_utc,
        pem=certificate.public_bytes(Encoding.PEM).decode("ascii"),
    )
