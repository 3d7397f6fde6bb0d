"""Certificate paths and the rules on their certificates, called directly."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from cpl_service.signing.certificates import certificate_name
from cpl_service.signing.chain import (
    MAX_CHAIN_LENGTH,
    build_chain,
    check_validity,
    require_digital_signature,
    require_signing_usage,
)
from cpl_service.signing.devpki import CertifiedKey, DevPki, issue_certificate
from cpl_service.signing.errors import KeyUsageError, SignerNotValidError, UntrustedChainError
from tests.signing.conftest import NOW, leaf_from

_NO_USAGE = dict.fromkeys(
    (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ),
    False,
)


def _leaf_with(issuer: CertifiedKey, *extensions: tuple[x509.ExtensionType, bool]) -> CertifiedKey:
    """An end-entity certificate from `issuer` carrying exactly `extensions`."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Odd Leaf")]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
    )
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return CertifiedKey(
        certificate=builder.sign(issuer.private_key, hashes.SHA256()), private_key=key
    )


def test_certificate_name_is_the_subject(pki: DevPki) -> None:
    assert certificate_name(pki.signer.certificate) == (
        "CN=CPL DEVELOPMENT ONLY Extract Signer,"
        "O=CPL Service DEVELOPMENT ONLY - not for production,C=GB"
    )


def test_certificate_name_of_an_empty_subject_is_the_serial(pki: DevPki) -> None:
    nameless = leaf_from(pki, subject=x509.Name([])).certificate
    assert certificate_name(nameless) == f"serial {nameless.serial_number:x}"


def test_chain_runs_from_signer_to_root(pki: DevPki) -> None:
    chain = build_chain(
        pki.signer.certificate,
        intermediates=[pki.root.certificate, pki.issuing_ca.certificate],
        trust_roots=[pki.root.certificate],
    )
    assert chain == (pki.signer.certificate, pki.issuing_ca.certificate, pki.root.certificate)


def test_a_trusted_signer_is_a_chain_of_one(pki: DevPki) -> None:
    chain = build_chain(
        pki.signer.certificate, intermediates=[], trust_roots=[pki.signer.certificate]
    )
    assert chain == (pki.signer.certificate,)


def test_unknown_critical_extension_is_untrusted(pki: DevPki) -> None:
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    odd = _leaf_with(pki.issuing_ca, (unknown, True))

    with pytest.raises(UntrustedChainError, match=r"critical extension \(1\.3\.6\.1\.4\.1\.55555"):
        build_chain(
            odd.certificate,
            intermediates=[pki.issuing_ca.certificate],
            trust_roots=[pki.root.certificate],
        )


def test_unknown_non_critical_extension_is_ignored(pki: DevPki) -> None:
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    odd = _leaf_with(pki.issuing_ca, (unknown, False))

    chain = build_chain(
        odd.certificate,
        intermediates=[pki.issuing_ca.certificate],
        trust_roots=[pki.root.certificate],
    )

    assert chain[-1] == pki.root.certificate


def test_chain_longer_than_the_limit_is_untrusted(pki: DevPki) -> None:
    issuer, intermediates = pki.root, []
    for depth in range(MAX_CHAIN_LENGTH):
        issuer = issue_certificate(
            f"CA {depth}",
            issuer=issuer,
            ca=True,
            not_before=NOW - timedelta(days=1),
            not_after=NOW + timedelta(days=1),
        )
        intermediates.append(issuer.certificate)
    leaf = issue_certificate(
        "Deep Leaf", issuer=issuer, not_before=NOW - timedelta(1), not_after=NOW + timedelta(1)
    )

    with pytest.raises(UntrustedChainError, match="does not chain to a trusted root"):
        build_chain(
            leaf.certificate, intermediates=intermediates, trust_roots=[pki.root.certificate]
        )
    # A path of exactly the limit, root included, is built.
    shorter = build_chain(
        intermediates[-2], intermediates=intermediates[:-2], trust_roots=[pki.root.certificate]
    )
    assert len(shorter) == MAX_CHAIN_LENGTH


def test_expired_issuing_certificate_is_named_as_such(pki: DevPki) -> None:
    issuing_end = pki.issuing_ca.certificate.not_valid_after_utc
    outliving = leaf_from(pki, not_after=issuing_end + timedelta(days=30))
    chain = [outliving.certificate, pki.issuing_ca.certificate]

    check_validity(chain, at=issuing_end)
    with pytest.raises(SignerNotValidError, match=r"the issuing certificate .* had expired"):
        check_validity(chain, at=issuing_end + timedelta(days=1))


def test_check_validity_bounds_are_inclusive(pki: DevPki) -> None:
    certificate = pki.signer.certificate
    check_validity([certificate], at=certificate.not_valid_before_utc)
    check_validity([certificate], at=certificate.not_valid_after_utc)
    with pytest.raises(SignerNotValidError, match="not yet valid"):
        check_validity([certificate], at=certificate.not_valid_before_utc - timedelta(seconds=1))
    with pytest.raises(SignerNotValidError, match="had expired"):
        check_validity([certificate], at=certificate.not_valid_after_utc + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("usage", "signing_ok", "digital_signature_ok"),
    [
        (None, True, False),
        ({"digital_signature": True}, True, True),
        ({"content_commitment": True}, True, False),
        ({"key_encipherment": True}, False, False),
    ],
    ids=["no-key-usage", "digital-signature", "non-repudiation", "encipherment-only"],
)
def test_key_usage_rules(
    pki: DevPki, usage: dict[str, bool] | None, signing_ok: bool, digital_signature_ok: bool
) -> None:
    extensions = [] if usage is None else [(x509.KeyUsage(**{**_NO_USAGE, **usage}), True)]
    certificate = _leaf_with(pki.issuing_ca, *extensions).certificate

    if signing_ok:
        require_signing_usage(certificate)
    else:
        with pytest.raises(KeyUsageError, match="neither digitalSignature nor nonRepudiation"):
            require_signing_usage(certificate)
    if digital_signature_ok:
        require_digital_signature(certificate)
    else:
        with pytest.raises(KeyUsageError, match="digitalSignature"):
            require_digital_signature(certificate)
