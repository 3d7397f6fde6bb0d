"""Verifying a detached CMS SignedData (RFC 5652), failing closed.

Two verifiers share one parser: `verify_detached` (and its untimed half) for signatures
that must chain to trust roots, such as extracts, and `verify_with_registered` for signed
submissions, where the submitting party's registered certificates are the only anchors.

`asn1crypto.cms` parses the structure and names the algorithms; `cryptography` does the
signature checks. cryptography has no CMS verifier of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, cms, pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from cpl_service.signing.certificates import certificate_name, fingerprint_sha256
from cpl_service.signing.chain import (
    UNPROCESSABLE,
    build_chain,
    check_validity,
    reject_unknown_critical,
    require_digital_signature,
    require_signing_usage,
)
from cpl_service.signing.errors import (
    BadSignatureError,
    MalformedSignatureError,
    UnregisteredSignerError,
)

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# The signature families accepted, as asn1crypto's `SignedDigestAlgorithm.signature_algo`
# names them.
_SIGNATURE_FAMILIES = ("ecdsa", "rsassa_pkcs1v15")


@dataclass(frozen=True)
class VerifiedSignature:
    """The outcome of a successful verification.

    Attributes:
        signer: The certificate whose key made the signature.
        chain: The signer's certificate, then each issuer up to the trust anchor.
        signing_time: The signed `signingTime` attribute, if present (aware UTC).
        content_sha256: SHA-256 of the signed content, lower-case hex.
    """

    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    signing_time: datetime | None
    content_sha256: str


@dataclass(frozen=True)
class _Parsed:
    signer_info: cms.SignerInfo
    embedded: tuple[x509.Certificate, ...]
    hash_name: str
    message_digest: bytes
    signing_time: datetime | None
    signed_attrs_der: bytes


def _to_der(signature: bytes) -> bytes:
    stripped = signature.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"-----BEGIN"):
        try:
            _label, _headers, der = pem.unarmor(stripped)
        except ValueError as exc:
            raise MalformedSignatureError(
                f"the signature is PEM but cannot be decoded: {exc}"
            ) from None
        return bytes(der)
    return signature


def _single_value(attributes: dict[str, list[Any]], name: str) -> Any:
    values = attributes.get(name)
    if values is None:
        raise MalformedSignatureError(f"the signature lacks the signed {name} attribute")
    if len(values) != 1:
        raise MalformedSignatureError(f"the signed {name} attribute must have exactly one value")
    return values[0]


def _parse(signature: bytes) -> _Parsed:
    der = _to_der(signature)
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedSignatureError(
                f"the signature is a CMS {info['content_type'].native}, not signed data"
            )
        signed_data = info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "data":
            raise MalformedSignatureError("the signed content type is not id-data")
        if encap["content"].native is not None:
            raise MalformedSignatureError(
                "the signature embeds its content; a detached signature is expected"
            )
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != 1:
            raise MalformedSignatureError(
                f"the signature has {len(signer_infos)} signers; exactly one is expected"
            )
        signer_info = signer_infos[0]
        # RFC 5652 §5.1, §5.3: the versions follow from the structure; anything else is
        # not something we produce or OpenSSL does, so it is refused.
        if signed_data["version"].native not in ("v1", "v3"):
            raise MalformedSignatureError("unsupported SignedData version")
        sid_version = {"issuer_and_serial_number": "v1", "subject_key_identifier": "v3"}
        if signer_info["version"].native != sid_version.get(signer_info["sid"].name):
            raise MalformedSignatureError("the SignerInfo version does not fit its identifier")
        hash_name = signer_info["digest_algorithm"]["algorithm"].native
        if hash_name not in _HASHES:
            raise MalformedSignatureError(f"unsupported digest algorithm {hash_name}")
        listed = {a["algorithm"].native for a in signed_data["digest_algorithms"]}
        if hash_name not in listed:
            raise MalformedSignatureError(
                f"the signer's digest algorithm {hash_name} is not among the SignedData's"
                " digest algorithms"
            )
        signed_attrs = signer_info["signed_attrs"]
        if not isinstance(signed_attrs, cms.CMSAttributes):
            raise MalformedSignatureError("the signature has no signed attributes")
        attributes: dict[str, list[Any]] = {}
        for attribute in signed_attrs:
            name = attribute["type"].native
            if name in attributes:
                raise MalformedSignatureError(f"the signed attribute {name} appears twice")
            attributes[name] = list(attribute["values"])
        content_type = _single_value(attributes, "content_type")
        if content_type.native != encap["content_type"].native:
            raise MalformedSignatureError(
                "the signed content-type attribute does not match the content type"
            )
        message_digest = _single_value(attributes, "message_digest").native
        signing_time = None
        if "signing_time" in attributes:
            signing_time = _single_value(attributes, "signing_time").native.astimezone(UTC)
        # The signature covers the attributes as a SET OF, not as the [0] IMPLICIT field
        # they are sent in: untag them, keeping the bytes exactly as received.
        signed_attrs_der = signed_attrs.untag().dump()
        embedded: list[x509.Certificate] = []
        certificates = signed_data["certificates"]
        if certificates.native is not None:
            for choice in certificates:
                if choice.name != "certificate":
                    continue  # attribute or other certificate formats are never signers
                embedded.append(x509.load_der_x509_certificate(choice.chosen.dump()))
        # Decode the whole structure now, so a damaged part anywhere, signed or not, is
        # refused instead of lurking in a field nothing else reads.
        info.native  # noqa: B018
    except MalformedSignatureError:
        raise
    except Exception as exc:  # fail closed: any decoding problem is a refusal
        raise MalformedSignatureError(
            f"the signature is not a valid DER or PEM CMS SignedData: {exc}"
        ) from None
    return _Parsed(
        signer_info=signer_info,
        embedded=tuple(embedded),
        hash_name=hash_name,
        message_digest=message_digest,
        signing_time=signing_time,
        signed_attrs_der=signed_attrs_der,
    )


def _identifies(sid: cms.SignerIdentifier, certificate: asn1_x509.Certificate) -> bool:
    if sid.name == "issuer_and_serial_number":
        wanted = sid.chosen
        return bool(
            certificate.serial_number == wanted["serial_number"].native
            and certificate.issuer == wanted["issuer"]
        )
    if sid.name == "subject_key_identifier":
        return bool(certificate.key_identifier == sid.chosen.native)
    return False


def _matching(
    sid: cms.SignerIdentifier, certificates: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    found: dict[bytes, x509.Certificate] = {}
    for certificate in certificates:
        der = certificate.public_bytes(Encoding.DER)
        if _identifies(sid, asn1_x509.Certificate.load(der)):
            found.setdefault(der, certificate)
    return list(found.values())


def _check_digest(parsed: _Parsed, content: bytes) -> str:
    if hashlib.new(parsed.hash_name, content).digest() != parsed.message_digest:
        raise BadSignatureError(
            "the signature does not match the content: its message digest differs"
            " from the digest of the bytes given (the content was changed, or the"
            " signature belongs to other content)"
        )
    return hashlib.sha256(content).hexdigest()


def _check_signature(parsed: _Parsed, certificate: x509.Certificate) -> None:
    algorithm: algos.SignedDigestAlgorithm = parsed.signer_info["signature_algorithm"]
    name = algorithm["algorithm"].native
    unsupported = MalformedSignatureError(f"unsupported signature algorithm {name}")
    try:
        family = algorithm.signature_algo
    except ValueError:
        raise unsupported from None
    if family not in _SIGNATURE_FAMILIES:
        raise unsupported
    try:
        # RSA signers may name only the key algorithm (rsaEncryption, as OpenSSL writes
        # it); the digest algorithm then says the hash. Every other name must imply one.
        implied_hash = None if name == "rsassa_pkcs1v15" else algorithm.hash_algo
    except ValueError:
        raise unsupported from None
    if implied_hash is not None and implied_hash != parsed.hash_name:
        raise MalformedSignatureError(
            f"the signature algorithm {name} does not match the digest {parsed.hash_name}"
        )
    hash_algorithm = _HASHES[parsed.hash_name]()
    signature = parsed.signer_info["signature"].native
    key = certificate.public_key()
    try:
        if family == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, parsed.signed_attrs_der, ec.ECDSA(hash_algorithm))
        elif family == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, parsed.signed_attrs_der, padding.PKCS1v15(), hash_algorithm)
        else:
            raise MalformedSignatureError(
                f"the signature algorithm {name} does not fit the signer's {type(key).__name__} key"
            )
    except InvalidSignature:
        raise BadSignatureError(
            "the signature is not valid: the signed attributes were not signed by the key of"
            " the signer's certificate (the signature was altered or made with another key)"
        ) from None


def verify_detached_untimed(
    content: bytes, signature: bytes, *, trust_roots: Sequence[x509.Certificate]
) -> VerifiedSignature:
    """Verify a detached CMS signature, everything but the certificates' validity dates.

    For callers that learn the relevant moment from the content itself (the extract's
    `issued_at`); they must then call `check_validity(result.chain, at=...)` from
    `cpl_service.signing.chain`.

    Args:
        content: The exact bytes that were signed.
        signature: The CMS SignedData, DER or PEM.
        trust_roots: The trust anchors.

    Returns:
        The signer, the chain to the trust root, the signing time and content digest.

    Raises:
        MalformedSignatureError: The signature cannot be parsed or lacks a required piece.
        BadSignatureError: The digest or the signature does not match.
        UntrustedChainError: The signer does not chain to a trust root.
        KeyUsageError: The signer's certificate lacks digitalSignature.
    """
    try:
        return _verify_untimed(content, signature, trust_roots)
    except UNPROCESSABLE as exc:
        # e.g. an embedded certificate with a key or extension that cannot be decoded
        raise MalformedSignatureError(f"the signature cannot be processed: {exc}") from None


def _verify_untimed(
    content: bytes, signature: bytes, trust_roots: Sequence[x509.Certificate]
) -> VerifiedSignature:
    parsed = _parse(signature)
    matches = _matching(parsed.signer_info["sid"], parsed.embedded)
    if not matches:
        raise MalformedSignatureError(
            "the signature does not embed the signer's certificate (none of its certificates"
            " matches the signer identifier)"
        )
    if len(matches) > 1:
        raise MalformedSignatureError("the signer identifier matches several embedded certificates")
    signer = matches[0]
    content_sha256 = _check_digest(parsed, content)
    _check_signature(parsed, signer)
    chain = build_chain(signer, intermediates=parsed.embedded, trust_roots=trust_roots)
    require_digital_signature(signer)
    return VerifiedSignature(
        signer=signer,
        chain=chain,
        signing_time=parsed.signing_time,
        content_sha256=content_sha256,
    )


def verify_detached(
    content: bytes,
    signature: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    at: datetime,
) -> VerifiedSignature:
    """Verify a detached CMS signature against trust roots, failing closed.

    Checks: the CMS parses and is detached signed data with one signer and signed
    attributes; the signer's certificate (found by its SignerIdentifier among the
    embedded certificates) has the digitalSignature key usage; the contentType and
    messageDigest attributes match the content; the signature over the signed attributes
    verifies with the signer's key; the signer chains to one of `trust_roots`; and every
    certificate of the chain was valid at `at`.

    Args:
        content: The exact bytes that were signed.
        signature: The CMS SignedData, DER or PEM.
        trust_roots: The trust anchors.
        at: The moment at which the certificates must have been valid (aware).

    Returns:
        The signer, the chain to the trust root, the signing time and content digest.

    Raises:
        MalformedSignatureError: The signature cannot be parsed or lacks a required piece.
        BadSignatureError: The digest or the signature does not match.
        UntrustedChainError: The signer does not chain to a trust root.
        KeyUsageError: The signer's certificate lacks digitalSignature.
        SignerNotValidError: A certificate of the chain was not valid at `at`.
        ValueError: `at` is naive.
    """
    verified = verify_detached_untimed(content, signature, trust_roots=trust_roots)
    check_validity(verified.chain, at=at)
    return verified


def verify_with_registered(
    content: bytes,
    signature: bytes,
    *,
    registered: Sequence[x509.Certificate],
    at: datetime,
) -> x509.Certificate:
    """Verify a signed submission against the submitting party's registered certificates.

    The registered certificates are the trust anchors: the signer (found by its
    SignerIdentifier) must be one of them, and the signature must verify with its key.
    Certificates embedded in the CMS are only used to explain a refusal, never trusted.
    The certificate must have been valid at `at`; if it has a keyUsage extension, it must
    allow digitalSignature or nonRepudiation (contentCommitment).

    Args:
        content: The exact uploaded bytes (the workbook).
        signature: The detached CMS SignedData, DER or PEM.
        registered: The party's registered certificates.
        at: The moment of the upload (aware).

    Returns:
        The registered certificate that made the signature.

    Raises:
        MalformedSignatureError: The signature cannot be parsed or lacks a required piece.
        UnregisteredSignerError: The signer is not one of the registered certificates.
        BadSignatureError: The signature does not match the bytes.
        UntrustedChainError: The registered certificate has a critical extension that
            cannot be processed.
        SignerNotValidError: The certificate was expired or not yet valid at `at`.
        KeyUsageError: The certificate may not be used for signatures.
        ValueError: `at` is naive.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    try:
        return _verify_registered(content, signature, registered, at)
    except UNPROCESSABLE as exc:
        raise MalformedSignatureError(f"the signature cannot be processed: {exc}") from None


