"""The certificate and CMS profile: what the development PKI and the signatures carry."""

from __future__ import annotations

import subprocess
from pathlib import Path

from asn1crypto import cms
from cryptography import x509

from cpl_service.signing.cms import sign_detached
from cpl_service.signing.devpki import DOCUMENT_SIGNING, DevPki
from cpl_service.signing.keys import FileSigner
from tests.signing.conftest import NOW, make_extract, payload_of
from tests.softhsm import require_tool

# AlgorithmIdentifier { id-sha256 } with parameters absent (RFC 5754 §2), as DER.
SHA256_WITHOUT_PARAMETERS = bytes.fromhex("300b0609608648016503040201")


def _usage(certificate: x509.Certificate) -> x509.KeyUsage:
    return certificate.extensions.get_extension_for_class(x509.KeyUsage).value


def test_dev_signer_is_for_document_signing(pki: DevPki) -> None:
    certificate = pki.signer.certificate
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [DOCUMENT_SIGNING]
    assert DOCUMENT_SIGNING.dotted_string == "1.3.6.1.5.5.7.3.36"
    assert _usage(certificate).digital_signature
    assert not _usage(certificate).key_cert_sign


def test_dev_cas_do_not_carry_digital_signature(pki: DevPki) -> None:
    for ca in (pki.root.certificate, pki.issuing_ca.certificate):
        usage = _usage(ca)
        assert not usage.digital_signature
        assert usage.key_cert_sign and usage.crl_sign


def test_sha256_identifiers_omit_parameters(signer: FileSigner) -> None:
    signature = sign_detached(b"content", signer, signing_time=NOW)
    signed_data = cms.ContentInfo.load(signature)["content"]
    identifiers = [
        *signed_data["digest_algorithms"],
        signed_data["signer_infos"][0]["digest_algorithm"],
    ]
    assert [a.dump() for a in identifiers] == [SHA256_WITHOUT_PARAMETERS] * 2


def test_openssl_and_gnutls_verify_the_file_signer(
    tmp_path: Path, pki: DevPki, signer: FileSigner
) -> None:
    openssl, certtool = require_tool("openssl"), require_tool("certtool")
    payload = payload_of(make_extract())
    (tmp_path / "x.json").write_bytes(payload)
    (tmp_path / "x.p7s").write_bytes(sign_detached(payload, signer, signing_time=NOW))
    stock = subprocess.run(
        [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "x.p7s"),
         "-content", str(tmp_path / "x.json"), "-CAfile", str(pki.root_path), "-purpose", "any",
         "-out", "/dev/null"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert stock.returncode == 0, stock.stderr.decode()
    for purpose in ([], ["--verify-purpose", DOCUMENT_SIGNING.dotted_string]):
        gnutls = subprocess.run(
            [certtool, "--p7-verify", "--inder", "--infile", str(tmp_path / "x.p7s"),
             "--load-data", str(tmp_path / "x.json"), "--load-ca-certificate", str(pki.root_path),
             *purpose],
            capture_output=True, timeout=60,
        )  # fmt: skip
        assert gnutls.returncode == 0, gnutls.stdout.decode() + gnutls.stderr.decode()
    # GnuTLS does check the purpose: code signing is not what the certificate is for.
    code_signing = subprocess.run(
        [certtool, "--p7-verify", "--inder", "--infile", str(tmp_path / "x.p7s"),
         "--load-data", str(tmp_path / "x.json"), "--load-ca-certificate", str(pki.root_path),
         "--verify-purpose", "1.3.6.1.5.5.7.3.3"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert code_signing.returncode != 0
