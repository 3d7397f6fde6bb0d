"""A development PKI: root CA → issuing CA → file-signing certificate.

Stand-ins for the IKI credentials SECAS signs with in production. Every name says
DEVELOPMENT ONLY, and nothing here should ever sign a production extract.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import NameOID

from cpl_service.signing.errors import SigningConfigError

DEV_MARKER = "DEVELOPMENT ONLY"
ROOT_NAME = f"CPL {DEV_MARKER} Root CA"
ISSUING_NAME = f"CPL {DEV_MARKER} Issuing CA"
SIGNER_NAME = f"CPL {DEV_MARKER} Extract Signer"
ORGANISATION = f"CPL Service {DEV_MARKER} - not for production"

ROOT_DAYS = 10 * 365
ISSUING_DAYS = 5 * 365
SIGNER_DAYS = 2 * 365
# Back-dating by a little keeps certificates usable on a machine whose clock lags.
BACKDATE = timedelta(hours=1)

FILE_NAMES = ("root.pem", "issuing-ca.pem", "signer.pem", "signer.key", "chain.pem")
# The certificates of a development PKI whose signing key lives in a PKCS#11 token.
PKCS11_FILE_NAMES = ("root.pem", "issuing-ca.pem", "signer.pem", "chain.pem")
# id-kp-documentSigning (RFC 9336): what the signer certificate is for. Stock OpenSSL
# (`-purpose any`) and GnuTLS's `certtool --p7-verify` accept it.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate and its private key (the key is never shown in `repr`).

    Attributes:
        certificate: The certificate.
        private_key: Its private key.
    """

    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)


