"""Detached CMS SignedData (RFC 5652): signing, and fail-closed verification.

The structure is built and parsed with `asn1crypto.cms`; `cryptography` does the
hashing, signature checks and certificate handling. cryptography's own
`PKCS7SignatureBuilder` is not used for signing because it needs the private key
object (a hardware-module `Signer` only exposes `sign(data)`), and it always stamps the
current time instead of the `signing_time` we pass; it has no CMS verifier at all.
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
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from cpl_service.signing.certificates import fingerprint_sha256
from cpl_service.signing.errors import (
    BadSignatureError,
    KeyUsageError,
    MalformedSignatureError,
    SignerNotValidError,
    UnregisteredSignerError,
    UntrustedChainError,
)
from cpl_service.signing.keys import Signer

MAX_CHAIN_LENGTH = 8
# What cryptography raises for a certificate it can decode only in part.
_UNPROCESSABLE = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion)

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# signature_algorithm names asn1crypto gives, mapped to (key family, hash it implies).
_SIGNATURE_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "sha256_ecdsa": ("ec", "sha256"),
    "sha384_ecdsa": ("ec", "sha384"),
    "sha512_ecdsa": ("ec", "sha512"),
    "rsassa_pkcs1v15": ("rsa", None),
    "sha256_rsa": ("rsa", "sha256"),
    "sha384_rsa": ("rsa", "sha384"),
    "sha512_rsa": ("rsa", "sha512"),
}


@dataclass(frozen=True)
class VerifiedSignature:
    """The outcome of a successful verification.

    Attributes:
        signer: The certificate whose key made the signature.
        chain: The signer's certificate, then each issuer up to the trust anchor
            (just the signer for submissions checked against registered certificates).
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
    embedded_asn1: tuple[asn1_x509.Certificate, ...]
    hash_name: str
    signing_time: datetime | None
    signed_attrs_der: bytes


# --------------------------------------------------------------------------- signing

# RFC 5754 §2: the SHA-2 AlgorithmIdentifiers omit parameters (asn1crypto would add NULL).
_SHA256 = algos.DigestAlgorithm({"algorithm": "sha256", "parameters": None})


def _signing_time_attribute(signing_time: datetime) -> cms.CMSAttribute:
    moment = signing_time.astimezone(UTC).replace(microsecond=0)
    # RFC 5652 §11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    time = (
        cms.Time({"utc_time": moment})
        if 1950 <= moment.year < 2050
        else cms.Time({"general_time": moment})
    )
    return cms.CMSAttribute({"type": "signing_time", "values": [time]})


def _signature_algorithm(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "sha256_ecdsa"
    if isinstance(key, rsa.RSAPublicKey):
        return "sha256_rsa"
    raise MalformedSignatureError(
        f"cannot sign with a {type(key).__name__} certificate; use EC P-256 (or RSA)"
    )


def sign_detached(content: bytes, signer: Signer, *, signing_time: datetime) -> bytes:
    """Make a detached CMS SignedData over `content`.

    The result uses SHA-256, carries the signed attributes contentType (id-data),
    signingTime and messageDigest, identifies the signer by issuer and serial number, and
    embeds `signer.chain`. Stock OpenSSL verifies it with
    `openssl cms -verify -binary -inform DER -in SIG -content PAYLOAD -CAfile root.pem
    -purpose any`.

    Args:
        content: The exact bytes to sign (not embedded in the result).
        signer: Supplies the certificate, chain and the signing operation.
        signing_time: The time recorded in the signingTime attribute; must be aware.

    Returns:
        The DER-encoded CMS ContentInfo.

    Raises:
        ValueError: `signing_time` is naive.
        MalformedSignatureError: The signer's key type cannot be used.
    """
    if signing_time.tzinfo is None:
        raise ValueError("signing_time must be timezone-aware")
    certificate = asn1_x509.Certificate.load(signer.certificate.public_bytes(Encoding.DER))
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            _signing_time_attribute(signing_time),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
            ),
        ]
    )
    # DER of the SET OF (tag 0x31): asn1crypto sorts the members, as DER requires and as
    # verifiers re-encoding the attributes (OpenSSL) expect.
    signature = signer.sign(signed_attrs.dump(force=True))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {
                            "issuer": certificate.issuer,
                            "serial_number": certificate.serial_number,
                        }
                    )
                }
            ),
            "digest_algorithm": _SHA256,
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm(
                {"algorithm": _signature_algorithm(signer.certificate)}
            ),
            "signature": signature,
        }
    )
    embedded = [
        cms.CertificateChoices(
            {"certificate": asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))}
        )
        for c in signer.chain
    ]
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [_SHA256],
            "encap_content_info": {"content_type": "data"},
            "certificates": embedded,
            "signer_infos": [signer_info],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return bytes(info.dump())


