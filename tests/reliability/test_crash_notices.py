"""kill -9 of `notices run` while it sends to a real SMTP server, then run it again.

The delivery guarantee, exactly: nothing is lost; a crash between the SMTP server's acceptance
and the record of it may send that one message again, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import Session, select

from cpl_service.config import Settings
from cpl_service.notices.models import Notice
from tests.notices.conftest import CollectingHandler, free_port
from tests.server import server_env

NOTICES = 12
STALL_AT = 5


class StallingHandler(CollectingHandler):
    """Accepts every message, but holds the answer to one so the sender can be killed then."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.messages) == STALL_AT and not self.stalled.is_set():
            self.stalled.set()
            await asyncio.sleep(30)  # received, not yet acknowledged: the run dies here
        return answer


def _queue(engine: Engine) -> None:
    with Session(engine) as session:
        for n in range(NOTICES):
            session.add(
                Notice(
                    key=f"crash-test:{n}",
                    kind="extract_published",
                    recipients=f"dcc{n}@example.com",
                    subject=f"Notice {n}",
                    body_text=f"Notice {n}",
                    body_html=f"<p>Notice {n}</p>",
                )
            )
        session.commit()


def _notices_run(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = server_env(settings) | {
        "CPL_SMTP_HOST": "127.0.0.1",
        "CPL_SMTP_PORT": str(port),
        "CPL_SMTP_STARTTLS": "false",
        "CPL_SMTP_TIMEOUT_SECONDS": "60",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cpl_service.cli", "notices", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_killed_notices_run_loses_nothing_and_resends_one_with_its_message_id(
    settings: Settings, engine: Engine
) -> None:
    _queue(engine)
    handler = StallingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        first = _notices_run(settings, port)
        assert handler.stalled.wait(60), "the run never reached the stalled message"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        # Right after the crash, the next run sends everything left: nothing waits for a
        # timeout to expire, nothing is lost.
        second = _notices_run(settings, port)
        assert second.wait(120) == 0
    finally:
        controller.stop()

    with Session(engine) as session:
        statuses = Counter(n.status for n in session.exec(select(Notice)).all())
    assert statuses == {"sent": NOTICES}

    ids = [m.message["Message-ID"] for m in handler.messages]
    subjects = Counter(m.message["Subject"] for m in handler.messages)
    assert set(subjects) == {f"Notice {n}" for n in range(NOTICES)}
    resent = [s for s, count in subjects.items() if count > 1]
    assert resent == [f"Notice {STALL_AT - 1}"]  # only the one in flight, once more
    assert subjects[resent[0]] == 2
    by_subject: dict[str, set[str]] = {}
    for m in handler.messages:
        by_subject.setdefault(m.message["Subject"], set()).add(m.message["Message-ID"])
    assert all(len(message_ids) == 1 for message_ids in by_subject.values())
    assert len(set(ids)) == NOTICES
