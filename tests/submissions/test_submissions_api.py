"""POST /submissions and the submission reads: wiring, roles, atomicity, hostile files."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from cpl_service.config import Settings
from cpl_service.entries.models import Entry
from cpl_service.parties.service import add_certificate
from cpl_service.signing.devpki import init_dev_pki
from cpl_service.submissions.models import Submission
from tests.conftest import MakeParty, auth
from tests.workbooks import build_workbook, cell_text, valid_row

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(
    client: TestClient,
    token: str,
    content: bytes,
    *,
    name: str = "cpl.xlsx",
    signature: bytes | None = None,
    documents: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
) -> Any:
    files: list[tuple[str, tuple[str, bytes, str]]] = [("file", (name, content, XLSX))]
    if signature is not None:
        files.append(("signature", ("cpl.p7s", signature, "application/pkcs7-signature")))
    files.extend(("documents", (n, c, "application/pdf")) for n, c in documents)
    return client.post(f"{API}/submissions", files=files, headers=auth(token))


def entry_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Entry)).one()


def test_valid_upload_creates_pending_entries(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("manufacturer")
    rows = [valid_row(), valid_row(**{"Firmware Version": "00020130"})]
    response = upload(client, token, build_workbook(rows))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending_review"
    assert [e["status"] for e in body["entries"]] == ["pending_review", "pending_review"]
    ids = [e["entry_id"] for e in body["entries"]]
    assert all(i.startswith("CPL-") and len(i) == 10 for i in ids)
    first = body["entries"][0]
    assert first["manufacturer_id"] == "AB01"
    assert first["physical_device_type"] == "ESME_SINGLE"
    detail = client.get(f"{API}/entries/{ids[0]}", headers=auth(token)).json()
    assert detail["gbcs_version"] == "GBCS v3.2"
    assert detail["cpa_certificate_number"] == "CPA-100"
    assert detail["history"][0]["action"] == "submitted"
    full = client.get(f"{API}/submissions/{body['id']}", headers=auth(token)).json()
    assert [e["entry_id"] for e in full["entries"]] == ids


def test_same_bytes_again_returns_the_first_submission(
    client: TestClient, session: Session, make_party: MakeParty
) -> None:
    _, token = make_party("manufacturer")
    content = build_workbook([valid_row()])
    first = upload(client, token, content)
    again = upload(client, token, content)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert entry_count(session) == 1


def test_rejected_workbook_lists_every_problem_and_stores_nothing(
    client: TestClient, session: Session, make_party: MakeParty
) -> None:
    _, token = make_party("manufacturer")
    rows = [
        valid_row(),
        valid_row(**{"Manufacturer ID": "XYZ", "Firmware Version": "1"}),
        valid_row(**{"Physical Device Type": "IHD", "Firmware Version": "00020131"}),
    ]
    response = upload(client, token, build_workbook(rows))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    found = {(i["row"], i["column"], i["code"]) for i in body["issues"]}
    assert (3, "Manufacturer ID", "invalid-hex") in found
    assert (3, "Firmware Version", "invalid-hex") in found
    assert any(row == 4 and column == "Physical Device Type" for row, column, _ in found)
    assert all(i["message"] for i in body["issues"])
    assert entry_count(session) == 0
    assert session.exec(select(func.count()).select_from(Submission)).one() == 0


def test_duplicate_of_a_live_entry_is_refused(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("manufacturer")
    assert upload(client, token, build_workbook([valid_row()])).status_code == 201
    again = upload(client, token, build_workbook([valid_row(**{"Model Name": "Renamed"})]))
    assert again.status_code == 422
    assert [i["code"] for i in again.json()["issues"]] == ["duplicate-entry"]


def test_same_hardware_under_another_device_type_is_allowed(
    client: TestClient, make_party: MakeParty
) -> None:
    _, token = make_party("manufacturer")
    assert upload(client, token, build_workbook([valid_row()])).status_code == 201
    twin = upload(
        client, token, build_workbook([valid_row(**{"Physical Device Type": "ESME_TWIN"})])
    )
    assert twin.status_code == 201, twin.text


def test_cpa_number_with_another_expiry_than_on_record(
    client: TestClient, make_party: MakeParty
) -> None:
    from datetime import timedelta

    from cpl_service.clock import today

    _, token = make_party("manufacturer")
    assert upload(client, token, build_workbook([valid_row()])).status_code == 201
    other = valid_row(
        **{"Firmware Version": "00020199", "CPA Expiry Date": today() + timedelta(days=900)}
    )
    response = upload(client, token, build_workbook([other]))
    assert response.status_code == 422
    assert response.json()["issues"][0]["code"] == "cpa-expiry-conflict"
    assert response.json()["issues"][0]["column"] == "CPA Expiry Date"


def test_comms_hub_and_smets1_only_from_dcc(client: TestClient, make_party: MakeParty) -> None:
    _, maker = make_party("manufacturer")
    _, dcc = make_party("dcc")
    hub = valid_row(
        **{
            "Physical Device Type": "CH",
            "Technical Specification": "CHTS v4.2",
            "DLMS Certificate Number": None,
        }
    )
    refused = upload(client, maker, build_workbook([hub]))
    assert refused.status_code == 422
    assert refused.json()["issues"][0]["code"] == "submitter-not-allowed"
    assert upload(client, dcc, build_workbook([hub])).status_code == 201


def test_ended_specification_is_a_warning_kept_on_the_submission(
    client: TestClient, make_party: MakeParty
) -> None:
    _, token = make_party("manufacturer")
    row = valid_row(**{"Technical Specification": "SMETS2 v2.0"})
    response = upload(client, token, build_workbook([row]))
    assert response.status_code == 201, response.text
    warnings = response.json()["issues"]
    assert warnings and warnings[0]["severity"] == "warning"
    assert warnings[0]["column"] == "Technical Specification"
    read = client.get(f"{API}/submissions/{response.json()['id']}", headers=auth(token)).json()
    assert read["issues"] == warnings


@pytest.fixture
def signing_party(make_party: MakeParty, session: Session, tmp_path: Path) -> tuple[str, Path]:
    party, token = make_party("manufacturer")
    pki = init_dev_pki(tmp_path / "maker-pki")
    add_certificate(session=session, party=party, pem=pki.signer_path.read_bytes())
    return token, pki.directory


def _openssl_sign(directory: Path, content: bytes, tmp_path: Path, *, pem: bool = False) -> bytes:
    source = tmp_path / "upload.xlsx"
    source.write_bytes(content)
    out = tmp_path / "upload.p7s"
    subprocess.run(
        [
            "openssl",
            "cms",
            "-sign",
            "-binary",
            "-md",
            "sha256",
            "-in",
            str(source),
            "-signer",
            str(directory / "signer.pem"),
            "-inkey",
            str(directory / "signer.key"),
            "-outform",
            "PEM" if pem else "DER",
            "-out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


HASHED = {"Manufacturer Image Hash": "ab" * 32, "Manufacturer Image Hash Creator": "Acme PKI"}


def test_image_hash_needs_a_signature(client: TestClient, signing_party: tuple[str, Path]) -> None:
    token, _ = signing_party
    response = upload(client, token, build_workbook([valid_row(**HASHED)]))
    assert response.status_code == 422
    assert "sign" in response.json()["detail"]


@pytest.mark.parametrize("pem", [False, True])
def test_signed_submission_with_registered_certificate(
    client: TestClient, signing_party: tuple[str, Path], tmp_path: Path, pem: bool
) -> None:
    token, directory = signing_party
    content = build_workbook([valid_row(**HASHED)])
    signature = _openssl_sign(directory, content, tmp_path, pem=pem)
    response = upload(client, token, content, signature=signature)
    assert response.status_code == 201, response.text
    assert response.json()["signed"] is True
    entry_id = response.json()["entries"][0]["entry_id"]
    entry = client.get(f"{API}/entries/{entry_id}", headers=auth(token)).json()
    assert entry["manufacturer_image_hash"] == "AB" * 32


def test_signature_over_other_bytes_is_refused(
    client: TestClient, signing_party: tuple[str, Path], tmp_path: Path
) -> None:
    token, directory = signing_party
    content = build_workbook([valid_row(**HASHED)])
    signature = _openssl_sign(directory, content + b"x", tmp_path)
    assert upload(client, token, content, signature=signature).status_code == 422


def test_signature_by_an_unregistered_certificate_is_refused(
    client: TestClient, signing_party: tuple[str, Path], tmp_path: Path
) -> None:
    token, _ = signing_party
    stranger = init_dev_pki(tmp_path / "stranger")
    content = build_workbook([valid_row(**HASHED)])
    signature = _openssl_sign(stranger.directory, content, tmp_path)
    response = upload(client, token, content, signature=signature)
    assert response.status_code == 422
    assert "registered" in response.json()["detail"]


def test_documents_are_stored_and_downloadable(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("manufacturer")
    _, rival = make_party("manufacturer")
    _, secas = make_party("secas")
    response = upload(
        client,
        token,
        build_workbook([valid_row()]),
        documents=[("zigbee.pdf", PDF), ("cpa.pdf", PDF + b" ")],
    )
    assert response.status_code == 201, response.text
    sid = response.json()["id"]
    listing = client.get(f"{API}/submissions/{sid}/documents", headers=auth(secas)).json()
    assert [d["filename"] for d in listing] == ["zigbee.pdf", "cpa.pdf"]
    doc = client.get(f"{API}/submissions/{sid}/documents/{listing[0]['id']}", headers=auth(token))
    assert doc.status_code == 200 and doc.content == PDF
    assert doc.headers["content-type"] == "application/pdf"
    assert client.get(f"{API}/submissions/{sid}/documents", headers=auth(rival)).status_code == 404
    assert (
        client.get(f"{API}/submissions/{sid}/documents/999", headers=auth(secas)).status_code == 404
    )


def test_a_document_that_is_not_a_pdf_is_refused(
    client: TestClient, session: Session, make_party: MakeParty
) -> None:
    _, token = make_party("manufacturer")
    response = upload(
        client,
        token,
        build_workbook([valid_row()]),
        documents=[("cert.pdf", b"MZ\x90\x00 not a pdf")],
    )
    assert response.status_code == 415
    assert entry_count(session) == 0


def _zip_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


HOSTILE = {
    "pdf": (b"%PDF-1.4 not a workbook", "cpl.xlsx"),
    "text": (b"Manufacturer ID,Model ID\nAB01,0001\n", "cpl.xlsx"),
    "empty": (b"", "cpl.xlsx"),
    "truncated-zip": (build_workbook([valid_row()])[:700], "cpl.xlsx"),
    "encrypted": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "cpl.xlsx"),
    "zip-without-workbook": (_zip_with({"hello.txt": b"hi"}), "cpl.xlsx"),
    "zip-bomb": (
        _zip_with({"xl/worksheets/sheet1.xml": b"\x00" * (210 * 1024 * 1024)}),
        "cpl.xlsx",
    ),
    "wrong-extension": (build_workbook([valid_row()]), "cpl.csv"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_get_a_clear_4xx_and_store_nothing(
    client: TestClient, session: Session, make_party: MakeParty, case: str
) -> None:
    _, token = make_party("manufacturer")
    content, name = HOSTILE[case]
    response = upload(client, token, content, name=name)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert len(body["detail"]) > 20
    assert entry_count(session) == 0
    assert client.get("/healthz").status_code == 200


def test_upload_over_ten_megabytes_is_413(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("manufacturer")
    response = upload(client, token, b"PK" + b"\x00" * (10 * 1024 * 1024))
    assert response.status_code == 413


def test_upload_without_file_part_is_422(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("manufacturer")
    response = client.post(f"{API}/submissions", data={"x": "y"}, headers=auth(token))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_submission_visibility_and_roles(client: TestClient, make_party: MakeParty) -> None:
    _, maker = make_party("manufacturer")
    _, rival = make_party("manufacturer")
    _, secas = make_party("secas")
    created = upload(client, maker, build_workbook([valid_row()])).json()
    url = f"{API}/submissions/{created['id']}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=auth(maker)).status_code == 200
    assert client.get(url, headers=auth(rival)).status_code == 404
    assert client.get(url, headers=auth(secas)).status_code == 200
    assert client.get(f"{API}/submissions", headers=auth(rival)).json()["total"] == 0
    listing = client.get(f"{API}/submissions", headers=auth(secas)).json()
    assert listing["total"] == 1
    assert (listing["items"][0]["entry_count"], listing["items"][0]["status"]) == (
        1,
        "pending_review",
    )
    assert client.get(f"{API}/submissions/999999", headers=auth(secas)).status_code == 404
    assert upload(client, "cpl_nonsense", build_workbook([valid_row()])).status_code == 401


def test_template_is_public_and_round_trips(client: TestClient, make_party: MakeParty) -> None:
    from openpyxl import load_workbook

    response = client.get(f"{API}/template")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook["CPL - New Entry"]
    headings = [cell_text(c.value) for c in sheet[1]]
    row = valid_row()
    for column, heading in enumerate(headings, start=1):
        sheet.cell(row=2, column=column, value=row.get(heading))
    buffer = io.BytesIO()
    workbook.save(buffer)
    _, token = make_party("manufacturer")
    assert upload(client, token, buffer.getvalue()).status_code == 201


def test_request_body_over_the_cap_is_refused_before_parsing(
    settings: Settings, make_party: MakeParty
) -> None:
    from cpl_service.main import create_app

    small = settings.model_copy(update={"max_request_bytes": 64 * 1024})
    _, token = make_party("manufacturer")
    with TestClient(create_app(small)) as capped:
        response = upload(capped, token, b"PK" + b"\x00" * (100 * 1024))
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert "larger than" in response.json()["detail"]
        chunked = capped.post(
            f"{API}/submissions",
            content=iter([b"x" * 40_000] * 3),
            headers={**auth(token), "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert chunked.status_code == 413
        assert capped.get("/healthz").status_code == 200
