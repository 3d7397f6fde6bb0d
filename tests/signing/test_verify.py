"""Verification: which signature algorithm names are accepted, and with which keys."""

from __future__ import annotations

import pytest
from asn1crypto import algos, cms

from cpl_service.signing.cms import sign_detached
from cpl_service.signing.devpki import DevPki
from cpl_service.signing.errors import MalformedSignatureError
from cpl_service.signing.keys import FileSigner
from cpl_service.signing.verify import verify_detached
from tests.signing.conftest import NOW

CONTENT = b'{"format":"cpl-extract/1","sequence":1}'


def _renamed(signature: bytes, algorithm: str) -> bytes:
    """The same signature, its signatureAlgorithm replaced by `algorithm`."""
    info = cms.ContentInfo.load(signature)
    info["content"]["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm(
        {"algorithm": algorithm}
    )
    return bytes(info.dump(force=True))


@pytest.mark.parametrize(
    ("algorithm", "message"),
    [
        ("sha384_ecdsa", "sha384_ecdsa does not match the digest sha256"),
        ("sha1_ecdsa", "sha1_ecdsa does not match the digest sha256"),
        ("ecdsa", "unsupported signature algorithm ecdsa"),
        ("rsassa_pss", "unsupported signature algorithm rsassa_pss"),
        ("sha256_dsa", "unsupported signature algorithm sha256_dsa"),
        ("sha256_rsa", "does not fit the signer's"),
        ("rsassa_pkcs1v15", "does not fit the signer's"),
    ],
)
def test_signature_algorithm_must_fit_digest_and_key(
    pki: DevPki, signer: FileSigner, algorithm: str, message: str
) -> None:
    signature = _renamed(sign_detached(CONTENT, signer, signing_time=NOW), algorithm)

    with pytest.raises(MalformedSignatureError, match=message):
        verify_detached(CONTENT, signature, trust_roots=[pki.root.certificate], at=NOW)


def test_the_unchanged_name_still_verifies(pki: DevPki, signer: FileSigner) -> None:
    signature = _renamed(sign_detached(CONTENT, signer, signing_time=NOW), "sha256_ecdsa")

    verified = verify_detached(CONTENT, signature, trust_roots=[pki.root.certificate], at=NOW)

    assert verified.signer == pki.signer.certificate
