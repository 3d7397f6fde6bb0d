"""What `GET /signing/certificates` tells verifiers about the current and earlier signers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from cpl_service.signing.certificates import certificate_pem, fingerprint_sha256
from cpl_service.signing.config import LoadedSigner


@dataclass(frozen=True)
class SignerListing:
    """One signer as verifiers see it.

    Attributes:
        subject: The signer certificate's subject (RFC 4514).
        issuer: Its issuer (RFC 4514).
        serial_number: Its serial number, lower-case hex.
        fingerprint_sha256: SHA-256 of its DER, lower-case hex.
        not_valid_before: Start of validity (aware UTC).
        not_valid_after: End of validity (aware UTC).
        current: True for the signer of new extracts, False for an earlier one.
        chain_pem: The signer's certificate, then its issuers, as PEM.
    """

    subject: str
    issuer: str
    serial_number: str
    fingerprint_sha256: str
    not_valid_before: datetime
    not_valid_after: datetime
    current: bool
    chain_pem: str


def _listing(chain: Sequence[x509.Certificate], *, current: bool, pem: bytes) -> SignerListing:
    signer = chain[0]
    return SignerListing(
        subject=signer.subject.rfc4514_string(),
        issuer=signer.issuer.rfc4514_string(),
        serial_number=f"{signer.serial_number:x}",
        fingerprint_sha256=fingerprint_sha256(signer),
        not_valid_before=signer.not_valid_before_utc,
        not_valid_after=signer.not_valid_after_utc,
        current=current,
        chain_pem=pem.decode("ascii"),
    )


def list_signers(loaded: LoadedSigner) -> list[SignerListing]:
    """The current signer first, then each earlier signer still listed (a rotation).

    Args:
        loaded: The service's signer.

    Returns:
        One listing per signer; the current one's chain PEM is exactly what the plain PEM
        response serves.
    """
    current = _listing(tuple(loaded.signer.chain), current=True, pem=loaded.chain_pem)
    previous = [
        _listing(chain, current=False, pem=certificate_pem(list(chain)))
        for chain in loaded.previous
    ]
    return [current, *previous]