@dataclass(frozen=True)
class DevPki:
    """A development PKI written to a directory.

    Attributes:
        directory: Where the files are.
        root_path: The root CA certificate (the trust anchor to verify extracts with).
        issuing_ca_path: The issuing CA certificate.
        signer_path: The file-signing certificate.
        key_path: The signer's unencrypted private key (mode 0600).
        chain_path: The signer's certificate followed by the issuing CA's.
        root: The root CA, with its key (in memory only; never written).
        issuing_ca: The issuing CA, with its key (in memory only; never written).
        signer: The file-signing certificate with its key.
    """

    directory: Path
    root_path: Path
    issuing_ca_path: Path
    signer_path: Path
    key_path: Path
    chain_path: Path
    root: CertifiedKey
    issuing_ca: CertifiedKey
    signer: CertifiedKey


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def dev_name(common_name: str) -> x509.Name:
    """A subject name of the development PKI (marked DEVELOPMENT ONLY)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, ca: bool, digital_signature: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def issue_certificate(
    common_name: str,
    *,
    issuer: CertifiedKey | None,
    not_before: datetime,
    not_after: datetime,
    ca: bool = False,
    path_length: int | None = None,
    digital_signature: bool | None = None,
    key_usage: bool = True,
    key_type: KeyType = "ec",
    subject: x509.Name | None = None,
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
) -> CertifiedKey:
    """Create a key pair and a certificate for it.

    Meant for the development PKI and for tests that need unusual certificates (no
    digitalSignature, expired, RSA, self-signed).

    Args:
        common_name: The subject's CN (ignored when `subject` is given).
        issuer: The issuing CA; `None` makes a self-signed certificate.
        not_before: Start of validity (aware).
        not_after: End of validity (aware).
        ca: Whether the certificate is a CA (basicConstraints, keyCertSign, cRLSign).
        path_length: The CA's path length constraint.
        digital_signature: Whether keyUsage includes digitalSignature (default: for an
            end entity yes, for a CA no).
        key_usage: Whether to include the keyUsage extension at all.
        key_type: `"ec"` (P-256) or `"rsa"` (2048 bits) for the new key.
        subject: A full subject name, instead of the development name built from
            `common_name`.
        extended_key_usage: The extendedKeyUsage purposes (non-critical), if any.

    Returns:
        The new certificate and its private key.
    """
    key = _new_key(key_type)
    certificate = certify_public_key(
        key.public_key(),
        subject if subject is not None else dev_name(common_name),
        issuer=issuer,
        self_signing_key=key,
        not_before=not_before,
        not_after=not_after,
        ca=ca,
        path_length=path_length,
        digital_signature=(not ca) if digital_signature is None else digital_signature,
        key_usage=key_usage,
        extended_key_usage=extended_key_usage,
    )
    return CertifiedKey(certificate=certificate, private_key=key)


def certify_public_key(
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    subject_name: x509.Name,
    *,
    issuer: CertifiedKey | None,
    self_signing_key: PrivateKey | None = None,
    not_before: datetime,
    not_after: datetime,
    ca: bool = False,
    path_length: int | None = None,
    digital_signature: bool = True,
    key_usage: bool = True,
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
) -> x509.Certificate:
    """Issue a certificate for a public key whose private half may be elsewhere (a token).

    Args:
        public_key: The subject's public key.
        subject_name: The subject.
        issuer: The issuing CA; `None` for self-signed (then `self_signing_key` signs).
        self_signing_key: The subject's own private key, for a self-signed certificate.
        not_before: Start of validity (aware).
        not_after: End of validity (aware).
        ca: Whether the certificate is a CA.
        path_length: The CA's path length constraint.
        digital_signature: Whether keyUsage includes digitalSignature.
        key_usage: Whether to include the keyUsage extension at all.
        extended_key_usage: The extendedKeyUsage purposes (non-critical), if any.

    Returns:
        The certificate.
    """
    issuer_name = issuer.certificate.subject if issuer else subject_name
    signing_key = issuer.private_key if issuer else self_signing_key
    if signing_key is None:
        raise ValueError("a self-signed certificate needs self_signing_key")
    key = public_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name)
        .public_key(key)
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
    )
    if key_usage:
        builder = builder.add_extension(
            _key_usage(ca=ca, digital_signature=digital_signature), critical=True
        )
    if extended_key_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=False)
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()),
            critical=False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    # Created with its final mode, so a private key is never readable by others.
    # (fchmod first: an existing file keeps its old mode through os.open).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.PEM)


def dev_certificate_authorities(start: datetime) -> tuple[CertifiedKey, CertifiedKey]:
    """A new development root CA and issuing CA (path length 0), valid from `start`.

    Neither carries digitalSignature: CA keys sign certificates (keyCertSign, cRLSign),
    never documents.
    """
    root = issue_certificate(
        ROOT_NAME, issuer=None, ca=True, not_before=start, not_after=start + timedelta(ROOT_DAYS)
    )
    issuing = issue_certificate(
        ISSUING_NAME,
        issuer=root,
        ca=True,
        path_length=0,
        not_before=start,
        not_after=start + timedelta(ISSUING_DAYS),
    )
    return root, issuing


def write_public_file(path: Path, data: bytes) -> None:
    """Write a certificate file (mode 0644)."""
    _write(path, data)


def init_dev_pki(
    directory: Path,
    *,
    now: datetime | None = None,
    signer_days: int = SIGNER_DAYS,
    overwrite: bool = False,
) -> DevPki:
    """Create a development root CA, issuing CA and file-signing certificate.

    All keys are EC P-256 and all names contain "DEVELOPMENT ONLY". The signer's
    certificate has keyUsage digitalSignature (critical) and extendedKeyUsage
    id-kp-documentSigning, and is valid for `signer_days`; the CAs have no
    digitalSignature.
    Writes `root.pem`, `issuing-ca.pem`, `signer.pem`, `signer.key` (unencrypted PKCS#8,
    mode 0600) and `chain.pem` (signer, then issuing CA). The CA keys are not written.

    Args:
        directory: Where to write the files (created if missing).
        now: The moment validity starts from (aware); defaults to the current time.
        signer_days: The signer certificate's validity in days.
        overwrite: Replace existing files instead of refusing.

    Returns:
        The paths written and the certificates with their keys.

    Raises:
        SigningConfigError: A file exists already and `overwrite` is false.
    """
    start = (now or datetime.now(UTC)) - BACKDATE
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in FILE_NAMES]
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        raise SigningConfigError(
            f"{directory} already holds a PKI ({', '.join(p.name for p in existing)});"
            " choose an empty directory."
        )
    root, issuing = dev_certificate_authorities(start)
    signer = issue_certificate(
        SIGNER_NAME,
        issuer=issuing,
        not_before=start,
        not_after=start + timedelta(signer_days),
        extended_key_usage=[DOCUMENT_SIGNING],
    )
    root_path, issuing_path, signer_path, key_path, chain_path = paths
    _write(
        key_path,
        signer.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        0o600,
    )
    _write(root_path, _pem(root.certificate))
    _write(issuing_path, _pem(issuing.certificate))
    _write(signer_path, _pem(signer.certificate))
    _write(chain_path, _pem(signer.certificate) + _pem(issuing.certificate))
    return DevPki(
        directory=directory,
        root_path=root_path,
        issuing_ca_path=issuing_path,
        signer_path=signer_path,
        key_path=key_path,
        chain_path=chain_path,
        root=root,
        issuing_ca=issuing,
        signer=signer,
    )