# ---------------------------------------------------------------------- verification


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
        _single_value(attributes, "message_digest")
        signing_time = None
        if "signing_time" in attributes:
            signing_time = _single_value(attributes, "signing_time").native.astimezone(UTC)
        # The signature covers the attributes as a SET OF (tag 0x31), not as the [0]
        # IMPLICIT field they are sent in; use the bytes exactly as received.
        raw = signed_attrs.dump()
        if raw[:1] != b"\xa0":
            raise MalformedSignatureError("the signed attributes are not encoded as [0]")
        signed_attrs_der = b"\x31" + raw[1:]
        embedded_asn1: list[asn1_x509.Certificate] = []
        embedded: list[x509.Certificate] = []
        certificates = signed_data["certificates"]
        if certificates.native is not None:
            for choice in certificates:
                if choice.name != "certificate":
                    continue  # attribute or other certificate formats are never signers
                embedded_asn1.append(choice.chosen)
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
        embedded_asn1=tuple(embedded_asn1),
        hash_name=hash_name,
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
    digest = hashlib.new(parsed.hash_name, content).digest()
    for attribute in parsed.signer_info["signed_attrs"]:
        if attribute["type"].native == "message_digest" and (
            attribute["values"][0].native != digest
        ):
            raise BadSignatureError(
                "the signature does not match the content: its message digest differs"
                " from the digest of the bytes given (the content was changed, or the"
                " signature belongs to other content)"
            )
    return hashlib.sha256(content).hexdigest()


def _check_signature(parsed: _Parsed, certificate: x509.Certificate) -> None:
    algorithm = parsed.signer_info["signature_algorithm"]["algorithm"].native
    family, implied_hash = _SIGNATURE_ALGORITHMS.get(algorithm, (None, None))
    if family is None:
        raise MalformedSignatureError(f"unsupported signature algorithm {algorithm}")
    if implied_hash is not None and implied_hash != parsed.hash_name:
        raise MalformedSignatureError(
            f"the signature algorithm {algorithm} does not match the digest {parsed.hash_name}"
        )
    hash_algorithm = _HASHES[parsed.hash_name]()
    signature = parsed.signer_info["signature"].native
    key = certificate.public_key()
    try:
        if family == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, parsed.signed_attrs_der, ec.ECDSA(hash_algorithm))
        elif family == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, parsed.signed_attrs_der, padding.PKCS1v15(), hash_algorithm)
        else:
            raise MalformedSignatureError(
                f"the signature algorithm {algorithm} does not fit the signer's"
                f" {type(key).__name__} key"
            )
    except InvalidSignature:
        raise BadSignatureError(
            "the signature is not valid: the signed attributes were not signed by the key of"
            " the signer's certificate (the signature was altered or made with another key)"
        ) from None


