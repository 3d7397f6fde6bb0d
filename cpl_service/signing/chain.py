"""Certificate paths: building the chain from a signer to a trust root, and the rules a
verifier applies to its certificates (CA constraints, validity dates, key usage).

`cryptography` checks each link's signature (`verify_directly_issued_by`) and parses the
extensions. Its path validator (`cryptography.x509.verification`) is not used: it checks a
path at one moment fixed before building, and reports every failure as a single
`VerificationError` message, whereas the extract verifier builds the path before it knows
the moment (the payload's `issued_at`), and must tell an untrusted chain from a signer
that was not valid then (SPEC §6 lists them as different reasons).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from cpl_service.signing.certificates import certificate_name
from cpl_service.signing.errors import (
    KeyUsageError,
    MalformedSignatureError,
    SignerNotValidError,
    UntrustedChainError,
)

# The longest path built, the signer's certificate and the trust root included.
MAX_CHAIN_LENGTH = 8
# What cryptography raises for a certificate it can decode only in part.
UNPROCESSABLE = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _may_sign_certificates(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def _path_length(certificate: x509.Certificate) -> int | None:
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    return constraints.value.path_length


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, *UNPROCESSABLE):
        return False
    return True


def reject_unknown_critical(certificate: x509.Certificate) -> None:
    """Refuse a certificate carrying a critical extension that cannot be processed.

    Args:
        certificate: Any certificate.

    Raises:
        UntrustedChainError: A critical extension is one `cryptography` does not know.
        MalformedSignatureError: The extensions cannot be parsed.
    """
    try:
        extensions = certificate.extensions
    except ValueError as exc:
        raise MalformedSignatureError(
            f"the certificate {certificate_name(certificate)} has malformed extensions: {exc}"
        ) from None
    for extension in extensions:
        if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
            raise UntrustedChainError(
                f"the certificate {certificate_name(certificate)} has a critical extension"
                f" ({extension.oid.dotted_string}) that cannot be processed"
            )


def build_chain(
    signer: x509.Certificate,
    *,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
) -> tuple[x509.Certificate, ...]:
    """Build and check the path from a signer's certificate to a trust root.

    Each link is a certificate whose issuer name is its parent's subject and whose
    signature verifies with the parent's key. Every parent must be a CA (basicConstraints
    CA, keyCertSign if keyUsage is present, path length respected). No certificate may
    carry a critical extension that cannot be processed. Validity dates are not checked
    here; see `check_validity`.

    Args:
        signer: The certificate to start from.
        intermediates: Candidate issuing certificates (e.g. those embedded in a signature).
        trust_roots: The trust anchors; a path must end at one of them (compared by DER).

    Returns:
        The path: the signer's certificate first, the trust root last.

    Raises:
        UntrustedChainError: No path to a trust root exists, or a link breaks a CA rule.
        MalformedSignatureError: A certificate's extensions cannot be parsed.
    """
    roots = {r.public_bytes(Encoding.DER): r for r in trust_roots}
    chain = [signer]
    reject_unknown_critical(signer)
    while True:
        current = chain[-1]
        if current.public_bytes(Encoding.DER) in roots:
            return tuple(chain)
        if len(chain) >= MAX_CHAIN_LENGTH:
            break
        used = {c.public_bytes(Encoding.DER) for c in chain}
        candidates = [r for r in trust_roots if r.public_bytes(Encoding.DER) not in used]
        candidates += [
            c
            for c in intermediates
            if c.public_bytes(Encoding.DER) not in used
            and c.public_bytes(Encoding.DER) not in roots
        ]
        parent = next((c for c in candidates if _issued_by(current, c)), None)
        if parent is None:
            break
        reject_unknown_critical(parent)
        if not _is_ca(parent) or not _may_sign_certificates(parent):
            raise UntrustedChainError(
                f"the certificate {certificate_name(parent)} issued"
                f" {certificate_name(current)} but is not a CA certificate"
                " (basicConstraints CA and keyCertSign are required)"
            )
        path_length = _path_length(parent)
        # Intermediate CAs between `parent` and the signer (self-issued ones do not count).
        below = sum(1 for c in chain[1:] if c.subject != c.issuer)
        if path_length is not None and below > path_length:
            raise UntrustedChainError(
                f"the CA certificate {certificate_name(parent)} allows {path_length}"
                f" intermediate CA(s) below it, but the chain has {below}"
            )
        chain.append(parent)
    raise UntrustedChainError(
        f"the signer's certificate ({certificate_name(signer)}) does not chain to a trusted"
        f" root; the chain ends at {certificate_name(chain[-1])}, issued by"
        f" {chain[-1].issuer.rfc4514_string()}, which is not a trusted root"
    )


def check_validity(chain: Sequence[x509.Certificate], *, at: datetime) -> None:
    """Check that every certificate of a chain was valid at a moment.

    Args:
        chain: Certificates, the signer's first.
        at: The moment (aware).

    Raises:
        SignerNotValidError: A certificate was expired or not yet valid at `at`.
        ValueError: `at` is naive.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    for position, certificate in enumerate(chain):
        role = "signer's certificate" if position == 0 else "issuing certificate"
        start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        when = at.astimezone(UTC).isoformat()
        if at < start:
            raise SignerNotValidError(
                f"the {role} {certificate_name(certificate)} was not yet valid at {when}"
                f" (valid from {start.isoformat()})"
            )
        if at > end:
            raise SignerNotValidError(
                f"the {role} {certificate_name(certificate)} had expired at {when}"
                f" (valid until {end.isoformat()})"
            )


def require_digital_signature(certificate: x509.Certificate) -> None:
    """Require the digitalSignature key usage on a signer's certificate.

    Args:
        certificate: The signer's certificate.

    Raises:
        KeyUsageError: The keyUsage extension is absent or lacks digitalSignature.
    """
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise KeyUsageError(
            f"the signer's certificate {certificate_name(certificate)} has no keyUsage"
            " extension; digitalSignature is required"
        ) from None
    if not usage.digital_signature:
        raise KeyUsageError(
            f"the signer's certificate {certificate_name(certificate)} does not allow digital"
            " signatures (its keyUsage lacks digitalSignature)"
        )


def require_signing_usage(certificate: x509.Certificate) -> None:
    """Refuse a certificate whose keyUsage forbids signing documents.

    Laxer than `require_digital_signature`, for certificates a party registered: a
    certificate without keyUsage may sign, and nonRepudiation (contentCommitment) is
    enough.

    Args:
        certificate: The certificate that made a signature.

    Raises:
        KeyUsageError: keyUsage is present with neither digitalSignature nor
            nonRepudiation.
    """
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise KeyUsageError(
            f"the certificate {certificate_name(certificate)} may not be used for signatures"
            " (its keyUsage has neither digitalSignature nor nonRepudiation)"
        )
