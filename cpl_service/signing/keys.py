"""Signing keys: the `Signer` interface and a file-backed implementation.

Callers depend only on `Signer`, so a signer backed by a hardware security module can be
added later (its `sign` talks to the module) without touching the CMS code or the
publisher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    load_pem_private_key,
    pkcs12,
)

from cpl_service.signing.errors import SigningConfigError

PKCS12_SUFFIXES = (".p12", ".pfx")


@runtime_checkable
class Signer(Protocol):
    """Something that signs with an EC P-256 key and knows its certificate chain."""

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate."""
        ...

    @property
    def chain(self) -> Sequence[x509.Certificate]:
        """The certificates to embed in a signature: the signer's first, then its issuers."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign `data` (hashing it with SHA-256 first); returns a DER ECDSA signature."""
        ...


@dataclass(frozen=True)
class FileSigner:
    """A `Signer` whose private key was loaded from a file into memory.

    Attributes:
        certificate: The signer's certificate.
        chain: The signer's certificate followed by its issuers.
        private_key: The EC P-256 key matching `certificate` (never shown in `repr`).
    """

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    def sign(self, data: bytes) -> bytes:
        """Sign data with ECDSA over SHA-256.

        Args:
            data: The bytes to sign (for CMS: the DER of the signed attributes).

        Returns:
            The DER-encoded ECDSA signature (`Ecdsa-Sig-Value`).
        """
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def key_matches_certificate(key: PrivateKeyTypes, certificate: x509.Certificate) -> bool:
    """Whether a private key belongs to a certificate.

    Args:
        key: A private key.
        certificate: A certificate.

    Returns:
        True if the key's public half is the certificate's public key.
    """
    # cryptography's public keys compare by value (a key of another type is never equal).
    return key.public_key() == certificate.public_key()


