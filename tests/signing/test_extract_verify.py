"""Verifying extracts as the DCC does, one test per way an extract must be refused, and
the `extract verify` / `pki init-dev` commands."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from cpl_service.cli import main
from cpl_service.extracts.canonical import canonical_json
from cpl_service.extracts.verify import (
    REPOSITORY_SCHEMA,
    ExtractExpiredError,
    ExtractSchemaError,
    ExtractSequenceError,
    load_extract_schema,
    verify_extract,
)
from cpl_service.signing.cms import sign_detached
from cpl_service.signing.devpki import DevPki
from cpl_service.signing.errors import (
    BadSignatureError,
    KeyUsageError,
    SignerNotValidError,
    UntrustedChainError,
)
from cpl_service.signing.keys import FileSigner, Signer
from tests.signing.conftest import (
    NOW,
    leaf_from,
    make_entry,
    make_extract,
    payload_of,
    signer_for,
)


def _signed(signer: Signer, document: dict[str, Any]) -> tuple[bytes, bytes]:
    payload = payload_of(document)
    return payload, sign_detached(payload, signer, signing_time=NOW)


def _verify(pki: DevPki, payload: bytes, signature: bytes, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("at", NOW)
    return verify_extract(payload, signature, roots=[pki.root.certificate], **kwargs)


def test_valid_extract(pki: DevPki, signer: FileSigner) -> None:
    document = make_extract(sequence=3, entries=[make_entry(1), make_entry(2, status="Withdrawn",
                            panel_decision_ref="SECP_81_1906_12")])  # fmt: skip
    payload, signature = _signed(signer, document)

    assert _verify(pki, payload, signature, last_sequence=2) == document


def test_schema_files_are_identical() -> None:
    packaged = Path(__file__).resolve().parents[2] / "cpl_service/signing/schemas"
    assert (packaged / REPOSITORY_SCHEMA.name).read_bytes() == REPOSITORY_SCHEMA.read_bytes()
    assert load_extract_schema()["$schema"].endswith("2020-12/schema")


def test_tampered_payload(pki: DevPki, signer: FileSigner) -> None:
    payload, signature = _signed(signer, make_extract())
    with pytest.raises(BadSignatureError):
        _verify(pki, payload.replace(b'"Active"', b'"Expired"'), signature)


def test_tampered_signature(pki: DevPki, signer: FileSigner) -> None:
    payload, signature = _signed(signer, make_extract())
    _, other_signature = _signed(signer, make_extract(sequence=2))
    with pytest.raises(BadSignatureError):
        _verify(pki, payload, other_signature)
    tampered = bytearray(signature)
    tampered[-5] ^= 0xFF
    with pytest.raises(BadSignatureError):
        _verify(pki, payload, bytes(tampered))


def test_untrusted_root(other_pki: DevPki, signer: FileSigner) -> None:
    payload, signature = _signed(signer, make_extract())
    with pytest.raises(UntrustedChainError):
        _verify(other_pki, payload, signature)


def test_signer_not_valid_at_issued_at(pki: DevPki) -> None:
    later = leaf_from(pki, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30))
    payload, signature = _signed(
        signer_for(later, pki.issuing_ca), make_extract(issued_at=NOW - timedelta(days=3))
    )
    with pytest.raises(SignerNotValidError, match="not yet valid"):
        _verify(pki, payload, signature)


def test_signer_since_expired_is_judged_at_issued_at(pki: DevPki) -> None:
    # Valid when the extract was issued, expired now: the extract still verifies.
    since_expired = leaf_from(
        pki, not_before=NOW - timedelta(days=20), not_after=NOW - timedelta(days=1)
    )
    document = make_extract(issued_at=NOW - timedelta(days=5))
    payload, signature = _signed(signer_for(since_expired, pki.issuing_ca), document)
    assert _verify(pki, payload, signature) == document


def test_wrong_key_usage(pki: DevPki) -> None:
    no_ds = leaf_from(pki, digital_signature=False)
    payload, signature = _signed(signer_for(no_ds, pki.issuing_ca), make_extract())
    with pytest.raises(KeyUsageError):
        _verify(pki, payload, signature)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: d.pop("changes"), "'changes' is a required property"),
        (lambda d: d.update(format="cpl-extract/2"), "format"),
        (lambda d: d.update(sequence=0), "sequence"),
        (lambda d: d.update(issued_at="2026-01-01T00:00:00+01:00"), "issued_at"),
        (lambda d: d["entries"][0].update(status="active"), "status"),
        (lambda d: d["entries"][0].update(manufacturer_id="ab01"), "manufacturer_id"),
        (lambda d: d["entries"][0].update(physical_device_type="IHD"), "physical_device_type"),
        (lambda d: d["entries"][0].pop("smets1"), "'smets1' is a required property"),
        (lambda d: d["entries"][0].update(cpa_expiry_date="31/01/2030"), "cpa_expiry_date"),
        (lambda d: d.update(entry_count=2), "entry_count"),
        (lambda d: d.update(previous_sha256="A" * 64), "previous_sha256"),
        (lambda d: d["changes"].update(added=["CPL-999999"]), "not an entry"),
    ],
)
def test_schema_violation(pki: DevPki, signer: FileSigner, breakage: Any, message: str) -> None:
    document = make_extract()
    breakage(document)
    payload, signature = _signed(signer, document)
    with pytest.raises(ExtractSchemaError, match="schema violation") as caught:
        _verify(pki, payload, signature)
    assert message in caught.value.detail


def test_unsorted_entries_are_a_schema_violation(pki: DevPki, signer: FileSigner) -> None:
    document = make_extract(entries=[make_entry(2), make_entry(1)])
    payload, signature = _signed(signer, document)
    with pytest.raises(ExtractSchemaError, match="sorted"):
        _verify(pki, payload, signature)


@pytest.mark.parametrize(
    "payload", [b"not json", b'{"a":1,"a":2}', b'{"a":NaN}', b"\xff\xfe"], ids=str
)
def test_unparseable_payload_is_a_schema_violation(
    pki: DevPki, signer: FileSigner, payload: bytes
) -> None:
    signature = sign_detached(payload, signer, signing_time=NOW)
    with pytest.raises(ExtractSchemaError):
        _verify(pki, payload, signature)


def test_extra_fields_are_welcome(pki: DevPki, signer: FileSigner) -> None:
    document = make_extract(publisher="SECAS", entries=[make_entry(1, notes="more")])
    payload, signature = _signed(signer, document)
    assert _verify(pki, payload, signature)["publisher"] == "SECAS"


@pytest.mark.parametrize("last_sequence", [5, 6])
def test_sequence_not_above_last_sequence(
    pki: DevPki, signer: FileSigner, last_sequence: int
) -> None:
    payload, signature = _signed(signer, make_extract(sequence=5))
    with pytest.raises(ExtractSequenceError, match="not above the last loaded sequence"):
        _verify(pki, payload, signature, last_sequence=last_sequence)


def test_next_update_passed(pki: DevPki, signer: FileSigner) -> None:
    payload, signature = _signed(signer, make_extract(next_update=NOW + timedelta(days=1)))
    assert _verify(pki, payload, signature, at=NOW + timedelta(hours=23))
    with pytest.raises(ExtractExpiredError, match="has passed"):
        _verify(pki, payload, signature, at=NOW + timedelta(days=1, seconds=1))


# ------------------------------------------------------------------------------ CLI


def _files(tmp_path: Path, signer: Signer, document: dict[str, Any]) -> tuple[str, str]:
    payload, signature = _signed(signer, document)
    (tmp_path / "extract.json").write_bytes(payload)
    (tmp_path / "extract.sig").write_bytes(signature)
    return str(tmp_path / "extract.json"), str(tmp_path / "extract.sig")


def test_cli_ok(
    tmp_path: Path, pki: DevPki, signer: FileSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    payload, signature = _files(tmp_path, signer, make_extract(sequence=4))

    code = main(["extract", "verify", payload, signature, "--ca", str(pki.root_path),
                 "--last-sequence", "3"])  # fmt: skip

    assert code == 0
    assert capsys.readouterr().out.startswith("OK: extract 4 verified")


@pytest.mark.parametrize(
    ("setup", "extra", "reason"),
    [
        ("tamper", [], "does not match"),
        ("other-root", [], "not trusted"),
        ("sequence", ["--last-sequence", "7"], "not above the last loaded sequence 7"),
        ("schema", [], "schema violation"),
        ("stale", ["--at", "2999-01-01"], "next_update"),
        ("stale", ["--at", "2999-01-01T00:00:00Z"], "has passed"),
    ],
)
def test_cli_failures(
    tmp_path: Path,
    pki: DevPki,
    other_pki: DevPki,
    signer: FileSigner,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    extra: list[str],
    reason: str,
) -> None:
    document = make_extract(sequence=7)
    if setup == "schema":
        document["entries"][0]["status"] = "Live"
    payload, signature = _files(tmp_path, signer, document)
    if setup == "tamper":
        Path(payload).write_bytes(Path(payload).read_bytes().replace(b"Acme", b"Acne"))
    root = other_pki.root_path if setup == "other-root" else pki.root_path

    code = main(["extract", "verify", payload, signature, "--ca", str(root), *extra])

    out = capsys.readouterr()
    assert code == 1
    assert out.out == ""
    assert out.err.startswith("FAILED: ")
    assert reason in out.err


def test_cli_signer_not_valid_at_issued_at(
    tmp_path: Path, pki: DevPki, capsys: pytest.CaptureFixture[str]
) -> None:
    later = leaf_from(pki, not_before=NOW - timedelta(days=1))
    document = make_extract(issued_at=NOW - timedelta(days=2))
    payload, signature = _files(tmp_path, signer_for(later, pki.issuing_ca), document)

    code = main(["extract", "verify", payload, signature, "--ca", str(pki.root_path)])

    assert code == 1
    assert "not yet valid" in capsys.readouterr().err


def test_cli_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope")
    assert main(["extract", "verify", missing, missing, "--ca", missing]) == 1
    assert "cannot read the payload" in capsys.readouterr().err


def test_cli_bad_at_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["extract", "verify", "p", "s", "--ca", "r", "--at", "yesterday"])
    assert caught.value.code == 2


def test_cli_pki_init_dev(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "dev"

    assert main(["pki", "init-dev", str(directory)]) == 0

    out = capsys.readouterr().out
    assert "DEVELOPMENT ONLY" in out and "NOT FOR PRODUCTION" in out
    for name in ("root.pem", "issuing-ca.pem", "signer.pem", "signer.key", "chain.pem"):
        assert (directory / name).is_file()
        assert str(directory / name) in out
    assert (directory / "signer.key").stat().st_mode & 0o777 == 0o600
    # The new PKI signs extracts that verify against its root.
    from cpl_service.signing.keys import load_file_signer

    dev_signer = load_file_signer(directory / "signer.key", chain_path=directory / "chain.pem")
    payload, signature = _files(tmp_path, dev_signer, make_extract(issued_at=NOW))
    assert main(["extract", "verify", payload, signature, "--ca",
                 str(directory / "root.pem")]) == 0  # fmt: skip
    # Refuses to overwrite.
    assert main(["pki", "init-dev", str(directory)]) != 0


def test_canonical_payload_round_trips(signer: FileSigner, pki: DevPki) -> None:
    document = make_extract()
    payload, _signature = _signed(signer, document)
    assert canonical_json(json.loads(payload)) == payload


def test_packaged_schema_is_used_without_a_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import cpl_service.extracts.verify as verify_module

    monkeypatch.setattr(verify_module, "REPOSITORY_SCHEMA", tmp_path / "absent.json")
    load_extract_schema.cache_clear()
    try:
        assert load_extract_schema()["properties"]["format"] == {"const": "cpl-extract/1"}
    finally:
        load_extract_schema.cache_clear()


def test_hazmat_is_imported_only_by_the_signing_package() -> None:
    package = Path(__file__).resolve().parents[2] / "cpl_service"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "cryptography.hazmat" in path.read_text(encoding="utf-8")
        and path.parent.name != "signing"
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("purposes", "accepted"),
    [
        (None, True),
        (["1.3.6.1.5.5.7.3.36"], True),  # id-kp-documentSigning
        (["1.3.6.1.5.5.7.3.4"], True),  # emailProtection
        (["2.5.29.37.0"], True),  # anyExtendedKeyUsage
        (["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.36"], True),
        (["1.3.6.1.5.5.7.3.1"], False),  # serverAuth only
        (["1.3.6.1.5.5.7.3.3"], False),  # codeSigning only
    ],
)
def test_signer_extended_key_usage(pki: DevPki, purposes: list[str] | None, accepted: bool) -> None:
    oids = [x509.ObjectIdentifier(p) for p in purposes] if purposes else None
    leaf = leaf_from(pki, extended_key_usage=oids)
    payload, signature = _signed(signer_for(leaf, pki.issuing_ca), make_extract())
    if accepted:
        assert _verify(pki, payload, signature)["sequence"] == 1
    else:
        with pytest.raises(KeyUsageError, match="not for signing documents"):
            _verify(pki, payload, signature)
