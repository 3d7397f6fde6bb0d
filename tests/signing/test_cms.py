"""The CMS signer and verifier: round trips, interoperability with OpenSSL, one test per
attack or misconfiguration."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms

from cpl_service.errors import SignatureError
from cpl_service.signing.cms import sign_detached
from cpl_service.signing.devpki import DevPki, issue_certificate
from cpl_service.signing.errors import (
    BadSignatureError,
    KeyUsageError,
    MalformedSignatureError,
    SignerNotValidError,
    UntrustedChainError,
)
from cpl_service.signing.keys import FileSigner, Signer
from cpl_service.signing.verify import verify_detached
from tests.signing.conftest import NOW, RunOpenssl, leaf_from, requires_openssl, signer_for

CONTENT = b'{"format":"cpl-extract/1","sequence":1}'


def _sign(signer: Signer, content: bytes = CONTENT) -> bytes:
    return sign_detached(content, signer, signing_time=NOW)


def test_round_trip(pki: DevPki, signer: FileSigner) -> None:
    signature = _sign(signer)

    verified = verify_detached(CONTENT, signature, trust_roots=[pki.root.certificate], at=NOW)

    assert verified.signer == pki.signer.certificate
    assert verified.chain == (
        pki.signer.certificate,
        pki.issuing_ca.certificate,
        pki.root.certificate,
    )
    assert verified.signing_time == NOW


def test_structure_is_detached_sha256_ecdsa_with_chain(pki: DevPki, signer: FileSigner) -> None:
    info = cms.ContentInfo.load(_sign(signer))
    signed_data = info["content"]
    signer_info = signed_data["signer_infos"][0]

    assert info["content_type"].native == "signed_data"
    assert signed_data["encap_content_info"]["content"].native is None
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    assert signer_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
    names = {a["type"].native for a in signer_info["signed_attrs"]}
    assert names == {"content_type", "message_digest", "signing_time"}
    assert len(signed_data["certificates"]) == 2


def test_signing_is_deterministic_apart_from_the_ecdsa_nonce(signer: FileSigner) -> None:
    first = cms.ContentInfo.load(_sign(signer))["content"]["signer_infos"][0]
    second = cms.ContentInfo.load(_sign(signer))["content"]["signer_infos"][0]
    assert first["signed_attrs"].dump() == second["signed_attrs"].dump()


@requires_openssl
def test_stock_openssl_verifies_our_signature(
    tmp_path: Path, pki: DevPki, signer: FileSigner, openssl: RunOpenssl
) -> None:
    (tmp_path / "payload").write_bytes(CONTENT)
    (tmp_path / "sig.der").write_bytes(_sign(signer))

    result = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "sig.der"),
        "-content", str(tmp_path / "payload"), "-CAfile", str(pki.root_path),
        "-purpose", "any", "-out", "/dev/null", check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr.decode()
    assert b"Verification successful" in result.stderr


@requires_openssl
def test_stock_openssl_rejects_our_signature_over_other_bytes(
    tmp_path: Path, pki: DevPki, signer: FileSigner, openssl: RunOpenssl
) -> None:
    (tmp_path / "payload").write_bytes(CONTENT + b" ")
    (tmp_path / "sig.der").write_bytes(_sign(signer))

    result = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "sig.der"),
        "-content", str(tmp_path / "payload"), "-CAfile", str(pki.root_path),
        "-purpose", "any", "-out", "/dev/null", check=False,
    )  # fmt: skip

    assert result.returncode != 0


@requires_openssl
@pytest.mark.parametrize("form", ["DER", "PEM"])
@pytest.mark.parametrize("keyid", [False, True], ids=["issuer-serial", "subject-key-id"])
def test_we_verify_what_stock_openssl_signs(
    tmp_path: Path, pki: DevPki, openssl: RunOpenssl, form: str, keyid: bool
) -> None:
    payload, signature = tmp_path / "payload", tmp_path / "sig"
    payload.write_bytes(CONTENT)
    openssl(
        "cms", "-sign", "-binary", "-outform", form, "-md", "sha256",
        "-signer", str(pki.signer_path), "-inkey", str(pki.key_path),
        "-certfile", str(pki.issuing_ca_path), "-in", str(payload), "-out", str(signature),
        *(["-keyid"] if keyid else []),
    )  # fmt: skip

    verified = verify_detached(
        CONTENT, signature.read_bytes(), trust_roots=[pki.root.certificate], at=NOW
    )

    assert verified.signer == pki.signer.certificate


@requires_openssl
def test_an_attached_signature_is_refused(tmp_path: Path, pki: DevPki, openssl: RunOpenssl) -> None:
    payload, signature = tmp_path / "payload", tmp_path / "sig"
    payload.write_bytes(CONTENT)
    openssl(
        "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-md", "sha256",
        "-signer", str(pki.signer_path), "-inkey", str(pki.key_path),
        "-in", str(payload), "-out", str(signature),
    )  # fmt: skip

    with pytest.raises(MalformedSignatureError, match="detached"):
        verify_detached(CONTENT, signature.read_bytes(), trust_roots=[pki.root.certificate], at=NOW)


def test_tampered_content_is_refused(pki: DevPki, signer: FileSigner) -> None:
    signature = _sign(signer)
    with pytest.raises(BadSignatureError, match="digest"):
        verify_detached(
            CONTENT.replace(b"1", b"2"), signature, trust_roots=[pki.root.certificate], at=NOW
        )


def test_tampered_signature_value_is_refused(pki: DevPki, signer: FileSigner) -> None:
    info = cms.ContentInfo.load(_sign(signer))
    signer_info = info["content"]["signer_infos"][0]
    value = bytearray(signer_info["signature"].native)
    value[-1] ^= 0x01
    signer_info["signature"] = bytes(value)
    tampered = info.dump(force=True)

    with pytest.raises(SignatureError):
        verify_detached(CONTENT, tampered, trust_roots=[pki.root.certificate], at=NOW)


def test_signature_bytes_flipped_anywhere_never_verify(pki: DevPki, signer: FileSigner) -> None:
    signature = _sign(signer)
    for position in range(0, len(signature), 7):
        tampered = bytearray(signature)
        tampered[position] ^= 0x5A
        try:
            verify_detached(CONTENT, bytes(tampered), trust_roots=[pki.root.certificate], at=NOW)
        except SignatureError:
            continue
        # A flip inside an unsigned, unchecked field (e.g. an embedded CA certificate's
        # padding) could in theory survive; it must then still be a correct signature.
        pytest.fail(f"a flipped byte at {position} was accepted")


def test_tampered_signed_attributes_are_refused(pki: DevPki, signer: FileSigner) -> None:
    other_signature = sign_detached(b"other content", signer, signing_time=NOW)
    info = cms.ContentInfo.load(_sign(signer))
    other = cms.ContentInfo.load(other_signature)
    # Graft the digest of the signed content onto another signature: the attributes no
    # longer match their signature.
    info["content"]["signer_infos"][0]["signature"] = other["content"]["signer_infos"][0][
        "signature"
    ].native
    with pytest.raises(BadSignatureError, match="not valid"):
        verify_detached(CONTENT, info.dump(force=True), trust_roots=[pki.root.certificate], at=NOW)


@pytest.mark.parametrize("garbage", [b"", b"not a signature", b"\x30\x03\x02\x01\x01"])
def test_garbage_is_malformed(pki: DevPki, garbage: bytes) -> None:
    with pytest.raises(MalformedSignatureError):
        verify_detached(CONTENT, garbage, trust_roots=[pki.root.certificate], at=NOW)


def test_untrusted_root_is_refused(other_pki: DevPki, signer: FileSigner) -> None:
    # Same names as the signing PKI, different keys: only the signatures tell them apart.
    with pytest.raises(UntrustedChainError, match="trusted root"):
        verify_detached(CONTENT, _sign(signer), trust_roots=[other_pki.root.certificate], at=NOW)


def test_no_trust_roots_trusts_nothing(signer: FileSigner) -> None:
    with pytest.raises(UntrustedChainError):
        verify_detached(CONTENT, _sign(signer), trust_roots=[], at=NOW)


def test_missing_issuing_ca_is_untrusted(pki: DevPki) -> None:
    lone = signer_for(pki.signer)  # embeds only the signer's certificate
    with pytest.raises(UntrustedChainError):
        verify_detached(CONTENT, _sign(lone), trust_roots=[pki.root.certificate], at=NOW)


def test_issuing_ca_given_as_trust_root_is_enough(pki: DevPki) -> None:
    lone = signer_for(pki.signer)
    verified = verify_detached(
        CONTENT, _sign(lone), trust_roots=[pki.issuing_ca.certificate], at=NOW
    )
    assert verified.chain[-1] == pki.issuing_ca.certificate


def test_missing_signer_certificate_is_malformed(pki: DevPki) -> None:
    no_certs = signer_for(pki.signer)
    empty = type(no_certs)(
        certificate=no_certs.certificate, chain=(), private_key=no_certs.private_key
    )
    with pytest.raises(MalformedSignatureError, match="embed"):
        verify_detached(CONTENT, _sign(empty), trust_roots=[pki.root.certificate], at=NOW)


def test_issuer_that_is_not_a_ca_is_refused(pki: DevPki) -> None:
    fake_ca = leaf_from(pki, "Not a CA")
    leaf = issue_certificate(
        "Leaf", issuer=fake_ca, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(1)
    )
    with pytest.raises(UntrustedChainError, match="not a CA"):
        verify_detached(
            CONTENT,
            _sign(signer_for(leaf, fake_ca, pki.issuing_ca)),
            trust_roots=[pki.root.certificate],
            at=NOW,
        )


def test_path_length_constraint_is_enforced(pki: DevPki) -> None:
    # The dev issuing CA has pathLen 0: it may not issue another CA that issues signers.
    sub_ca = leaf_from(pki, "Sub CA", ca=True)
    leaf = issue_certificate(
        "Leaf", issuer=sub_ca, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(1)
    )
    with pytest.raises(UntrustedChainError, match="allows 0"):
        verify_detached(
            CONTENT,
            _sign(signer_for(leaf, sub_ca, pki.issuing_ca)),
            trust_roots=[pki.root.certificate],
            at=NOW,
        )


def test_signer_not_yet_valid_is_refused(pki: DevPki, signer: FileSigner) -> None:
    with pytest.raises(SignerNotValidError, match="not yet valid"):
        verify_detached(
            CONTENT, _sign(signer), trust_roots=[pki.root.certificate], at=NOW - timedelta(days=90)
        )


def test_expired_signer_is_refused(pki: DevPki) -> None:
    expired = leaf_from(pki, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1))
    signature = _sign(signer_for(expired, pki.issuing_ca))
    with pytest.raises(SignerNotValidError, match="expired"):
        verify_detached(CONTENT, signature, trust_roots=[pki.root.certificate], at=NOW)
    # ...though it was fine while it was valid.
    verify_detached(
        CONTENT, signature, trust_roots=[pki.root.certificate], at=NOW - timedelta(days=2)
    )


def test_signer_without_digital_signature_is_refused(pki: DevPki) -> None:
    no_ds = leaf_from(pki, digital_signature=False)
    with pytest.raises(KeyUsageError, match="digitalSignature"):
        verify_detached(
            CONTENT,
            _sign(signer_for(no_ds, pki.issuing_ca)),
            trust_roots=[pki.root.certificate],
            at=NOW,
        )


def test_signer_without_key_usage_is_refused(pki: DevPki) -> None:
    no_ku = leaf_from(pki, key_usage=False)
    with pytest.raises(KeyUsageError, match="no keyUsage"):
        verify_detached(
            CONTENT,
            _sign(signer_for(no_ku, pki.issuing_ca)),
            trust_roots=[pki.root.certificate],
            at=NOW,
        )


def test_naive_times_are_refused(pki: DevPki, signer: FileSigner) -> None:
    with pytest.raises(ValueError, match="aware"):
        sign_detached(CONTENT, signer, signing_time=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="aware"):
        verify_detached(
            CONTENT, _sign(signer), trust_roots=[pki.root.certificate], at=NOW.replace(tzinfo=None)
        )


def test_a_digest_given_by_the_caller_is_the_one_signed(pki: DevPki, signer: FileSigner) -> None:
    roots = [pki.root.certificate]
    given = sign_detached(
        CONTENT, signer, signing_time=NOW, content_digest=hashlib.sha256(CONTENT).digest()
    )
    assert verify_detached(CONTENT, given, trust_roots=roots, at=NOW).signing_time == NOW
    other = sign_detached(
        CONTENT, signer, signing_time=NOW, content_digest=hashlib.sha256(b"other").digest()
    )
    with pytest.raises(SignatureError):
        verify_detached(CONTENT, other, trust_roots=roots, at=NOW)
