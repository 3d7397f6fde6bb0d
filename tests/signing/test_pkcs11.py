"""The signing key inside a real SoftHSM2 token: configuration, start-up checks, and
extracts signed through it that stock OpenSSL and GnuTLS verify."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import pkcs11
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pkcs11 import Attribute, ObjectClass

from cpl_service.cli import main as cli_main
from cpl_service.config import Settings
from cpl_service.extracts.verify import verify_extract
from cpl_service.signing.certificates import certificate_pem
from cpl_service.signing.cms import sign_detached
from cpl_service.signing.config import load_configured_signer, signer_from_settings
from cpl_service.signing.devpki import DOCUMENT_SIGNING, DevPki, certify_public_key, dev_name
from cpl_service.signing.devtoken import DevTokenPki, init_dev_token_pki
from cpl_service.signing.errors import SigningConfigError
from cpl_service.signing.pkcs11 import (
    Pkcs11Signer,
    Pkcs11Uri,
    generate_p256_key,
    parse_pkcs11_uri,
    resolve_pin,
)
from tests.conftest import MakeParty, auth
from tests.server import running_server
from tests.signing.conftest import NOW, make_extract, payload_of
from tests.softhsm import INSTALL, PIN, TOKEN, SoftHsm, require_tool, softhsm_module

URI = f"pkcs11:token={TOKEN};object=cpl-dev-signer"

# ------------------------------------------------------------------- the URI, as a rule


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("pkcs11:token=CPL;object=signer", Pkcs11Uri(token="CPL", object="signer")),
        (
            "pkcs11:token=My%20HSM;id=%01%a2;type=private",
            Pkcs11Uri(token="My HSM", id=b"\x01\xa2"),
        ),
        (
            "pkcs11:object=k?pin-source=file:/run/secrets/pin",
            Pkcs11Uri(object="k", pin_source=Path("/run/secrets/pin")),
        ),
        (
            "pkcs11:object=k?pin-source=file:///run/pin&module-path=/usr/lib/x.so",
            Pkcs11Uri(object="k", pin_source=Path("/run/pin"), module_path=Path("/usr/lib/x.so")),
        ),
        (
            "pkcs11:object=k;serial=42;manufacturer=SoftHSM;slot-id=3?pin-source=/etc/pin",
            Pkcs11Uri(object="k", serial="42", manufacturer="SoftHSM", pin_source=Path("/etc/pin")),
        ),
        ("PKCS11:object=k?pin-value=1234", Pkcs11Uri(object="k", pin_value="1234")),
    ],
)
def test_uri_parses(uri: str, expected: Pkcs11Uri) -> None:
    assert parse_pkcs11_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("/etc/key.pem", "not a pkcs11: URI"),
        ("pkcs11:token=CPL", "names no key"),
        ("pkcs11:token=CPL;object=a;object=b", "object twice"),
        ("pkcs11:token=CPL;objekt=a", "unknown or malformed attribute"),
        ("pkcs11:token=CPL;object", "unknown or malformed attribute"),
        ("pkcs11:object=a;type=cert", "type=private"),
        ("pkcs11:object=a?pin-source=https://example.com/pin", "not a file"),
        ("pkcs11:object=a?pin-source=file://other-host/pin", "another host"),
        ("pkcs11:object=a?pin-source=/p&pin-value=1", "both pin-source and pin-value"),
    ],
)
def test_bad_uri_is_refused(uri: str, message: str) -> None:
    with pytest.raises(SigningConfigError, match=message):
        parse_pkcs11_uri(uri)


def test_uri_errors_do_not_echo_values() -> None:
    with pytest.raises(SigningConfigError) as refused:
        parse_pkcs11_uri("pkcs11:object=k?pin-valu=s3cret")
    assert "pin-valu" in refused.value.detail and "s3cret" not in refused.value.detail


def test_missing_softhsm_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(pytest.fail.Exception, match=re.escape(INSTALL)):
        softhsm_module()
    with pytest.raises(pytest.fail.Exception, match="certtool is not installed"):
        require_tool("certtool")


def test_pin_comes_from_the_file_or_the_password_but_not_both(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("4321\n")
    from_file = parse_pkcs11_uri(f"pkcs11:object=k?pin-source=file:{pin_file}")
    assert resolve_pin(from_file, None) == "4321"
    assert resolve_pin(parse_pkcs11_uri("pkcs11:object=k"), "9876") == "9876"
    assert resolve_pin(parse_pkcs11_uri("pkcs11:object=k"), None) is None
    with pytest.raises(SigningConfigError, match="more than once"):
        resolve_pin(from_file, "9876")
    missing = parse_pkcs11_uri(f"pkcs11:object=k?pin-source=file:{tmp_path / 'nope'}")
    with pytest.raises(SigningConfigError, match="Cannot read the PKCS#11 PIN file"):
        resolve_pin(missing, None)


# ------------------------------------------------------------ a development token PKI


@pytest.fixture
def token_pki(tmp_path: Path, softhsm: SoftHsm) -> DevTokenPki:
    return init_dev_token_pki(
        tmp_path / "token-pki",
        uri_text=f"pkcs11:token={TOKEN}",
        module=softhsm.module,
        pin=PIN,
        now=NOW - timedelta(days=60),
    )


def _load(pki: DevTokenPki, softhsm: SoftHsm, **kwargs: object) -> Pkcs11Signer:
    options: dict = {
        "key_path": pki.key_uri,
        "key_password": PIN,
        "chain_path": pki.chain_path,
        "data_dir": pki.directory,
        "now": NOW,
        "pkcs11_module": softhsm.module,
    }
    options.update(kwargs)
    signer = load_configured_signer(**options).signer  # type: ignore[arg-type]
    assert isinstance(signer, Pkcs11Signer)
    return signer


def test_init_dev_pkcs11_generates_the_key_inside_the_token(
    tmp_path: Path,
    softhsm: SoftHsm,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN)
    target = tmp_path / "dev"
    module = ["--pkcs11-module", str(softhsm.module)]
    code = cli_main(
        ["pki", "init-dev", str(target), *module, "--pkcs11",
         f"pkcs11:token={TOKEN}?pin-source={pin_file}"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in target.iterdir()) == [
        "chain.pem",
        "issuing-ca.pem",
        "root.pem",
        "signer.pem",
    ]
    assert "DEVELOPMENT ONLY" in out and f"pkcs11:token={TOKEN};object=cpl-dev-signer" in out
    token = pkcs11.lib(str(softhsm.module)).get_token(token_label=TOKEN)
    with token.open(user_pin=PIN) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="cpl-dev-signer")
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[Attribute.VALUE]
    # A second run must not make a second key with the same label.
    assert cli_main(["pki", "init-dev", str(tmp_path / "again"), *module, "--pkcs11", URI]) == 2
    assert "already holds an object" in capsys.readouterr().err


def test_extract_signed_in_the_token_verifies_with_openssl_gnutls_and_ours(
    tmp_path: Path,
    token_pki: DevTokenPki,
    softhsm: SoftHsm,
) -> None:
    openssl, certtool = require_tool("openssl"), require_tool("certtool")
    signer = _load(token_pki, softhsm)
    payload = payload_of(make_extract())
    signature = sign_detached(payload, signer, signing_time=NOW)
    signer.close()
    (tmp_path / "x.json").write_bytes(payload)
    (tmp_path / "x.p7s").write_bytes(signature)
    root = str(token_pki.root_path)

    stock = subprocess.run(
        [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "x.p7s"),
         "-content", str(tmp_path / "x.json"), "-CAfile", root, "-purpose", "any",
         "-out", "/dev/null"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert stock.returncode == 0, stock.stderr.decode()
    for purpose in ([], ["--verify-purpose", DOCUMENT_SIGNING.dotted_string]):
        gnutls = subprocess.run(
            [certtool, "--p7-verify", "--inder", "--infile", str(tmp_path / "x.p7s"),
             "--load-data", str(tmp_path / "x.json"), "--load-ca-certificate", root, *purpose],
            capture_output=True, timeout=60,
        )  # fmt: skip
        assert gnutls.returncode == 0, gnutls.stdout.decode() + gnutls.stderr.decode()
    assert verify_extract(payload, signature, roots=[token_pki.root.certificate])["sequence"] == 1

    # The same tools refuse it over other bytes, so the checks above can fail.
    (tmp_path / "x.json").write_bytes(payload + b" ")
    gnutls = subprocess.run(
        [certtool, "--p7-verify", "--inder", "--infile", str(tmp_path / "x.p7s"),
         "--load-data", str(tmp_path / "x.json"), "--load-ca-certificate", root],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert gnutls.returncode != 0


def test_signer_reconnects_after_its_session_is_gone(
    token_pki: DevTokenPki,
    softhsm: SoftHsm,
) -> None:
    signer = _load(token_pki, softhsm)
    signer.close()  # logs out and closes, as a token reset would
    payload = payload_of(make_extract())
    signature = sign_detached(payload, signer, signing_time=NOW)
    signer.close()
    assert verify_extract(payload, signature, roots=[token_pki.root.certificate])


def test_wrong_pin_is_refused(token_pki: DevTokenPki, softhsm: SoftHsm) -> None:
    with pytest.raises(SigningConfigError, match=r"PIN .* is wrong"):
        _load(token_pki, softhsm, key_password="0000")


def test_unknown_token_and_key_are_refused(
    token_pki: DevTokenPki,
    softhsm: SoftHsm,
) -> None:
    with pytest.raises(SigningConfigError, match="No PKCS#11 token matches"):
        _load(token_pki, softhsm, key_path="pkcs11:token=nope;object=cpl-dev-signer")
    with pytest.raises(SigningConfigError, match="No private key matches"):
        _load(token_pki, softhsm, key_path=f"pkcs11:token={TOKEN};object=other")


def test_module_and_chain_are_required(token_pki: DevTokenPki, softhsm: SoftHsm) -> None:
    with pytest.raises(SigningConfigError, match="CPL_PKCS11_MODULE"):
        _load(token_pki, softhsm, pkcs11_module=None)
    with pytest.raises(SigningConfigError, match="does not exist"):
        _load(token_pki, softhsm, pkcs11_module=Path("/nonexistent/libpkcs11.so"))
    with pytest.raises(SigningConfigError, match="set CPL_SIGNING_CHAIN"):
        _load(token_pki, softhsm, chain_path=None)


def test_key_not_matching_the_certificate_is_refused(
    token_pki: DevTokenPki,
    softhsm: SoftHsm,
    pki: DevPki,
) -> None:
    # A chain whose signer certificate is for another (file) key.
    with pytest.raises(SigningConfigError, match="does not match the signer certificate"):
        _load(token_pki, softhsm, chain_path=pki.chain_path)


def _token_certificate(
    tmp_path: Path,
    token_pki: DevTokenPki,
    softhsm: SoftHsm,
    label: str,
    not_after_days: int,
) -> tuple[str, Path]:
    public_key = generate_p256_key(
        module=softhsm.module, token_label=TOKEN, pin=PIN, label=label, key_id=label.encode()
    )
    certificate = certify_public_key(
        public_key,
        dev_name(label),
        issuer=token_pki.issuing_ca,
        not_before=NOW - timedelta(days=40),
        not_after=NOW + timedelta(days=not_after_days),
        extended_key_usage=[DOCUMENT_SIGNING],
    )
    chain = tmp_path / f"{label}.pem"
    chain.write_bytes(certificate_pem([certificate, token_pki.issuing_ca.certificate]))
    return f"pkcs11:token={TOKEN};object={label}", chain


def test_start_up_checks_apply_unchanged(
    tmp_path: Path,
    token_pki: DevTokenPki,
    softhsm: SoftHsm,
    caplog: pytest.LogCaptureFixture,
) -> None:
    expired_uri, expired_chain = _token_certificate(tmp_path, token_pki, softhsm, "expired", -1)
    with pytest.raises(SigningConfigError, match="expired"):
        _load(token_pki, softhsm, key_path=expired_uri, chain_path=expired_chain)
    soon_uri, soon_chain = _token_certificate(tmp_path, token_pki, softhsm, "soon", 10)
    with caplog.at_level(logging.WARNING):
        _load(token_pki, softhsm, key_path=soon_uri, chain_path=soon_chain).close()
    assert any("expires" in r.getMessage() and "renew" in r.getMessage() for r in caplog.records)


def test_settings_route_a_pkcs11_uri_to_the_token(
    tmp_path: Path,
    token_pki: DevTokenPki,
    softhsm: SoftHsm,
) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    settings = Settings(
        data_dir=tmp_path,
        signing_key=f"{token_pki.key_uri}?pin-source=file:{pin_file}",
        signing_chain=token_pki.chain_path,
        pkcs11_module=softhsm.module,
    )
    loaded = signer_from_settings(settings, now=NOW)
    assert isinstance(loaded.signer, Pkcs11Signer) and not loaded.development
    assert loaded.signer.certificate == token_pki.signer
    loaded.signer.close()


def test_server_publishes_extracts_signed_in_the_token(
    tmp_path: Path,
    settings: Settings,
    make_party: MakeParty,
    token_pki: DevTokenPki,
    softhsm: SoftHsm,
) -> None:
    openssl = require_tool("openssl")
    secas, dcc = make_party("secas")[1], make_party("dcc")[1]
    env = {
        **softhsm.env,
        "CPL_SIGNING_KEY": token_pki.key_uri,
        "CPL_SIGNING_KEY_PASSWORD": PIN,
        "CPL_SIGNING_CHAIN": str(token_pki.chain_path),
        "CPL_PKCS11_MODULE": str(softhsm.module),
    }
    with running_server(settings, tmp_path / "server.log", env=env) as base:
        published = httpx.post(f"{base}/api/v1/extracts", headers=auth(secas), timeout=30)
        assert published.status_code == 201, published.text
        payload = httpx.get(f"{base}/api/v1/extracts/1", headers=auth(dcc), timeout=30).content
        signature = httpx.get(
            f"{base}/api/v1/extracts/1/signature", headers=auth(dcc), timeout=30
        ).content
        chain = httpx.get(f"{base}/api/v1/signing/certificates", timeout=30).content
    assert chain == token_pki.chain_path.read_bytes()
    assert token_pki.signer.public_bytes(Encoding.PEM) in chain
    (tmp_path / "x.json").write_bytes(payload)
    (tmp_path / "x.p7s").write_bytes(signature)
    stock = subprocess.run(
        [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "x.p7s"),
         "-content", str(tmp_path / "x.json"), "-CAfile", str(token_pki.root_path),
         "-purpose", "any", "-out", "/dev/null"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert stock.returncode == 0, stock.stderr.decode()
