"""Publication emails: new CPL version, the DCC's acknowledgement, the overdue alert."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from cpl_service.config import Settings
from cpl_service.extracts.models import DccStatus, Extract
from cpl_service.notices.service import (
    queue_acknowledgement_notice,
    queue_overdue_alerts,
    queue_publication_notice,
    run_notices,
)
from tests.conftest import MakeParty
from tests.notices.conftest import SmtpServer
from tests.notices.test_outbox import parts

ISSUED = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def make_extract(
    session: Session, sequence: int, *, issued_at: datetime = ISSUED, status: str = "pending"
) -> Extract:
    payload = f"extract {sequence}".encode()
    extract = Extract(
        sequence=sequence,
        issued_at=issued_at,
        next_update=issued_at + timedelta(days=30),
        sha256=hashlib.sha256(payload).hexdigest(),
        entry_count=12,
        change_count=3,
        payload=payload,
        signature=b"sig",
        dcc_status=DccStatus(status),
    )
    session.add(extract)
    session.commit()
    session.refresh(extract)
    return extract


def test_publication_and_acknowledgement_reach_every_party_once(
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    make_party: MakeParty,
) -> None:
    make_party("secas", name="SECAS", emails=["ops@secas.example.com"])
    make_party("dcc", name="DCC", emails=["cpl@dcc.example.com", "oncall@dcc.example.com"])
    make_party("manufacturer", name="Acme <Meters>", emails=["cpl@acme.example.com"])
    extract = make_extract(session, 7)

    assert queue_publication_notice(session=session, extract=extract, settings=smtp_settings) == 3
    assert queue_publication_notice(session=session, extract=extract, settings=smtp_settings) == 0
    session.commit()
    # Queuing alone sends nothing; the run does.
    assert smtp_server.messages == []
    summary = run_notices(
        engine=engine, settings=smtp_settings, as_of=ISSUED.date(), clock=lambda: ISSUED
    )
    assert summary.sent == 3
    received = {str(r.message["To"]): r.message for r in smtp_server.messages}
    assert set(received) == {
        "ops@secas.example.com",
        "cpl@dcc.example.com, oncall@dcc.example.com",
        "cpl@acme.example.com",
    }
    to_acme = received["cpl@acme.example.com"]
    assert to_acme["Subject"] == "CPL version 7 published on 3 March 2026: DCC load pending"
    text, html = parts(to_acme)
    assert "Dear Acme <Meters>," in text and "Dear Acme &lt;Meters&gt;," in html
    assert extract.sha256 in text and "DCC load is pending" in text

    extract.dcc_status = DccStatus.LOADED
    extract.acknowledged_at = ISSUED + timedelta(hours=2)
    extract.acknowledgement_detail = "Loaded into SMI <ok>"
    session.add(extract)
    assert (
        queue_acknowledgement_notice(session=session, extract=extract, settings=smtp_settings) == 3
    )
    assert (
        queue_acknowledgement_notice(session=session, extract=extract, settings=smtp_settings) == 0
    )
    session.commit()
    assert (
        run_notices(
            engine=engine, settings=smtp_settings, as_of=ISSUED.date(), clock=lambda: ISSUED
        ).sent
        == 3
    )
    acks = smtp_server.messages[3:]
    assert {str(r.message["Subject"]) for r in acks} == {
        "CPL version 7: DCC load complete (3 March 2026 11:30 UTC)"
    }
    text, html = parts(acks[0].message)
    assert "Loaded into SMI <ok>" in text and "Loaded into SMI &lt;ok&gt;" in html
    assert (
        run_notices(
            engine=engine, settings=smtp_settings, as_of=ISSUED.date(), clock=lambda: ISSUED
        ).sent
        == 0
    )


def test_a_rejected_load_is_announced(
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    make_party: MakeParty,
) -> None:
    make_party("supplier", name="Supplier", emails=["s@supplier.example.com"])
    extract = make_extract(session, 2, status="rejected")
    extract.acknowledged_at = ISSUED + timedelta(hours=1)
    extract.acknowledgement_detail = "signature chain not trusted"
    assert (
        queue_acknowledgement_notice(session=session, extract=extract, settings=smtp_settings) == 1
    )
    session.commit()
    run_notices(engine=engine, settings=smtp_settings, as_of=ISSUED.date(), clock=lambda: ISSUED)
    (message,) = [r.message for r in smtp_server.messages]
    assert message["Subject"] == "CPL version 2: DCC rejected the load (3 March 2026 10:30 UTC)"
    assert "signature chain not trusted" in parts(message)[0]


def test_a_pending_extract_gets_no_acknowledgement_notice(
    session: Session, settings: Settings, make_party: MakeParty
) -> None:
    make_party("dcc")
    extract = make_extract(session, 1)
    assert queue_acknowledgement_notice(session=session, extract=extract, settings=settings) == 0


def test_overdue_alert_is_queued_once_after_the_window(
    session: Session, settings: Settings
) -> None:
    make_extract(session, 1)
    for hours, expected in ((23, 0), (24, 1), (25, 0), (48, 0)):
        now = ISSUED + timedelta(hours=hours)
        assert queue_overdue_alerts(session=session, now=now, settings=settings) == expected
    session.commit()
    acknowledged = make_extract(session, 2, status="loaded")
    assert (
        queue_overdue_alerts(
            session=session, now=acknowledged.issued_at + timedelta(days=3), settings=settings
        )
        == 0
    )