def _describe(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or f"serial {certificate.serial_number:x}"


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return bool(constraints.value.ca)


def _may_sign_certificates(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(usage.key_cert_sign)


def _path_length(certificate: x509.Certificate) -> int | None:
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    return constraints.value.path_length


def _reject_unknown_critical(certificate: x509.Certificate) -> None:
    try:
        extensions = certificate.extensions
    except ValueError as exc:
        raise MalformedSignatureError(
            f"the certificate {_describe(certificate)} has malformed extensions: {exc}"
        ) from None
    for extension in extensions:
        if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
            raise UntrustedChainError(
                f"the certificate {_describe(certificate)} has a critical extension"
                f" ({extension.oid.dotted_string}) that cannot be processed"
            )


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, *_UNPROCESSABLE):
        return False
    return True


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
    _reject_unknown_critical(signer)
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
        _reject_unknown_critical(parent)
        if not _is_ca(parent) or not _may_sign_certificates(parent):
            raise UntrustedChainError(
                f"the certificate {_describe(parent)} issued {_describe(current)} but is not a"
                " CA certificate (basicConstraints CA and keyCertSign are required)"
            )
        path_length = _path_length(parent)
        # Intermediate CAs between `parent` and the signer (self-issued ones do not count).
        below = sum(1 for c in chain[1:] if c.subject != c.issuer)
        if path_length is not None and below > path_length:
            raise UntrustedChainError(
                f"the CA certificate {_describe(parent)} allows {path_length} intermediate"
                f" CA(s) below it, but the chain has {below}"
            )
        chain.append(parent)
    raise UntrustedChainError(
        f"the signer's certificate ({_describe(signer)}) does not chain to a trusted root;"
        f" the chain ends at {_describe(chain[-1])}, issued by"
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
                f"the {role} {_describe(certificate)} was not yet valid at {when}"
                f" (valid from {start.isoformat()})"
            )
        if at > end:
            raise SignerNotValidError(
                f"the {role} {_describe(certificate)} had expired at {when}"
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
            f"the signer's certificate {_describe(certificate)} has no keyUsage extension;"
            " digitalSignature is required"
        ) from None
    if not usage.digital_signature:
        raise KeyUsageError(
            f"the signer's certificate {_describe(certificate)} does not allow digital"
            " signatures (its keyUsage lacks digitalSignature)"
        )


def verify_detached_untimed(
    content: bytes, signature: bytes, *, trust_roots: Sequence[x509.Certificate]
) -> VerifiedSignature:
    """Verify a detached CMS signature, everything but the certificates' validity dates.

    For callers that learn the relevant moment from the content itself (the extract's
    `issued_at`); they must then call `check_validity(result.chain, at=...)`.

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
    except _UNPROCESSABLE as exc:
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
        SignerNotValidError: The certificate was expired or not yet valid at `at`.
        KeyUsageError: The certificate may not be used for signatures.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    try:
        return _verify_registered(content, signature, registered, at)
    except _UNPROCESSABLE as exc:
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
            f" ({_describe(embedded[0])}, SHA-256 {fingerprint_sha256(embedded[0])})"
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
        _reject_unknown_critical(certificate)
        check_validity([certificate], at=at)
        _require_signing_usage(certificate)
        return certificate
    if isinstance(last_error, MalformedSignatureError):
        raise last_error
    raise BadSignatureError(
        "the signature does not match the uploaded workbook bytes: it was not made with the"
        " key of your registered certificate"
    )


def _require_signing_usage(certificate: x509.Certificate) -> None:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise KeyUsageError(
            f"the certificate {_describe(certificate)} may not be used for signatures (its"
            " keyUsage has neither digitalSignature nor nonRepudiation)"
        )


def load_signature_certificates(signature: bytes) -> list[x509.Certificate]:
    """The certificates embedded in a CMS signature, as sent.

    Args:
        signature: A CMS SignedData, DER or PEM.

    Returns:
        The embedded X.509 certificates (possibly none).

    Raises:
        MalformedSignatureError: The signature cannot be parsed.
    """
    return list(_parse(signature).embedded)


__all__ = [
    "VerifiedSignature",
    "build_chain",
    "check_validity",
    "load_signature_certificates",
    "require_digital_signature",
    "sign_detached",
    "verify_detached",
    "verify_detached_untimed",
    "verify_with_registered",
]
