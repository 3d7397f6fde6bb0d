"""Two `notices run` at the same moment: every notice is queued once and sent once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from cpl_service.config import Settings
from cpl_service.db import make_engine
from cpl_service.notices.models import Notice
from cpl_service.notices.service import RunSummary, run_notices
from tests.notices.conftest import AddCertificate, AddEntry, SmtpServer

NOW = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)


def _seed(add_certificate: AddCertificate, add_entry: AddEntry) -> int:
    """Three certificates at different thresholds; returns how many notices are due."""
    add_certificate("CPA-A", date(2027, 8, 31))  # 12m due: one per contact
    add_certificate("CPA-B", date(2027, 2, 28))  # 6m due
    add_certificate("CPA-C", date(2026, 8, 31))  # ended: one notice to SECAS
    for n in range(12):
        add_entry("CPA-A", f"a{n}@example.com")
    for n in range(6):
        add_entry("CPA-B", f"b{n}@example.com")
    add_entry("CPA-C", "c@example.com")
    return 12 + 6 + 1


def _slow_down(smtp_server: SmtpServer) -> None:
    """Make each delivery take a moment, so the two runs' sends really overlap."""
    collect = smtp_server.handler.handle_DATA

    async def slow(server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.02)
        return await collect(server, session, envelope)

    smtp_server.handler.handle_DATA = slow  # type: ignore[method-assign]


def _count(engine: Engine, status: str) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Notice).where(Notice.status == status)).one()


def test_concurrent_runs_send_each_notice_exactly_once(
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    expected = _seed(add_certificate, add_entry)
    _slow_down(smtp_server)
    runners = 4
    barrier = threading.Barrier(runners)
    results: list[RunSummary] = []
    errors: list[BaseException] = []

    def one_run() -> None:
        own_engine = make_engine(smtp_settings)  # its own connections, like a process
        try:
            barrier.wait()
            results.append(
                run_notices(
                    engine=own_engine, settings=smtp_settings, as_of=NOW.date(), clock=lambda: NOW
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            own_engine.dispose()

    threads = [threading.Thread(target=one_run) for _ in range(runners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sum(r.queued for r in results) == expected
    assert sum(r.sent for r in results) == expected
    assert len(smtp_server.messages) == expected
    ids = Counter(str(r.message["Message-ID"]) for r in smtp_server.messages)
    assert max(ids.values()) == 1
    assert _count(engine, "sent") == expected


def test_two_cli_processes_started_together(
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    expected = _seed(add_certificate, add_entry)
    _slow_down(smtp_server)
    env = {
        **os.environ,
        "CPL_DATA_DIR": str(smtp_settings.data_dir),
        "CPL_DATABASE_URL": smtp_settings.resolved_database_url,
        "CPL_SMTP_HOST": "127.0.0.1",
        "CPL_SMTP_PORT": str(smtp_server.port),
        "CPL_SMTP_STARTTLS": "false",
        "CPL_SECAS_EMAIL": smtp_settings.secas_email,
    }
    command = [sys.executable, "-m", "cpl_service.cli", "notices", "run", "--as-of", "2026-09-01"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert len(smtp_server.messages) == expected
    assert len({str(r.message["Message-ID"]) for r in smtp_server.messages}) == expected
    assert _count(engine, "sent") == expected
    lines = [out.decode().strip().splitlines()[-1] for out, _ in outputs]
    sent = sum(int(line.split("sent ")[1].split(",")[0]) for line in lines)
    assert sent == expected, lines
