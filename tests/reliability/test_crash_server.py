"""kill -9 a real server in the middle of a publish and of an upload, restart, and check.

Extract sequences stay gapless and every stored payload verifies against its signature; a
killed upload leaves nothing of itself; a keyed publish killed mid-way is never repeated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, func, select

from cpl_service.clock import today, utcnow
from cpl_service.config import Settings
from cpl_service.entries.models import Entry, format_entry_id
from cpl_service.extracts.models import Extract
from cpl_service.extracts.verify import verify_extract
from cpl_service.idempotency.models import IdempotencyRecord
from cpl_service.submissions.models import Submission
from tests.conftest import MakeParty, auth
from tests.factories import make_entry
from tests.server import server_process
from tests.workbooks import build_workbook, valid_row

KILL_AFTER_SECONDS = (0.0, 0.05, 0.15, 0.4, 0.8, 1.5)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _send_and_kill(
    process: subprocess.Popen[bytes], delay: float, request: httpx.Request
) -> httpx.Response | None:
    answer: list[httpx.Response] = []

    def send() -> None:
        try:
            with httpx.Client(timeout=120) as client:
                answer.append(client.send(request))
        except httpx.HTTPError:
            pass  # the server died under the request

    thread = threading.Thread(target=send)
    thread.start()
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    thread.join(60)
    return answer[0] if answer else None


def _active_entries(session: Session, count: int) -> None:
    template = make_entry(session, status="active")
    table = SQLModel.metadata.tables["entry"]
    row = dict(session.connection().execute(table.select()).one()._mapping)
    copies = [
        dict(
            row,
            id=row["id"] + i,
            entry_id=format_entry_id(row["id"] + i),
            firmware_version=f"F{i:07X}",
        )
        for i in range(1, count)
    ]
    session.connection().execute(table.insert(), copies)
    session.commit()
    assert template.status == "active"


def test_publish_killed_at_several_points(
    settings: Settings, engine: Engine, session: Session, make_party: MakeParty, tmp_path: Path
) -> None:
    _active_entries(session, 3000)
    _, secas = make_party("secas")
    log = tmp_path / "serve.log"
    keys = []
    unanswered = 0
    for n, delay in enumerate(KILL_AFTER_SECONDS):
        with server_process(settings, log, append=True) as (process, base):
            key = f"killed-publish-{n}"
            keys.append(key)
            request = httpx.Request(
                "POST", f"{base}/api/v1/extracts", headers={**auth(secas), "Idempotency-Key": key}
            )
            unanswered += _send_and_kill(process, delay, request) is None
    assert unanswered, "every publish finished before its kill: nothing was proven"

    with Session(engine) as check:
        reserved = set(check.exec(select(IdempotencyRecord.key)).all())
    published_before = _extract_count(engine)
    # A killed publish acted only if it had reserved its key first.
    assert published_before <= len(reserved)
    fresh = 0
    with (
        server_process(settings, log, append=True) as (_, base),
        httpx.Client(base_url=base) as http,
    ):
        for key in keys:
            retry = http.post(
                "/api/v1/extracts", headers={**auth(secas), "Idempotency-Key": key}, timeout=120
            )
            if key in reserved:
                # Never a second publication for one key: its recorded answer, or "unknown".
                replayed = retry.headers.get("idempotent-replayed") == "true"
                assert retry.status_code == 409 or replayed, retry.text
            else:
                assert retry.status_code == 201, retry.text
                fresh += 1
        assert _extract_count(engine) == published_before + fresh
        assert http.post("/api/v1/extracts", headers=auth(secas), timeout=120).status_code == 201

    root = x509.load_pem_x509_certificate((settings.data_dir / "dev-pki" / "root.pem").read_bytes())
    with Session(engine) as check:
        extracts = check.exec(select(Extract).order_by(col(Extract.sequence))).all()
    assert [e.sequence for e in extracts] == list(range(1, len(extracts) + 1))
    previous = None
    for extract in extracts:
        document = verify_extract(
            extract.payload, extract.signature, roots=[root], at=utcnow() - timedelta(days=1)
        )
        assert document["sequence"] == extract.sequence
        assert extract.previous_sha256 == previous
        previous = extract.sha256


def _extract_count(engine: Engine) -> int:
    with Session(engine) as check:
        return check.exec(select(func.count()).select_from(Extract)).one()


def test_upload_killed_at_several_points_stores_nothing_of_itself(
    settings: Settings, engine: Engine, make_party: MakeParty, tmp_path: Path
) -> None:
    _, token = make_party("manufacturer")
    log = tmp_path / "serve.log"
    rows = [valid_row(**{"Firmware Version": f"{i:08X}"}) for i in range(3000)]
    workbook = build_workbook(rows)
    unanswered = 0
    for delay in KILL_AFTER_SECONDS:
        with server_process(settings, log, append=True) as (process, base):
            request = httpx.Request(
                "POST",
                f"{base}/api/v1/submissions",
                files={"file": ("cpl.xlsx", workbook, XLSX)},
                headers=auth(token),
            )
            answer = _send_and_kill(process, delay, request)
            unanswered += answer is None
        with Session(engine) as check:
            entries = check.exec(select(func.count()).select_from(Entry)).one()
            submissions = check.exec(select(func.count()).select_from(Submission)).one()
        # All of the upload or none of it, never part.
        assert (submissions, entries) in ((0, 0), (1, len(rows))), (delay, submissions, entries)
        if answer is not None and answer.status_code == 201:
            assert (submissions, entries) == (1, len(rows))
        if submissions:
            break  # it completed before the kill: later points would only find it stored
    assert unanswered, "every upload finished before its kill: nothing was proven"
    with (
        server_process(settings, log, append=True) as (_, base),
        httpx.Client(base_url=base) as http,
    ):
        again = http.post(
            "/api/v1/submissions",
            files={"file": ("cpl.xlsx", workbook, XLSX)},
            headers=auth(token),
            timeout=120,
        )
        assert again.status_code in (200, 201), again.text
    with Session(engine) as check:
        assert check.exec(select(func.count()).select_from(Entry)).one() == len(rows)


@pytest.fixture(autouse=True)
def _today_is_stable() -> None:
    assert today() == utcnow().date()