def order_chain(
    signer: x509.Certificate, others: Sequence[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    """Put certificates in chain order: the signer, its issuer, that one's issuer, ….

    Duplicates (by DER) and the signer's own copy are dropped; certificates that do not
    link into the chain are kept at the end, in their original order.

    Args:
        signer: The signer's certificate.
        others: The other certificates, in any order.

    Returns:
        The ordered chain, signer first.
    """
    seen = {signer.public_bytes(Encoding.DER)}
    rest: list[x509.Certificate] = []
    for cert in others:
        der = cert.public_bytes(Encoding.DER)
        if der not in seen:
            seen.add(der)
            rest.append(cert)
    chain = [signer]
    while True:
        current = chain[-1]
        if current.issuer == current.subject:
            break
        issuer = next((c for c in rest if c.subject == current.issuer), None)
        if issuer is None:
            break
        rest.remove(issuer)
        chain.append(issuer)
    return tuple(chain + rest)


def require_p256(key: object, *, source: str) -> ec.EllipticCurvePrivateKey:
    """Check that a private key is an EC key on the P-256 curve.

    Args:
        key: The loaded private key.
        source: How to name the key's origin in the error message.

    Returns:
        The key, typed as an EC private key.

    Raises:
        SigningConfigError: The key is of another type or curve.
    """
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SigningConfigError(
            f"The signing key in {source} is a {type(key).__name__.lstrip('_')}; extracts are"
            " signed with ECDSA, so an EC P-256 (secp256r1/prime256v1) key is required."
        )
    if not isinstance(key.curve, ec.SECP256R1):
        raise SigningConfigError(
            f"The signing key in {source} is on curve {key.curve.name}; extracts are signed"
            " with ECDSA P-256, so a secp256r1 (prime256v1) key is required."
        )
    return key


def load_chain_file(path: Path) -> list[x509.Certificate]:
    """Every certificate of a PEM chain file, in file order (refusing a non-PEM file)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningConfigError(
            f"Cannot read the certificate chain {path}: {exc.strerror}."
        ) from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise SigningConfigError(
            f"{path} is not a PEM certificate chain (expected '-----BEGIN CERTIFICATE-----'"
            " blocks, the signer's certificate first)."
        ) from None
    return certificates


def _load_pkcs12(
    data: bytes, path: Path, password: bytes | None
) -> tuple[PrivateKeyTypes, list[x509.Certificate]]:
    try:
        key, certificate, additional = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        hint = "no password was given" if password is None else "is the password right?"
        raise SigningConfigError(
            f"Cannot open the PKCS#12 file {path} ({hint}); check CPL_SIGNING_KEY_PASSWORD."
        ) from None
    if key is None:
        raise SigningConfigError(f"The PKCS#12 file {path} holds no private key.")
    certificates = ([certificate] if certificate is not None else []) + list(additional)
    return key, certificates


def _load_pem_key(
    data: bytes, path: Path, password: bytes | None
) -> tuple[PrivateKeyTypes, list[x509.Certificate]]:
    try:
        key = load_pem_private_key(data, password)
    except TypeError:
        if password is None:
            raise SigningConfigError(
                f"The signing key {path} is encrypted; set CPL_SIGNING_KEY_PASSWORD."
            ) from None
        raise SigningConfigError(
            f"The signing key {path} is not encrypted, but a password was given;"
            " unset CPL_SIGNING_KEY_PASSWORD or encrypt the key."
        ) from None
    except ValueError:
        raise SigningConfigError(
            f"Cannot load the signing key {path}: it is not a PEM private key, or the"
            " password (CPL_SIGNING_KEY_PASSWORD) is wrong."
        ) from None
    # A PEM file may carry the certificate (and chain) next to the key.
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    return key, certificates


def load_file_signer(
    key_path: Path, *, password: bytes | None = None, chain_path: Path | None = None
) -> FileSigner:
    """Load a signing key and its certificate chain from files.

    The key file is PKCS#12 when its name ends in `.p12` or `.pfx` (key, certificate and
    chain in one file), otherwise PEM (PKCS#8 or traditional, optionally encrypted, which
    may also carry certificates). Certificates from `chain_path` (PEM, the signer's
    certificate first) come before any found in the key file; the first certificate is the
    signer's.

    Args:
        key_path: The private key file.
        password: The password of an encrypted key or PKCS#12 file.
        chain_path: A PEM file with the signer's certificate first, then its issuers.

    Returns:
        A signer holding the key, its certificate and the chain to embed.

    Raises:
        SigningConfigError: A file cannot be read or decoded, the password is missing or
            wrong, the key is not EC P-256, no certificate was given, or the key does not
            match the signer's certificate.
    """
    try:
        data = key_path.read_bytes()
    except OSError as exc:
        raise SigningConfigError(
            f"Cannot read the signing key {key_path}: {exc.strerror}."
        ) from None
    if key_path.suffix.lower() in PKCS12_SUFFIXES:
        key, bundled = _load_pkcs12(data, key_path, password)
    else:
        key, bundled = _load_pem_key(data, key_path, password)
    ec_key = require_p256(key, source=str(key_path))
    certificates = (load_chain_file(chain_path) if chain_path else []) + bundled
    if not certificates:
        raise SigningConfigError(
            f"No certificate found for the signing key {key_path}; set CPL_SIGNING_CHAIN to a"
            " PEM file with the signer's certificate first, then the issuing CA."
        )
    signer_certificate = certificates[0]
    if not key_matches_certificate(ec_key, signer_certificate):
        source = chain_path if chain_path else key_path
        raise SigningConfigError(
            f"The signing key {key_path} does not match the signer certificate"
            f" ({signer_certificate.subject.rfc4514_string()}, the first certificate in"
            f" {source}); the pair cannot produce verifiable signatures."
        )
    chain = order_chain(signer_certificate, certificates[1:])
    return FileSigner(certificate=signer_certificate, chain=chain, private_key=ec_key)
