"""Signed submissions: the signer must be one of the party's registered certificates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from cpl_service.signing.cms import sign_detached
from cpl_service.signing.devpki import DevPki, issue_certificate
from cpl_service.signing.errors import (
    BadSignatureError,
    KeyUsageError,
    MalformedSignatureError,
    SignerNotValidError,
    UnregisteredSignerError,
)
from cpl_service.signing.verify import verify_with_registered
from tests.signing.conftest import NOW, RunOpenssl, leaf_from, requires_openssl, signer_for

WORKBOOK = b"PK\x03\x04 pretend this is an .xlsx"


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
@pytest.mark.parametrize("form", ["der", "pem"])
def test_registered_certificate_is_accepted(pki: DevPki, key_type: str, form: str) -> None:
    manufacturer = leaf_from(pki, "Acme Meters signing", key_type=key_type)
    signature = sign_detached(WORKBOOK, signer_for(manufacturer), signing_time=NOW)
    if form == "pem":
        signature = pem.armor("CMS", signature)

    used = verify_with_registered(
        WORKBOOK, signature, registered=[pki.signer.certificate, manufacturer.certificate], at=NOW
    )

    assert used == manufacturer.certificate


def test_self_signed_registered_certificate_is_accepted() -> None:
    own = issue_certificate(
        "Acme self-signed", issuer=None, not_before=NOW - timedelta(1), not_after=NOW + timedelta(9)
    )
    signature = sign_detached(WORKBOOK, signer_for(own), signing_time=NOW)
    assert verify_with_registered(WORKBOOK, signature, registered=[own.certificate], at=NOW)


def test_unregistered_certificate_is_refused(pki: DevPki) -> None:
    registered = leaf_from(pki, "Registered")
    stranger = leaf_from(pki, "Stranger")
    signature = sign_detached(WORKBOOK, signer_for(stranger), signing_time=NOW)

    with pytest.raises(UnregisteredSignerError) as caught:
        verify_with_registered(WORKBOOK, signature, registered=[registered.certificate], at=NOW)

    assert "not registered to your party" in caught.value.detail
    assert "cpl-service party add-certificate" in caught.value.detail
    assert "CN=Stranger" in caught.value.detail


def test_nothing_registered_refuses_everything(pki: DevPki) -> None:
    signature = sign_detached(WORKBOOK, signer_for(pki.signer), signing_time=NOW)
    with pytest.raises(UnregisteredSignerError):
        verify_with_registered(WORKBOOK, signature, registered=[], at=NOW)


def test_impostor_with_same_issuer_and_serial_is_refused(pki: DevPki, other_pki: DevPki) -> None:
    # An attacker's certificate claiming the registered one's issuer and serial number:
    # the registered certificate's key decides, and it did not make this signature.
    registered = pki.signer.certificate
    impostor = issue_certificate(
        "Impostor", issuer=other_pki.issuing_ca, not_before=NOW - timedelta(1), not_after=NOW
    )
    signature = sign_detached(WORKBOOK, signer_for(impostor), signing_time=NOW)
    info = cms.ContentInfo.load(signature)
    sid = info["content"]["signer_infos"][0]["sid"].chosen
    real = asn1_x509.Certificate.load(registered.public_bytes(Encoding.DER))
    sid["issuer"] = real.issuer
    sid["serial_number"] = real.serial_number
    forged = info.dump(force=True)

    with pytest.raises(BadSignatureError, match="not made with the key"):
        verify_with_registered(WORKBOOK, forged, registered=[registered], at=NOW)


def test_modified_workbook_is_refused(pki: DevPki) -> None:
    manufacturer = leaf_from(pki)
    signature = sign_detached(WORKBOOK, signer_for(manufacturer), signing_time=NOW)

    with pytest.raises(BadSignatureError, match="does not match the uploaded workbook bytes"):
        verify_with_registered(
            WORKBOOK + b"\x00", signature, registered=[manufacturer.certificate], at=NOW
        )


def test_expired_registered_certificate_is_refused(pki: DevPki) -> None:
    old = leaf_from(pki, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1))
    signature = sign_detached(WORKBOOK, signer_for(old), signing_time=NOW)
    with pytest.raises(SignerNotValidError, match="expired"):
        verify_with_registered(WORKBOOK, signature, registered=[old.certificate], at=NOW)


def test_certificate_that_may_not_sign_is_refused(pki: DevPki) -> None:
    no_ds = leaf_from(pki, digital_signature=False)
    signature = sign_detached(WORKBOOK, signer_for(no_ds), signing_time=NOW)
    with pytest.raises(KeyUsageError):
        verify_with_registered(WORKBOOK, signature, registered=[no_ds.certificate], at=NOW)


def test_garbage_signature_is_malformed(pki: DevPki) -> None:
    with pytest.raises(MalformedSignatureError):
        verify_with_registered(
            WORKBOOK, b"-----BEGIN CMS-----\nxx", registered=[pki.signer.certificate], at=NOW
        )


@requires_openssl
@pytest.mark.parametrize("form", ["DER", "PEM"])
def test_openssl_rsa_signature_without_embedded_certificates(
    tmp_path: Path, pki: DevPki, openssl: RunOpenssl, form: str
) -> None:
    # What a manufacturer might run by hand: RSA key, and -nocerts (the certificate is
    # taken from the register).
    manufacturer = leaf_from(pki, "Acme RSA", key_type="rsa")
    (tmp_path / "m.pem").write_bytes(manufacturer.certificate.public_bytes(Encoding.PEM))
    (tmp_path / "m.key").write_bytes(
        manufacturer.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    (tmp_path / "wb.xlsx").write_bytes(WORKBOOK)
    openssl(
        "cms", "-sign", "-binary", "-nocerts", "-outform", form, "-md", "sha256",
        "-signer", str(tmp_path / "m.pem"), "-inkey", str(tmp_path / "m.key"),
        "-in", str(tmp_path / "wb.xlsx"), "-out", str(tmp_path / "wb.sig"),
    )  # fmt: skip

    used = verify_with_registered(
        WORKBOOK, (tmp_path / "wb.sig").read_bytes(), registered=[manufacturer.certificate], at=NOW
    )
    assert used == manufacturer.certificate
