"""The outbox against a real SMTP server: the 12/6-month sequence, outages, retries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.notices import service
from cpl_service.notices.models import Notice
from cpl_service.notices.service import run_notices
from tests.notices.conftest import AddCertificate, AddEntry, Received, SmtpServer, free_port

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def run(engine: Engine, settings: Settings, day: date) -> service.RunSummary:
    return run_notices(engine=engine, settings=settings, as_of=day, clock=lambda: NOW)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def by_recipient(received: list[Received]) -> dict[str, Received]:
    return {str(r.message["To"]): r for r in received}


def notices(engine: Engine) -> list[Notice]:
    with Session(engine) as s:
        return list(s.exec(select(Notice).order_by(col(Notice.id))).all())


def test_the_full_12_6_month_and_end_sequence(
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    cert = add_certificate("CPA-1001", date(2027, 8, 31))
    a1 = add_entry("CPA-1001", "maker-a@example.com")
    a2 = add_entry("CPA-1001", "Maker-A@example.com ", device_type="ESME_SINGLE")
    b1 = add_entry("CPA-1001", "maker-b@example.com")
    add_entry("CPA-1001", "pending@example.com", status="pending_review")
    add_entry("CPA-1001", "gone@example.com", status="withdrawn")
    add_certificate("CPA-2002", date(2030, 1, 1))
    add_entry("CPA-2002", "later@example.com")

    assert run(engine, smtp_settings, date(2026, 8, 30)).queued == 0
    assert smtp_server.messages == []

    first = run(engine, smtp_settings, date(2026, 8, 31))
    assert (first.queued, first.sent, first.failed, first.waiting) == (2, 2, 0, 0)
    twelve = by_recipient(smtp_server.messages)
    assert set(twelve) == {"maker-a@example.com", "maker-b@example.com"}
    to_a = twelve["maker-a@example.com"]
    assert to_a.message["Cc"] == "secas@secas.test"
    assert sorted(to_a.rcpt_tos) == ["maker-a@example.com", "secas@secas.test"]
    assert to_a.mail_from == "cpl@secas.test"
    assert to_a.message["Subject"] == (
        "CPA certificate CPA-1001 ends on 31 August 2027: 12-month notice"
    )
    assert to_a.message.get_content_type() == "multipart/alternative"
    text, html = parts(to_a.message)
    # One email lists all of that contact's Device Models, and only theirs.
    assert a1.entry_id in text and a2.entry_id in text and b1.entry_id not in text
    assert "Single Element Electricity Metering Equipment (ESME_SINGLE)" in text
    assert a1.firmware_version in text
    assert "28 February 2027" in text  # when the 6-month notice follows
    assert "secas@secas.test" in text
    assert "What happens next" in text
    assert "Acme Meters &lt;Ltd&gt;" in html and "Acme Meters <Ltd>" not in html
    assert a1.entry_id in html
    b_text, _ = parts(twelve["maker-b@example.com"].message)
    assert b1.entry_id in b_text and a1.entry_id not in b_text

    # Any number of further runs before the next threshold send nothing.
    for day in (date(2026, 8, 31), date(2026, 9, 1), date(2027, 2, 27)):
        again = run(engine, smtp_settings, day)
        assert (again.queued, again.sent) == (0, 0)
    assert len(smtp_server.messages) == 2

    six = run(engine, smtp_settings, date(2027, 2, 28))  # 6 months before 31 August
    assert (six.queued, six.sent) == (2, 2)
    six_messages = by_recipient(smtp_server.messages[2:])
    assert set(six_messages) == {"maker-a@example.com", "maker-b@example.com"}
    assert six_messages["maker-b@example.com"].message["Subject"] == (
        "CPA certificate CPA-1001 ends on 31 August 2027: 6-month notice"
    )
    assert run(engine, smtp_settings, date(2027, 8, 30)).sent == 0

    end = run(engine, smtp_settings, date(2027, 8, 31))
    assert (end.queued, end.sent) == (1, 1)
    to_secas = smtp_server.messages[4]
    assert to_secas.message["To"] == "secas@secas.test"
    assert to_secas.message["Cc"] is None
    assert to_secas.message["Subject"] == (
        "CPA certificate CPA-1001 ended on 31 August 2027: 3 CPL entries due for removal"
    )
    text, _ = parts(to_secas.message)
    for entry in (a1, a2, b1):
        assert entry.entry_id in text
    assert "maker-b@example.com" in text and "pending@example.com" not in text

    assert run(engine, smtp_settings, date(2027, 9, 30)).sent == 0
    assert len(smtp_server.messages) == 5
    stored = notices(engine)
    assert {n.key for n in stored} == {
        f"cpa:{cert.id}:2027-08-31:12m:maker-a@example.com",
        f"cpa:{cert.id}:2027-08-31:12m:maker-b@example.com",
        f"cpa:{cert.id}:2027-08-31:6m:maker-a@example.com",
        f"cpa:{cert.id}:2027-08-31:6m:maker-b@example.com",
        f"cpa:{cert.id}:2027-08-31:end:secas@secas.test",
    }
    assert all(n.status == "sent" and n.attempts == 1 and n.sent_at for n in stored)
    assert len({str(r.message["Message-ID"]) for r in smtp_server.messages}) == 5


def test_a_late_first_run_sends_only_the_six_month_notice(
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    add_certificate("CPA-7", date(2027, 8, 31))
    add_entry("CPA-7", "maker@example.com")
    assert run(engine, smtp_settings, date(2027, 5, 1)).sent == 1
    for day in (date(2027, 5, 2), date(2027, 6, 1), date(2027, 8, 30)):
        assert run(engine, smtp_settings, day).sent == 0
    subjects = [str(r.message["Subject"]) for r in smtp_server.messages]
    assert subjects == ["CPA certificate CPA-7 ends on 31 August 2027: 6-month notice"]


def test_a_conditional_date_cleared_after_a_notice_does_not_resend_but_arms_the_new_end(
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    cert = add_certificate("CPA-C", date(2029, 12, 31), date(2027, 8, 31))
    add_entry("CPA-C", "maker@example.com")
    assert run(engine, smtp_settings, date(2027, 3, 1)).sent == 1
    first = smtp_server.messages[0].message
    assert first["Subject"] == "CPA certificate CPA-C ends on 31 August 2027: 6-month notice"
    assert "conditional date" in parts(first)[0]

    cert.cpa_conditional_date = None  # the conditions were met
    session.add(cert)
    session.commit()
    # The 6-month notice for 31 August 2027 is never sent again; the end is now the
    # expiry, 31 December 2029, and its own notices go out once each.
    for day in (date(2027, 9, 1), date(2028, 12, 30)):
        assert run(engine, smtp_settings, day).sent == 0, day
    assert run(engine, smtp_settings, date(2028, 12, 31)).sent == 1
    assert run(engine, smtp_settings, date(2029, 6, 29)).sent == 0
    assert run(engine, smtp_settings, date(2029, 6, 30)).sent == 1
    assert run(engine, smtp_settings, date(2029, 12, 30)).sent == 0
    end = run(engine, smtp_settings, date(2029, 12, 31))
    assert end.sent == 1
    subjects = [m.message["Subject"] for m in smtp_server.messages[1:]]
    assert subjects == [
        "CPA certificate CPA-C ends on 31 December 2029: 12-month notice",
        "CPA certificate CPA-C ends on 31 December 2029: 6-month notice",
        "CPA certificate CPA-C ended on 31 December 2029: 1 CPL entry due for removal",
    ]
    assert "its expiry date" in parts(smtp_server.messages[1].message)[0]


def test_a_certificate_revoked_before_its_notice_gets_none(
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    add_certificate("CPA-R", date(2027, 8, 31), status="revoked")
    add_entry("CPA-R", "maker@example.com")
    for day in (date(2026, 8, 31), date(2027, 2, 28), date(2027, 8, 31)):
        assert run(engine, smtp_settings, day).queued == 0
    assert smtp_server.messages == []


def test_a_contact_added_after_a_notice_is_told_too(
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    add_certificate("CPA-N", date(2027, 8, 31))
    add_entry("CPA-N", "first@example.com")
    assert run(engine, smtp_settings, date(2026, 9, 1)).sent == 1
    add_entry("CPA-N", "second@example.com")
    add_entry("CPA-N", "first@example.com")  # already told about this threshold
    assert run(engine, smtp_settings, date(2026, 10, 1)).sent == 1
    assert [r.message["To"] for r in smtp_server.messages] == [
        "first@example.com",
        "second@example.com",
    ]


def test_smtp_down_for_one_run_then_back_loses_and_doubles_nothing(
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    add_certificate("CPA-D", date(2027, 8, 31))
    for n in range(4):
        add_entry("CPA-D", f"maker{n}@example.com")

    smtp_server.stop()
    down = run(engine, smtp_settings, date(2026, 9, 1))
    assert (down.queued, down.sent, down.failed, down.waiting) == (4, 0, 1, 4)
    assert down.error and "cannot connect" in down.error
    stored = notices(engine)
    assert all(n.status == "queued" and n.sent_at is None for n in stored)
    assert [n.attempts for n in stored] == [1, 0, 0, 0]  # the rest wait untouched
    assert stored[0].last_error and "cannot connect" in stored[0].last_error

    smtp_server.start()
    back = run(engine, smtp_settings, date(2026, 9, 2))
    assert (back.queued, back.sent, back.failed, back.waiting) == (0, 4, 0, 0)
    assert run(engine, smtp_settings, date(2026, 9, 3)).sent == 0
    assert sorted(r.message["To"] for r in smtp_server.messages) == [
        f"maker{n}@example.com" for n in range(4)
    ]
    stored = notices(engine)
    assert all(n.status == "sent" for n in stored)
    assert [n.attempts for n in stored] == [2, 1, 1, 1]


def test_a_server_that_is_not_there_at_all(
    engine: Engine, settings: Settings, add_certificate: AddCertificate, add_entry: AddEntry
) -> None:
    closed = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_starttls": False}
    )
    add_certificate("CPA-X", date(2027, 8, 31))
    add_entry("CPA-X", "maker@example.com")
    for day in range(1, 15):  # an outage never makes a notice give up
        summary = run(engine, closed, date(2026, 9, day))
        assert (summary.sent, summary.waiting) == (0, 1)
    (notice,) = notices(engine)
    assert (notice.status, notice.attempts) == ("queued", 14)


async def refuse_bad(
    server: object, session: object, envelope: object, address: str, options: list[str]
) -> str:
    """An aiosmtpd RCPT hook refusing every bad@ mailbox."""
    if address.startswith("bad@"):
        return "550 5.1.1 no such mailbox"
    envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
    return "250 OK"


def test_a_partial_refusal_counts_as_sent_and_is_noted(
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
) -> None:
    smtp_server.handler.handle_RCPT = refuse_bad  # type: ignore[attr-defined]
    add_certificate("CPA-B", date(2027, 8, 31))
    add_entry("CPA-B", "bad@example.com")
    first = run(engine, smtp_settings, date(2026, 9, 1))
    # SECAS (Cc) got it, so sending again would double it: it is sent, with a note.
    assert (first.sent, first.failed) == (1, 0)
    (notice,) = notices(engine)
    assert notice.status == "sent"
    assert notice.last_error and "bad@example.com" in notice.last_error
    assert smtp_server.messages[0].rcpt_tos == ["secas@secas.test"]


def test_a_message_refused_for_every_recipient_stays_queued_and_is_given_up(
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    smtp_server.handler.handle_RCPT = refuse_bad  # type: ignore[attr-defined]
    monkeypatch.setattr(service, "MAX_ATTEMPTS", 3)
    composed = service.messages.Composed("Subject", "text", "<p>html</p>")
    for name in ("bad", "good"):
        service.queue_notice(
            session=session,
            key=f"test:{name}",
            kind="test",
            recipients=[f"{name}@x.test"],
            composed=composed,
            now=NOW,
        )
    session.commit()

    first = service.send_queued(
        engine=engine, transport=_smtp(smtp_settings), settings=smtp_settings, clock=utcnow
    )
    assert (first.sent, first.failed, first.gave_up) == (1, 1, 0)
    bad = _by_key(engine, "test:bad")
    assert (bad.status, bad.attempts) == ("queued", 1)
    assert bad.last_error and "no such mailbox" in bad.last_error
    service.send_queued(
        engine=engine, transport=_smtp(smtp_settings), settings=smtp_settings, clock=utcnow
    )
    last = service.send_queued(
        engine=engine, transport=_smtp(smtp_settings), settings=smtp_settings, clock=utcnow
    )
    assert (last.sent, last.failed, last.gave_up) == (0, 1, 1)
    assert _by_key(engine, "test:bad").status == "failed"
    after = service.send_queued(
        engine=engine, transport=_smtp(smtp_settings), settings=smtp_settings, clock=utcnow
    )
    assert (after.sent, after.failed) == (0, 0)
    assert [r.message["To"] for r in smtp_server.messages] == ["good@x.test"]


def _smtp(settings: Settings) -> service.Transport:
    from cpl_service.notices.mail import SmtpTransport

    return SmtpTransport(settings)


def _by_key(engine: Engine, key: str) -> Notice:
    with Session(engine) as s:
        found = s.exec(select(Notice).where(Notice.key == key)).one()
        return found


def test_eml_files_when_no_smtp_host(
    engine: Engine, settings: Settings, add_certificate: AddCertificate, add_entry: AddEntry
) -> None:
    import email
    import email.policy

    assert settings.smtp_host is None
    add_certificate("CPA-E", date(2027, 8, 31))
    add_entry("CPA-E", "one@example.com")
    add_entry("CPA-E", "two@example.com")
    assert run(engine, settings, date(2026, 9, 1)).sent == 2
    assert run(engine, settings, date(2026, 9, 2)).sent == 0
    files = sorted(settings.outbox_dir.glob("*.eml"))
    assert len(files) == 2
    assert not list(settings.outbox_dir.glob("*.tmp"))
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert sorted(str(m["To"]) for m in parsed) == ["one@example.com", "two@example.com"]
    for message in parsed:
        assert isinstance(message, EmailMessage)
        assert message["Subject"].endswith("12-month notice")
        assert message["Cc"] == "secas@secas.test"
        text, html = parts(message)
        assert "CPA-E" in text and "<table" in html
    assert all(f.name.startswith("cpa_") for f in files)


def test_overdue_alerts_go_out_once(
    engine: Engine, session: Session, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    from tests.notices.test_publication import make_extract

    make_extract(session, 1, issued_at=NOW - timedelta(hours=30), status="loaded")
    make_extract(session, 2, issued_at=NOW - timedelta(hours=24, minutes=1))
    make_extract(session, 3, issued_at=NOW - timedelta(hours=23))
    first = run(engine, smtp_settings, NOW.date())
    assert (first.queued, first.sent) == (1, 1)
    assert run(engine, smtp_settings, NOW.date()).sent == 0
    (alert,) = smtp_server.messages
    assert alert.message["To"] == "secas@secas.test"
    assert str(alert.message["Subject"]).startswith(
        "CPL version 2 not acknowledged by the DCC after 24 hours"
    )
