"""Regression tests for the findings of issue 11: nothing a client sends may answer 500."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, func, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.clock import today, utcnow
from cpl_service.config import Settings
from cpl_service.entries.models import Entry, format_entry_id
from cpl_service.main import create_app
from cpl_service.notices.service import queue_due_cpa_notices
from cpl_service.submissions import service as submissions
from tests.conftest import MakeParty, auth
from tests.factories import make_entry
from tests.server import free_port
from tests.submissions.test_submissions_api import PDF, upload
from tests.workbooks import build_workbook, valid_row

API = "/api/v1"
HUGE = [2**31, 46344295328636122915930112, -20825685493265436672, 0, -1]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


@pytest.fixture
def secas(make_party: MakeParty) -> str:
    return make_party("secas")[1]


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize(
    ("method", "template", "role"),
    [
        ("GET", "/submissions/{n}", "secas"),
        ("GET", "/submissions/{n}/documents", "secas"),
        ("GET", "/submissions/1/documents/{n}", "secas"),
        ("POST", "/submissions/{n}/approve", "secas"),
        ("GET", "/extracts/{n}", "secas"),
        ("GET", "/extracts/{n}/signature", "secas"),
        ("POST", "/extracts/{n}/acknowledgement", "dcc"),
        ("GET", "/notices/{n}", "secas"),
        ("GET", "/notices?offset={n}", "secas"),
        ("GET", "/entries?offset={n}", "secas"),
        ("GET", "/entries?submission_id={n}", "secas"),
        ("GET", "/submissions?offset={n}", "secas"),
        ("GET", "/extracts?offset={n}", "secas"),
        ("GET", "/certificates?offset={n}", "secas"),
        ("GET", "/cpl?offset={n}", "secas"),
    ],
)
def test_integers_beyond_the_database_are_a_422(
    client: TestClient, make_party: MakeParty, method: str, template: str, role: str, number: int
) -> None:
    if number in (0,) and "offset" in template:
        return  # offset 0 is valid
    token = make_party(role)[1]
    body = {"status": "loaded"} if "acknowledgement" in template else None
    response = client.request(
        method, API + template.format(n=number), json=body, headers=auth(token)
    )
    problem = _problem(response, 422)
    assert problem["type"] == "/problems/invalid-request"


def test_integers_at_the_bound_reach_the_service(client: TestClient, secas: str) -> None:
    top = 2**31 - 1
    assert client.get(f"{API}/submissions/{top}", headers=auth(secas)).status_code == 404
    assert client.get(f"{API}/extracts/{top}", headers=auth(secas)).status_code == 404
    listing = client.get(f"{API}/entries?offset={top}", headers=auth(secas))
    assert listing.status_code == 200
    assert listing.json()["items"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/entries/CPL-%00",
        "/entries?q=a%00b",
        "/cpl?q=a%00b",
        "/cpl?status=%00",
        "/certificates?kind=%00",
        "/certificates/cpa/A%00B/conditional-clearance",
    ],
)
def test_nul_in_path_or_query_is_a_422(client: TestClient, secas: str, path: str) -> None:
    method = "POST" if path.endswith("clearance") else "GET"
    body = {"reference": "NCSC-1"} if method == "POST" else None
    response = client.request(method, API + path, json=body, headers=auth(secas))
    problem = _problem(response, 422)
    assert "U+0000" in problem["detail"]


@pytest.mark.parametrize("text", ["a\u0000b", "lone \ud800 surrogate"])
def test_unstorable_text_in_json_is_a_422(
    client: TestClient, session: Session, secas: str, text: str
) -> None:
    entry = make_entry(session)
    response = client.post(
        f"{API}/entries/{entry.entry_id}/reject",
        content=f'{{"reason": "{text.encode("unicode_escape").decode()}"}}'.replace(
            "\\x00", "\\u0000"
        ),
        headers={**auth(secas), "Content-Type": "application/json"},
    )
    _problem(response, 422)
    session.refresh(entry)
    assert entry.status == "pending_review"


BOUNDARY = "reliability-boundary"


def _raw_multipart(parts: list[tuple[str, str, bytes]]) -> bytes:
    """A multipart body with the filenames exactly as given (httpx would escape a NUL)."""
    body = b""
    for name, filename, content in parts:
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("part", ["file", "documents"])
def test_nul_in_a_multipart_filename_is_a_422(
    client: TestClient, session: Session, make_party: MakeParty, part: str
) -> None:
    _, token = make_party("manufacturer")
    parts = [
        ("file", "x\x00y.xlsx" if part == "file" else "cpl.xlsx", build_workbook([valid_row()]))
    ]
    if part == "documents":
        parts.append(("documents", "cert\x00.pdf", PDF))
    response = client.post(
        f"{API}/submissions",
        content=_raw_multipart(parts),
        headers={**auth(token), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    problem = _problem(response, 422)
    assert "U+0000" in problem["detail"]
    assert session.exec(select(func.count()).select_from(Entry)).one() == 0


def test_overlong_multipart_filename_is_a_422(client: TestClient, make_party: MakeParty) -> None:
    _, token = make_party("manufacturer")
    response = upload(client, token, build_workbook([valid_row()]), name="a" * 300 + ".xlsx")
    assert "255" in _problem(response, 422)["detail"]


def test_previous_entry_of_another_party_reads_as_missing(
    client: TestClient, session: Session, make_party: MakeParty
) -> None:
    other, _ = make_party("manufacturer")
    _, token = make_party("manufacturer")
    private = {
        status: make_entry(session, party_id=other.id, status=status, manufacturer_id="CD02")
        for status in ("pending_review", "rejected")
    }
    public = make_entry(session, party_id=other.id, status="active", manufacturer_id="CD02")

    def messages(previous: str) -> list[str]:
        row = valid_row(
            **{
                "Submission Type": "Firmware Update",
                "Firmware Version": "0000AAAA",
                "Certificate Mapping Evidence": "Letter from the CPA lab",
                "Previous CPL Entry ID": previous,
            }
        )
        response = upload(client, token, build_workbook([row]))
        problem = _problem(response, 422)
        return [
            i["message"].replace(previous, "ID")
            for i in problem["issues"]
            if i.get("heading") == "Previous CPL Entry ID" or "CPL" in i["message"]
        ]

    missing = messages("CPL-999999")
    assert missing and "There is no CPL entry" in missing[0]
    for entry in private.values():
        assert messages(entry.entry_id) == missing
    # A public (ever Active) entry is no secret: its mismatch is explained.
    assert messages(public.entry_id) != missing


def _drafts(count: int, *, prefix: str = "N") -> list[dict[str, Any]]:
    expiry = today() + timedelta(days=900)
    return [
        {
            "zigbee_certificate_number": f"ZIG-{prefix}{i}",
            "dlms_certificate_number": f"DLMS-{prefix}{i}",
            "cpa_certificate_number": f"CPA-{prefix}{i}",
            "cpa_expiry_date": expiry,
        }
        for i in range(count)
    ]


def test_registering_thousands_of_distinct_certificates(session: Session) -> None:
    submissions._register_certificates(session, _drafts(5000), utcnow())
    session.commit()
    count = session.exec(select(func.count()).select_from(AssuranceCertificate)).one()
    assert count == 15000
    # A second upload naming the same certificates (and a new condition) changes nothing else.
    again = _drafts(5000)
    again[0]["cpa_conditional_date"] = today() + timedelta(days=100)
    submissions._register_certificates(session, again, utcnow())
    session.commit()
    assert session.exec(select(func.count()).select_from(AssuranceCertificate)).one() == 15000
    conditional = session.exec(
        select(AssuranceCertificate).where(AssuranceCertificate.number == "CPA-N0")
    ).one()
    assert conditional.cpa_conditional_date == today() + timedelta(days=100)


def test_concurrent_registration_of_one_new_certificate(engine: Engine) -> None:
    """The second of two transactions registering the same new number waits, then agrees."""
    first = Session(engine, expire_on_commit=False)
    submissions._register_certificates(first, _drafts(1, prefix="C"), utcnow())
    first.flush()
    failures: list[BaseException] = []

    def second() -> None:
        with Session(engine) as other:
            try:
                submissions._register_certificates(other, _drafts(1, prefix="C"), utcnow())
                other.commit()
            except BaseException as exc:  # collected for the assertion below
                failures.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert failures == []
    with Session(engine) as check:
        numbers = check.exec(select(AssuranceCertificate.number)).all()
    assert sorted(numbers) == ["CPA-C0", "DLMS-C0", "ZIG-C0"]


@pytest.fixture
def crashing_server(settings: Settings) -> Iterator[int]:
    app: FastAPI = create_app(settings)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


def _exchange(sock: socket.socket, path: str) -> tuple[str, bytes]:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return "", data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head.decode(), body


def test_connection_survives_an_unexpected_error(crashing_server: int) -> None:
    with socket.create_connection(("127.0.0.1", crashing_server), timeout=10) as sock:
        head, body = _exchange(sock, "/boom")
        assert head.startswith("HTTP/1.1 500")
        assert b"unexpected error" in body
        assert "connection: close" not in head.lower()
        # The connection was not closed, so the next request on it is answered.
        head, _ = _exchange(sock, "/healthz")
        assert head.startswith("HTTP/1.1 200"), head


def test_cpa_notices_for_thousands_of_distinct_certificates(
    session: Session, settings: Settings
) -> None:
    """Thousands of distinct CPA certificates: the lookup goes in bounded batches."""
    template = make_entry(session, status="active", cpa_expiry_date=today() + timedelta(days=300))
    table = SQLModel.metadata.tables["entry"]
    row = dict(session.connection().execute(table.select()).one()._mapping)
    copies = []
    for i in range(1, 4001):
        copy = dict(row, id=row["id"] + i, entry_id=format_entry_id(row["id"] + i))
        copy["cpa_certificate_number"] = f"CPA-MANY-{i}"
        copy["firmware_version"] = f"F{i:07X}"
        copies.append(copy)
    session.connection().execute(table.insert(), copies)
    submissions._register_certificates(
        session,
        [
            {
                "cpa_certificate_number": c["cpa_certificate_number"],
                "cpa_expiry_date": c["cpa_expiry_date"],
            }
            for c in copies
        ],
        utcnow(),
    )
    session.commit()
    queued = queue_due_cpa_notices(session=session, as_of=today(), settings=settings, now=utcnow())
    session.commit()
    assert template.cpa_certificate_number == "CPA-1"
    assert queued == 4001