def _verify_registered(
    content: bytes, signature: bytes, registered: Sequence[x509.Certificate], at: datetime
) -> x509.Certificate:
    parsed = _parse(signature)
    sid = parsed.signer_info["sid"]
    candidates = _matching(sid, registered)
    if not candidates:
        embedded = _matching(sid, parsed.embedded)
        which = (
            f" ({certificate_name(embedded[0])}, SHA-256 {fingerprint_sha256(embedded[0])})"
            if embedded
            else ""
        )
        raise UnregisteredSignerError(
            f"the workbook was signed with a certificate{which} that is not registered to"
            " your party; register it with `cpl-service party add-certificate`"
        )
    try:
        _check_digest(parsed, content)
    except BadSignatureError:
        raise BadSignatureError(
            "the signature does not match the uploaded workbook bytes (the workbook was"
            " changed after signing, or the signature belongs to another file)"
        ) from None
    last_error: BadSignatureError | MalformedSignatureError | None = None
    for certificate in candidates:
        try:
            _check_signature(parsed, certificate)
        except (BadSignatureError, MalformedSignatureError) as exc:
            last_error = exc
            continue
        reject_unknown_critical(certificate)
        check_validity([certificate], at=at)
        require_signing_usage(certificate)
        return certificate
    if isinstance(last_error, MalformedSignatureError):
        raise last_error
    raise BadSignatureError(
        "the signature does not match the uploaded workbook bytes: it was not made with the"
        " key of your registered certificate"
    )
