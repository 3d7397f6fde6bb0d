"""Reviewers deciding at the same moment on a real server: one decision, one email."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cpl_service.clock import today, utcnow
from cpl_service.config import Settings
from cpl_service.entries.models import EntryEvent
from cpl_service.notices.models import Notice
from cpl_service.notices.service import run_notices
from cpl_service.submissions.models import Submission
from tests.conftest import MakeParty, auth
from tests.factories import make_entry
from tests.notices.conftest import SmtpServer
from tests.notices.test_outbox import parts
from tests.server import running_server


def test_simultaneous_approvals_send_one_email(
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    make_party: MakeParty,
    tmp_path: Path,
) -> None:
    maker, _ = make_party("manufacturer", emails=["cpl@acme.example"])
    _, secas = make_party("secas")
    assert maker.id is not None
    submission = Submission(
        party_id=maker.id, filename="acme.xlsx", content_sha256="0" * 64, size_bytes=1
    )
    session.add(submission)
    session.commit()
    pending = [
        make_entry(session, party_id=maker.id, submission_id=submission.id) for _ in range(3)
    ]
    reviewers = 6
    barrier = threading.Barrier(reviewers)
    statuses: list[int] = []

    env = {"CPL_PUBLIC_URL": "https://cpl.secas.example"}
    with running_server(smtp_settings, tmp_path / "server.log", env=env) as base:

        def approve() -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                barrier.wait()
                url = f"/api/v1/submissions/{submission.id}/approve"
                statuses.append(http.post(url, headers=auth(secas)).status_code)

        threads = [threading.Thread(target=approve) for _ in range(reviewers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert sorted(statuses) == [200] + [409] * (reviewers - 1)
    with Session(engine) as s:
        approvals = s.exec(
            select(EntryEvent.entry_pk).where(col(EntryEvent.action) == "approved")
        ).all()
        keys = s.exec(select(Notice.key)).all()
    assert Counter(approvals) == {e.id: 1 for e in pending}
    first = min(e.entry_id for e in pending)
    assert keys == [f"outcome:submission:{submission.id}:approved:{first}"]

    assert run_notices(engine=engine, settings=smtp_settings, as_of=today(), clock=utcnow).sent == 1
    assert run_notices(engine=engine, settings=smtp_settings, as_of=today(), clock=utcnow).sent == 0
    (received,) = smtp_server.messages
    assert received.message["Subject"] == f"CPL submission {submission.id}: All 3 entries approved"
    # The server wrote the link from its own CPL_PUBLIC_URL.
    text, _ = parts(received.message)
    assert f"https://cpl.secas.example/submissions/{submission.id}" in text
