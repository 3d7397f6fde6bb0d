"""Making a detached CMS SignedData (RFC 5652).

The structure is built with `asn1crypto.cms`; the `Signer` does the signing operation.
cryptography's own `PKCS7SignatureBuilder` is not used because it needs the private key
object (a hardware-module `Signer` only exposes `sign(data)`), and it always stamps the
current time instead of the `signing_time` we pass. Verification is in
`cpl_service.signing.verify`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from cpl_service.signing.errors import MalformedSignatureError
from cpl_service.signing.keys import Signer

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


def sign_detached(
    content: bytes, signer: Signer, *, signing_time: datetime, content_digest: bytes | None = None
) -> bytes:
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
        content_digest: The SHA-256 digest of `content`, when the caller has it already
            (it is not computed twice for a large payload).

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
                {
                    "type": "message_digest",
                    "values": [content_digest or hashlib.sha256(content).digest()],
                }
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
