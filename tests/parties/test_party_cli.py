"""`cpl-service party add` and `party add-certificate` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from cpl_service.config import Settings
from cpl_service.signing.devpki import init_dev_pki
from tests.conftest import auth
from tests.test_cli import cli


def test_party_add_prints_the_token_last_and_it_works(
    settings: Settings, client: TestClient
) -> None:
    done = cli(
        settings,
        "party",
        "add",
        "--name",
        "Acme Meters",
        "--role",
        "manufacturer",
        "--email",
        "cpl@acme.example",
        "--email",
        "ops@acme.example",
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("cpl_") and len(token) > 40
    response = client.get("/api/v1/submissions", headers=auth(token))
    assert response.status_code == 200
    if settings.database_url is None:  # the token itself is never stored, only its hash
        for stored in settings.data_dir.glob("cpl.sqlite3*"):
            assert token.encode() not in stored.read_bytes()


def test_party_add_refuses_bad_input(settings: Settings) -> None:
    ok = cli(
        settings,
        "party",
        "add",
        "--name",
        "SECAS",
        "--role",
        "secas",
        "--email",
        "secas@example.com",
    )
    assert ok.returncode == 0
    again = cli(
        settings,
        "party",
        "add",
        "--name",
        "SECAS",
        "--role",
        "secas",
        "--email",
        "secas@example.com",
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    bad_email = cli(settings, "party", "add", "--name", "X", "--role", "dcc", "--email", "nope")
    assert bad_email.returncode == 2 and "not a valid email" in bad_email.stderr
    bad_role = cli(
        settings, "party", "add", "--name", "Y", "--role", "ihd", "--email", "a@b.example"
    )
    assert bad_role.returncode == 2


def test_party_add_certificate(settings: Settings, tmp_path: Path) -> None:
    cli(
        settings,
        "party",
        "add",
        "--name",
        "Acme",
        "--role",
        "manufacturer",
        "--email",
        "cpl@acme.example",
    )
    pki = init_dev_pki(tmp_path / "pki")
    done = cli(settings, "party", "add-certificate", "--party", "Acme", str(pki.signer_path))
    assert done.returncode == 0, done.stderr
    assert "registered certificate" in done.stdout
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    refused = cli(settings, "party", "add-certificate", "--party", "Acme", str(junk))
    assert refused.returncode == 2 and refused.stderr.startswith("error:")
    unknown = cli(settings, "party", "add-certificate", "--party", "Nobody", str(pki.signer_path))
    assert unknown.returncode == 2 and "no party" in unknown.stderr
