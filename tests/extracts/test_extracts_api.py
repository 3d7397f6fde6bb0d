"""Publishing and serving signed extracts over HTTP, verified with stock OpenSSL."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from cpl_service.cli import main as cli_main
from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.extracts.models import DccStatus, Extract
from cpl_service.extracts.service import acknowledged_by, dcc_status, store_gzip
from tests.conftest import MakeParty, MakePerson, auth, sign_in
from tests.factories import make_entry

API = "/api/v1"
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "schemas" / "cpl-extract.v1.schema.json").read_text()
)


@pytest.fixture
def tokens(make_party: MakeParty) -> dict[str, str]:
    return {role: make_party(role)[1] for role in ("secas", "dcc", "manufacturer", "supplier")}


def publish(client: TestClient, token: str) -> dict:
    response = client.post(f"{API}/extracts", headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()


def fetch(client: TestClient, token: str, sequence: int, tmp_path: Path) -> tuple[Path, Path]:
    payload = client.get(f"{API}/extracts/{sequence}", headers=auth(token))
    signature = client.get(f"{API}/extracts/{sequence}/signature", headers=auth(token))
    assert payload.status_code == 200 and signature.status_code == 200
    assert signature.headers["content-type"] == "application/pkcs7-signature"
    paths = tmp_path / f"cpl-{sequence}.json", tmp_path / f"cpl-{sequence}.p7s"
    paths[0].write_bytes(payload.content)
    paths[1].write_bytes(signature.content)
    return paths


def test_published_extract_verifies_with_stock_openssl_and_our_verifier(
    client: TestClient,
    session: Session,
    settings: Settings,
    tokens: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_entry(session, status="active")
    make_entry(session)  # pending: never published
    published = publish(client, tokens["secas"])
    assert published["sequence"] == 1
    payload, signature = fetch(client, tokens["dcc"], 1, tmp_path)
    assert hashlib.sha256(payload.read_bytes()).hexdigest() == published["sha256"]
    root = settings.data_dir / "dev-pki" / "root.pem"
    verified = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(signature),
            "-content",
            str(payload),
            "-CAfile",
            str(root),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    assert cli_main(["extract", "verify", str(payload), str(signature), "--ca", str(root)]) == 0
    assert "OK" in capsys.readouterr().out
    document = json.loads(payload.read_bytes())
    jsonschema.validate(document, SCHEMA)
    assert document["entry_count"] == 1 and document["entries"][0]["status"] == "Active"
    chain = client.get(f"{API}/signing/certificates")
    assert chain.status_code == 200 and chain.text.count("BEGIN CERTIFICATE") >= 2


def test_sequence_chain_and_changes(
    client: TestClient, session: Session, tokens: dict[str, str], tmp_path: Path
) -> None:
    first_entry = make_entry(session, status="active")
    publish(client, tokens["secas"])
    second_entry = make_entry(session, status="active")
    client.post(
        f"{API}/entries/{first_entry.entry_id}/removal",
        json={"status": "withdrawn", "panel_decision_ref": "SECP_81_1906_12"},
        headers=auth(tokens["secas"]),
    )
    second = publish(client, tokens["secas"])
    payload_1, _ = fetch(client, tokens["dcc"], 1, tmp_path)
    payload_2, _ = fetch(client, tokens["dcc"], 2, tmp_path)
    document = json.loads(payload_2.read_bytes())
    jsonschema.validate(document, SCHEMA)
    assert second["sequence"] == 2
    assert document["previous_sha256"] == hashlib.sha256(payload_1.read_bytes()).hexdigest()
    assert document["changes"] == {
        "added": [second_entry.entry_id],
        "status_changed": [first_entry.entry_id],
    }
    withdrawn = next(e for e in document["entries"] if e["entry_id"] == first_entry.entry_id)
    assert withdrawn["status"] == "Withdrawn"
    assert withdrawn["panel_decision_ref"] == "SECP_81_1906_12"
    assert [e["entry_id"] for e in document["entries"]] == sorted(
        [first_entry.entry_id, second_entry.entry_id]
    )


def test_payload_is_served_unchanged_with_etag(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    make_entry(session, status="active")
    published = publish(client, tokens["secas"])
    identity = {**auth(tokens["dcc"]), "Accept-Encoding": "identity"}
    first = client.get(f"{API}/extracts/latest", headers=identity)
    assert first.status_code == 200
    assert first.headers["etag"] == f'"{published["sha256"]}"'
    assert "content-encoding" not in first.headers
    assert first.headers["vary"] == "Accept-Encoding"
    make_entry(session, status="active")  # later changes never alter published bytes
    again = client.get(f"{API}/extracts/1", headers=identity)
    assert again.content == first.content
    cached = client.get(
        f"{API}/extracts/latest", headers={**identity, "If-None-Match": first.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""


def raw_get(client: TestClient, url: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    """The response body as sent (httpx would undo the gzip in `.content`)."""
    with client.stream("GET", url, headers=headers) as response:
        return response.status_code, dict(response.headers), b"".join(response.iter_raw())


@pytest.mark.parametrize("path", ["latest", "1"])
def test_gzip_payload_decodes_to_the_signed_bytes(
    client: TestClient,
    session: Session,
    settings: Settings,
    tokens: dict[str, str],
    tmp_path: Path,
    path: str,
) -> None:
    for _ in range(3):
        make_entry(session, status="active")
    published = publish(client, tokens["secas"])
    gzipped = {**auth(tokens["dcc"]), "Accept-Encoding": "gzip"}
    status, headers, body = raw_get(client, f"{API}/extracts/{path}", gzipped)
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["etag"] == f'"{published["sha256"]}-gzip"'
    decoded = gzip.decompress(body)
    assert len(body) < len(decoded)
    assert hashlib.sha256(decoded).hexdigest() == published["sha256"]
    payload, signature = tmp_path / "cpl.json", tmp_path / "cpl.p7s"
    payload.write_bytes(decoded)
    signature.write_bytes(
        client.get(f"{API}/extracts/1/signature", headers=auth(tokens["dcc"])).content
    )
    root = settings.data_dir / "dev-pki" / "root.pem"
    verified = subprocess.run(
        [
            *("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature)),
            *("-content", str(payload), "-CAfile", str(root), "-purpose", "any"),
            *("-out", "/dev/null"),
        ],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    # The gzip form is revalidated by its own ETag; the identity ETag does not match it.
    status, _, body = raw_get(
        client, f"{API}/extracts/{path}", {**gzipped, "If-None-Match": headers["etag"]}
    )
    assert status == 304 and body == b""
    status, _, _ = raw_get(
        client,
        f"{API}/extracts/{path}",
        {**gzipped, "If-None-Match": f'"{published["sha256"]}"'},
    )
    assert status == 200


def test_gzip_body_is_compressed_once_at_publication(
    client: TestClient, engine: Engine, session: Session, tokens: dict[str, str]
) -> None:
    make_entry(session, status="active")
    publish(client, tokens["secas"])
    stored = session.get(Extract, 1)
    assert stored is not None and stored.payload_gzip is not None
    assert gzip.decompress(stored.payload_gzip) == stored.payload
    store_gzip(engine=engine, sequence=1)  # a second compression changes nothing
    session.refresh(stored)
    assert gzip.decompress(stored.payload_gzip) == stored.payload
    _, _, body = raw_get(
        client, f"{API}/extracts/1", {**auth(tokens["dcc"]), "Accept-Encoding": "gzip"}
    )
    assert body == stored.payload_gzip


def test_refused_gzip_gets_the_identity_payload(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    make_entry(session, status="active")
    published = publish(client, tokens["secas"])
    refusing = {**auth(tokens["dcc"]), "Accept-Encoding": "gzip;q=0, identity"}
    _, headers, body = raw_get(client, f"{API}/extracts/latest", refusing)
    assert "content-encoding" not in headers
    assert hashlib.sha256(body).hexdigest() == published["sha256"]


def test_acknowledgement_and_dcc_status(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    publish(client, tokens["secas"])
    publish(client, tokens["secas"])
    listing = client.get(f"{API}/extracts", headers=auth(tokens["dcc"])).json()
    assert [(e["sequence"], e["dcc_status"]) for e in listing["items"]] == [
        (2, "pending"),
        (1, "pending"),
    ]
    ack = f"{API}/extracts/1/acknowledgement"
    assert (
        client.post(ack, json={"status": "loaded"}, headers=auth(tokens["secas"])).status_code
        == 403
    )
    assert (
        client.post(ack, json={"status": "loaded"}, headers=auth(tokens["dcc"])).status_code == 200
    )
    assert (
        client.post(ack, json={"status": "loaded"}, headers=auth(tokens["dcc"])).status_code == 409
    )
    rejected = client.post(
        f"{API}/extracts/2/acknowledgement",
        json={"status": "rejected"},
        headers=auth(tokens["dcc"]),
    )
    assert rejected.status_code == 422  # a rejection says why
    bad = client.post(
        f"{API}/extracts/2/acknowledgement", json={"status": "maybe"}, headers=auth(tokens["dcc"])
    )
    assert bad.status_code == 422
    # Published rows never change (the database refuses), so shorten the DCC's window
    # instead of backdating the extract: a pending extract is now past it.
    client.app.state.settings.extract_ack_hours = 0  # type: ignore[attr-defined]
    listing = client.get(f"{API}/extracts", headers=auth(tokens["secas"])).json()
    assert [(e["sequence"], e["dcc_status"]) for e in listing["items"]] == [
        (2, "overdue"),
        (1, "loaded"),
    ]


def test_publication_and_acknowledgement_queue_emails(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    publish(client, tokens["secas"])
    client.post(
        f"{API}/extracts/1/acknowledgement", json={"status": "loaded"}, headers=auth(tokens["dcc"])
    )
    notices = client.get(f"{API}/notices", headers=auth(tokens["secas"])).json()
    kinds = Counter(item["kind"] for item in notices["items"])
    assert kinds["cpl_published"] == 4 and kinds["dcc_acknowledged"] == 4


def test_overdue_only_after_the_window() -> None:
    issued = utcnow()
    extract = Extract(
        sequence=1,
        issued_at=issued,
        next_update=issued,
        sha256="0" * 64,
        entry_count=0,
        change_count=0,
        payload=b"{}",
        signature=b"",
    )
    assert dcc_status(extract, now=issued + timedelta(hours=24), ack_hours=24) == "pending"
    assert dcc_status(extract, now=issued + timedelta(hours=24, seconds=1), ack_hours=24) == (
        "overdue"
    )
    extract.dcc_status = DccStatus.LOADED
    assert dcc_status(extract, now=issued + timedelta(days=9), ack_hours=24) == "loaded"


def test_extract_roles_and_missing(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get(f"{API}/extracts/latest", headers=auth(tokens["dcc"])).status_code == 404
    for role in ("manufacturer", "supplier"):
        assert client.get(f"{API}/extracts", headers=auth(tokens[role])).status_code == 403
        assert client.post(f"{API}/extracts", headers=auth(tokens[role])).status_code == 403
    assert client.post(f"{API}/extracts", headers=auth(tokens["dcc"])).status_code == 403
    assert client.get(f"{API}/extracts/7", headers=auth(tokens["dcc"])).status_code == 404
    assert client.get(f"{API}/extracts/7/signature", headers=auth(tokens["dcc"])).status_code == 404
    assert client.get(f"{API}/extracts/latest").status_code == 401


def test_latest_follows_publication_at_once_and_cache_never_admits_others(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    publish(client, tokens["secas"])
    url = f"{API}/extracts/latest"
    assert client.get(url, headers=auth(tokens["dcc"])).headers["x-cpl-sequence"] == "1"
    assert client.get(url, headers=auth(tokens["dcc"])).headers["x-cpl-sequence"] == "1"
    publish(client, tokens["secas"])
    assert client.get(url, headers=auth(tokens["dcc"])).headers["x-cpl-sequence"] == "2"
    # A warm cache for the DCC's token must not let anyone else through.
    assert client.get(url, headers=auth(tokens["manufacturer"])).status_code == 403
    assert client.get(url, headers=auth(tokens["manufacturer"])).status_code == 403
    assert client.get(url, headers=auth("cpl_forged")).status_code == 401
    assert client.get(url).status_code == 401


def test_extract_without_a_stored_gzip_body_is_compressed_when_served(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    payload = json.dumps({"format": "cpl-extract/1", "entries": ["x" * 2000]}).encode()
    session.add(
        Extract(
            sequence=1,
            issued_at=utcnow(),
            next_update=utcnow() + timedelta(days=7),
            sha256=hashlib.sha256(payload).hexdigest(),
            entry_count=0,
            change_count=0,
            payload=payload,
            signature=b"sig",
        )
    )
    session.commit()
    _, headers, body = raw_get(
        client, f"{API}/extracts/1", {**auth(tokens["dcc"]), "Accept-Encoding": "gzip"}
    )
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == payload


def test_acknowledged_by_names_the_party_never_the_person(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    secas = make_party("secas")[1]
    dcc, dcc_token = make_party("dcc", name="DCC Operations")
    make_person(dcc, "Dee Operator", "dee@dcc.example")
    for _ in range(3):
        publish(client, secas)
    assert acknowledged_by(session=session, sequences=[1, 2, 3]) == {}
    by_token = client.post(
        f"{API}/extracts/1/acknowledgement", json={"status": "loaded"}, headers=auth(dcc_token)
    )
    assert by_token.status_code == 200
    by_person = client.post(
        f"{API}/extracts/3/acknowledgement",
        json={"status": "rejected", "detail": "bad"},
        headers=sign_in(client, "dee@dcc.example"),
    )
    assert by_person.status_code == 200
    assert acknowledged_by(session=session, sequences=[1, 2, 3]) == {
        1: "DCC Operations",
        3: "DCC Operations",
    }
    assert acknowledged_by(session=session, sequences=[2]) == {}
    assert acknowledged_by(session=session, sequences=[]) == {}
