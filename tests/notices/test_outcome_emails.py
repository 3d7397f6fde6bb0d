"""Outcome emails: queued with the decision over HTTP, sent once by a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cpl_service.clock import today
from cpl_service.config import Settings
from cpl_service.entries import service as entries
from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.errors import ConflictError
from cpl_service.notices.decisions import queue_decision_notices
from cpl_service.notices.models import Notice
from cpl_service.notices.service import RunSummary, queue_publication_notice, run_notices
from cpl_service.parties.actors import Actor
from tests.conftest import MakeParty, MakePerson, auth, sign_in
from tests.factories import make_entry
from tests.notices.conftest import SmtpServer
from tests.notices.test_outbox import parts
from tests.notices.test_publication import make_extract
from tests.workbooks import build_workbook, valid_row

API = "/api/v1"
PUBLIC = "https://cpl.secas.example"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REASON = "The DLMS certificate names another model"
# A path of a page or download written on its own, without the host a mail reader needs.
BARE_PATH = re.compile(r"(?<![\w/.:])/(submissions|firmware-updates|cpl|review|extracts|api)\b")


def bodies(message: email.message.EmailMessage) -> tuple[str, str]:
    """The plain text and HTML of a message, with the wire's CRLF line ends as LF."""
    text, html = parts(message)
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def run(engine: Engine, settings: Settings) -> RunSummary:
    return run_notices(engine=engine, settings=settings, as_of=NOW.date(), clock=lambda: NOW)


def notices(engine: Engine) -> list[Notice]:
    with Session(engine) as s:
        return list(s.exec(select(Notice).order_by(col(Notice.id))).all())


@pytest.fixture
def public_client(smtp_settings: Settings) -> Iterator[TestClient]:
    """The API of a service that knows its public address."""
    from cpl_service.main import create_app

    app = create_app(smtp_settings.model_copy(update={"public_url": PUBLIC}))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


def upload(client: TestClient, headers: dict[str, str], rows: list[dict[str, Any]] | bytes) -> Any:
    content = rows if isinstance(rows, bytes) else build_workbook(rows)
    files = [("file", ("acme.xlsx", content, XLSX))]
    response = client.post(f"{API}/submissions", files=files, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_a_manufacturer_hears_each_decision_once_with_a_link_to_its_submission(
    public_client: TestClient,
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    make_party: MakeParty,
    make_person: MakePerson,
) -> None:
    maker, _ = make_party(
        "manufacturer", name="Acme <Meters>", emails=["cpl@acme.example", "ops@acme.example"]
    )
    _, secas = make_party("secas")
    make_person(maker, "Jane Smith", "jane@acme.example")
    jane = sign_in(public_client, "jane@acme.example")
    rows = [valid_row(**{"Firmware Version": f"0000000{n}"}) for n in (1, 2, 3)]
    submission = upload(public_client, jane, rows)
    sid = submission["id"]
    first, second, third = sorted(e["entry_id"] for e in submission["entries"])

    rejected = public_client.post(
        f"{API}/entries/{third}/reject", json={"reason": REASON}, headers=auth(secas)
    )
    assert rejected.status_code == 200, rejected.text
    approved = public_client.post(f"{API}/submissions/{sid}/approve", headers=auth(secas))
    assert approved.status_code == 200, approved.text
    # Queued with each decision; nothing is sent until the outbox runs.
    assert [n.status for n in notices(engine)] == ["queued", "queued"]
    assert smtp_server.messages == []

    summary = run(engine, smtp_settings)
    assert (summary.sent, summary.failed, summary.waiting) == (2, 0, 0)
    assert run(engine, smtp_settings).sent == 0
    on_rejection, on_approval = (r.message for r in smtp_server.messages)

    assert on_rejection["Subject"] == (
        f"CPL submission {sid}: 1 of 3 entries rejected, 2 still pending review"
    )
    assert on_approval["Subject"] == f"CPL submission {sid}: 2 of 3 entries approved, 1 rejected"
    for message in (on_rejection, on_approval):
        assert message["To"] == "cpl@acme.example, ops@acme.example, jane@acme.example"
        assert message["Cc"] is None
        assert message["X-CPL-Notice"] == "submission_outcome"
    assert sorted(smtp_server.messages[1].rcpt_tos) == [
        "cpl@acme.example",
        "jane@acme.example",
        "ops@acme.example",
    ]

    text, html = bodies(on_approval)
    assert f"2 of 3 entries approved, 1 rejected: {REASON}." in text
    assert "Dear Acme <Meters>," in text and "Dear Acme &lt;Meters&gt;," in html
    assert "uploaded on" in text and "by Jane Smith" in text and "acme.xlsx" in text
    approved_part, earlier = text.split("Rejected earlier")
    assert first in approved_part and second in approved_part and third not in approved_part
    assert third in earlier and REASON in earlier
    link = f"{PUBLIC}/submissions/{sid}"
    assert f"Your submission and all its entries: {link}\n" in text
    assert f'<a href="{link}">{link}</a>' in html
    for entry_id in (first, second):  # each approved entry's public page
        assert f"{entry_id} on the public CPL: {PUBLIC}/cpl/entries/{entry_id}\n" in text
    assert not BARE_PATH.search(text) and not BARE_PATH.search(html)

    text, _ = bodies(on_rejection)
    assert f"1 of 3 entries rejected: {REASON}; 2 still pending review." in text
    assert "upload it again in a new workbook" in text
    assert "SECAS has still to decide on 2 entries" in text

    stored = notices(engine)
    assert [n.key for n in stored] == [
        f"outcome:submission:{sid}:rejected:{third}",
        f"outcome:submission:{sid}:approved:{first}",
    ]
    assert all(n.status == "sent" and n.attempts == 1 for n in stored)
    assert len({str(r.message["Message-ID"]) for r in smtp_server.messages}) == 2


def test_a_retried_or_repeated_decision_sends_nothing_more(
    public_client: TestClient,
    engine: Engine,
    session: Session,
    make_party: MakeParty,
) -> None:
    maker, _ = make_party("manufacturer")
    _, secas = make_party("secas")
    entry = make_entry(session, party_id=maker.id)
    url = f"{API}/entries/{entry.entry_id}/approve"
    retried = {**auth(secas), "Idempotency-Key": "approve-once"}
    assert public_client.post(url, json={}, headers=retried).status_code == 200
    assert public_client.post(url, json={}, headers=retried).status_code == 200  # the replay
    assert public_client.post(url, json={}, headers=auth(secas)).status_code == 409
    reject = f"{API}/entries/{entry.entry_id}/reject"
    assert public_client.post(reject, json={"reason": "x"}, headers=auth(secas)).status_code == 409
    (notice,) = notices(engine)
    assert notice.key == f"outcome:entry:approved:{entry.entry_id}"
    assert notice.subject == f"CPL entry {entry.entry_id} approved"


def test_a_refused_decision_queues_no_email(
    public_client: TestClient, engine: Engine, session: Session, make_party: MakeParty
) -> None:
    maker, _ = make_party("manufacturer")
    _, secas = make_party("secas")
    ended = make_entry(
        session,
        party_id=maker.id,
        cpa_certificate_number="CPA-ENDED",
        cpa_expiry_date=today() - timedelta(days=1),
    )
    url = f"{API}/entries/{ended.entry_id}/approve"
    assert public_client.post(url, headers=auth(secas)).status_code == 409
    removal = f"{API}/entries/{ended.entry_id}/removal"
    refused = {"status": "withdrawn", "panel_decision_ref": "SECP_1"}
    assert public_client.post(removal, json=refused, headers=auth(secas)).status_code == 409
    assert notices(engine) == []


def _secas_actor(make_party: MakeParty) -> Actor:
    secas, _ = make_party("secas")
    return Actor.of(secas)


def test_the_email_commits_and_rolls_back_with_the_decision(
    engine: Engine, session: Session, settings: Settings, make_party: MakeParty
) -> None:
    maker, _ = make_party("manufacturer")
    actor = _secas_actor(make_party)
    entry = make_entry(session, party_id=maker.id)
    queue = partial(queue_decision_notices, settings=settings)

    def queue_then_crash(*, session: Session, decision: entries.Decision) -> object:
        assert queue(session=session, decision=decision) == 1
        raise RuntimeError("the process dies before the commit")

    with pytest.raises(RuntimeError):
        entries.approve(
            session=session, entry=entry, actor=actor, note=None, now=NOW, notify=queue_then_crash
        )
    session.rollback()
    # Neither the decision nor its email happened.
    with Session(engine) as fresh:
        stored = fresh.get(Entry, entry.id)
        assert stored is not None and stored.status == EntryStatus.PENDING_REVIEW
    assert notices(engine) == []

    entry = entries.get_entry(session=session, entry_id=entry.entry_id)
    entries.approve(session=session, entry=entry, actor=actor, note=None, now=NOW, notify=queue)
    (notice,) = notices(engine)
    assert notice.status == "queued" and notice.created_at == NOW
    with Session(engine) as fresh:
        stored = fresh.get(Entry, entry.id)
        assert stored is not None and stored.status == EntryStatus.ACTIVE

    # Queuing the same decision again (a replayed notify) is a no-op.
    again = entries.Decision(EntryStatus.ACTIVE, [entry], NOW)
    assert queue(session=session, decision=again) == 0


def test_a_decision_that_loses_a_race_queues_nothing(
    engine: Engine, session: Session, settings: Settings, make_party: MakeParty
) -> None:
    maker, _ = make_party("manufacturer")
    actor = _secas_actor(make_party)
    entry = make_entry(session, party_id=maker.id)
    queue = partial(queue_decision_notices, settings=settings)
    with Session(engine, expire_on_commit=False) as other:
        stale = entries.get_entry(session=other, entry_id=entry.entry_id)
        entries.reject(
            session=session, entry=entry, actor=actor, reason="no", now=NOW, notify=queue
        )
        # The second reviewer read the entry as pending; its approval must lose, email and all.
        with pytest.raises(ConflictError):
            entries.approve(
                session=other, entry=stale, actor=actor, note=None, now=NOW, notify=queue
            )
    assert [n.key for n in notices(engine)] == [f"outcome:entry:rejected:{entry.entry_id}"]


def test_a_removal_names_the_panel_decision_and_the_public_entry_page(
    public_client: TestClient,
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    make_party: MakeParty,
) -> None:
    _, maker_token = make_party("manufacturer", emails=["cpl@acme.example"])
    _, secas = make_party("secas")
    submission = upload(public_client, auth(maker_token), [valid_row()])
    (entry_id,) = [e["entry_id"] for e in submission["entries"]]
    approve = f"{API}/entries/{entry_id}/approve"
    assert public_client.post(approve, headers=auth(secas)).status_code == 200
    removed = public_client.post(
        f"{API}/entries/{entry_id}/removal",
        json={"status": "withdrawn", "panel_decision_ref": "SECP_81_1906_12", "reason": "Bug"},
        headers=auth(secas),
    )
    assert removed.status_code == 200, removed.text
    assert run(engine, smtp_settings).sent == 2
    message = smtp_server.messages[1].message
    assert message["To"] == "cpl@acme.example"
    assert message["Subject"] == (
        f"CPL submission {submission['id']}: CPL entry {entry_id} removed by Panel decision "
        "SECP_81_1906_12"
    )
    text, html = bodies(message)
    assert "Removed: Withdrawn (Panel decision SECP_81_1906_12; Bug)" in text
    page = f"{PUBLIC}/cpl/entries/{entry_id}"
    assert f"{entry_id} on the public CPL: {page}\n" in text
    assert f'<a href="{page}">' in html
    assert "stays listed on the CPL" in text


def test_an_entry_without_a_submission_tells_its_contact(
    public_client: TestClient, engine: Engine, session: Session, make_party: MakeParty
) -> None:
    _, secas = make_party("secas")
    imported = make_entry(session, status="active", contact_email="Legacy@Maker.example")
    response = public_client.post(
        f"{API}/entries/{imported.entry_id}/removal",
        json={"status": "expired", "panel_decision_ref": "SECP_90_1"},
        headers=auth(secas),
    )
    assert response.status_code == 200
    (notice,) = notices(engine)
    assert notice.recipients == "Legacy@Maker.example"
    assert notice.subject == f"CPL entry {imported.entry_id} removed by Panel decision SECP_90_1"
    assert "Dear CPL contact," in notice.body_text


def test_a_disabled_uploader_is_not_written_to(
    public_client: TestClient,
    engine: Engine,
    session: Session,
    make_party: MakeParty,
    make_person: MakePerson,
) -> None:
    maker, _ = make_party("manufacturer", emails=["cpl@acme.example"])
    _, secas = make_party("secas")
    person = make_person(maker, "Sam Left", "sam@acme.example")
    submission = upload(public_client, sign_in(public_client, "sam@acme.example"), [valid_row()])
    person.disabled_at = NOW
    session.add(person)
    session.commit()
    url = f"{API}/submissions/{submission['id']}/approve"
    assert public_client.post(url, headers=auth(secas)).status_code == 200
    (notice,) = notices(engine)
    assert notice.recipients == "cpl@acme.example"
    assert "by Sam Left" in notice.body_text  # still named as the uploader


def _firmware_rows(previous: str) -> list[dict[str, Any]]:
    update = {
        "Submission Type": "Firmware Update",
        "Certificate Mapping Evidence": "Letter from the CPA lab, ref 42",
        "Previous CPL Entry ID": previous,
    }
    return [
        valid_row(**update, **{"Firmware Version": "0000F001"}),
        valid_row(**update, **{"Firmware Version": "0000F002"}),
        valid_row(**{"Model ID": "0002", "Firmware Version": "0000F003"}),
    ]


def test_suppliers_are_asked_once_to_confirm_a_manufacturers_firmware_updates(
    public_client: TestClient,
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    make_party: MakeParty,
) -> None:
    previous = make_entry(session, status="active")
    _, maker = make_party("manufacturer", name="Acme Meters")
    make_party("supplier", name="Power Co", emails=["meters@power.example"])
    make_party("supplier", name="Gas Co", emails=["a@gas.example", "b@gas.example"])
    make_party("dcc")
    content = build_workbook(_firmware_rows(previous.entry_id))
    submission = upload(public_client, auth(maker), content)
    assert upload(public_client, auth(maker), content)["id"] == submission["id"]  # once more
    assert run(engine, smtp_settings).sent == 2
    received = {str(r.message["To"]): r.message for r in smtp_server.messages}
    assert set(received) == {"meters@power.example", "a@gas.example, b@gas.example"}
    message = received["meters@power.example"]
    assert message["Subject"] == (
        f"2 firmware updates from Acme Meters await a supplier's confirmation "
        f"(submission {submission['id']})"
    )
    assert message["X-CPL-Notice"] == "firmware_confirmation"
    text, html = bodies(message)
    assert "Dear Power Co," in text
    updates = sorted(e["entry_id"] for e in submission["entries"])[:2]
    new_model = sorted(e["entry_id"] for e in submission["entries"])[2]
    assert all(u in text for u in updates) and new_model not in text
    page = f"{PUBLIC}/firmware-updates"
    assert f"confirm each one with your reference on {page}\n" in text
    assert f'<a href="{page}">' in html
    assert not BARE_PATH.search(text)

    # A supplier's own firmware update is confirmed by its submission: nobody is asked.
    _, supplier = make_party("supplier", name="Self Supplier")
    other = _firmware_rows(previous.entry_id)
    for row in other:
        row["Firmware Version"] = row["Firmware Version"].replace("F", "E")
    upload(public_client, auth(supplier), other[:2])
    assert run(engine, smtp_settings).sent == 0


def test_without_a_public_url_emails_say_where_to_look_in_words(
    client: TestClient,
    engine: Engine,
    session: Session,
    settings: Settings,
    make_party: MakeParty,
) -> None:
    assert settings.public_url is None and settings.smtp_host is None
    previous = make_entry(session, status="active")
    _, maker = make_party("manufacturer", emails=["cpl@acme.example"])
    make_party("supplier")
    _, secas = make_party("secas")
    submission = upload(client, auth(maker), _firmware_rows(previous.entry_id))
    entry_id = sorted(e["entry_id"] for e in submission["entries"])[2]
    reject = f"{API}/entries/{entry_id}/reject"
    assert client.post(reject, json={"reason": REASON}, headers=auth(secas)).status_code == 200
    with Session(engine) as s:
        queue_publication_notice(session=s, extract=make_extract(s, 1), settings=settings)
        s.commit()
    # The outcome, the supplier's request, 3 parties told of the extract, and (as the extract
    # is months old) the overdue alert to SECAS.
    assert run(engine, settings).sent == 6
    files = sorted(settings.outbox_dir.glob("*.eml"))
    assert len(files) == 6
    texts = {}
    for file in files:
        message = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        text, html = bodies(message)
        assert not BARE_PATH.search(text), text
        assert not BARE_PATH.search(html), html
        assert "http" not in text and "<a " not in html
        texts[str(message["X-CPL-Notice"])] = text
    assert (
        f"Your submission and all its entries: submission {submission['id']} under "
        "Submissions, when you sign in to the CPL service." in texts["submission_outcome"]
    )
    assert (
        "Firmware updates awaiting confirmation, when you sign in"
        in (texts["firmware_confirmation"])
    )
    assert "Search the list: the public CPL page of the CPL service" in texts["cpl_published"]
    assert "Its DCC status is on Extracts, when you sign in" in texts["extract_overdue"]


def test_the_publication_email_links_to_the_list(
    engine: Engine, session: Session, smtp_settings: Settings, make_party: MakeParty
) -> None:
    make_party("dcc", emails=["cpl@dcc.example"])
    public = smtp_settings.model_copy(update={"public_url": PUBLIC + "/"})
    queue_publication_notice(session=session, extract=make_extract(session, 3), settings=public)
    session.commit()
    (notice,) = notices(engine)
    assert f"Search the list: {PUBLIC}/cpl\n" in notice.body_text
    assert f"Download it as CSV: {PUBLIC}/api/v1/cpl.csv\n" in notice.body_text
    assert f"Download it as Excel: {PUBLIC}/api/v1/cpl.xlsx\n" in notice.body_text
    assert f'<a href="{PUBLIC}/cpl">{PUBLIC}/cpl</a>' in notice.body_html
    assert not BARE_PATH.search(notice.body_text)


def test_smtp_down_then_back_delivers_an_outcome_once(
    public_client: TestClient,
    engine: Engine,
    session: Session,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    make_party: MakeParty,
) -> None:
    maker, _ = make_party("manufacturer", emails=["cpl@acme.example"])
    _, secas = make_party("secas")
    entry = make_entry(session, party_id=maker.id)
    smtp_server.stop()
    approve = f"{API}/entries/{entry.entry_id}/approve"
    assert public_client.post(approve, headers=auth(secas)).status_code == 200
    down = run(engine, smtp_settings)
    assert (down.sent, down.failed, down.waiting) == (0, 1, 1)
    smtp_server.start()
    back = run(engine, smtp_settings)
    assert (back.sent, back.waiting) == (1, 0)
    assert run(engine, smtp_settings).sent == 0
    (received,) = smtp_server.messages
    assert received.message["Subject"] == f"CPL entry {entry.entry_id} approved"
    (notice,) = notices(engine)
    assert (notice.status, notice.attempts) == ("sent", 2)


def test_every_party_a_decision_touches_gets_its_own_email(
    engine: Engine, session: Session, settings: Settings, make_party: MakeParty
) -> None:
    one, _ = make_party("manufacturer", emails=["one@example.com"])
    two, _ = make_party("manufacturer", emails=["two@example.com"])
    first = make_entry(session, party_id=one.id)
    second = make_entry(session, party_id=two.id)
    third = make_entry(session, party_id=one.id)
    decision = entries.Decision(EntryStatus.ACTIVE, [third, second, first], NOW)
    for entry in (first, second, third):
        entry.status = EntryStatus.ACTIVE
    assert queue_decision_notices(session=session, decision=decision, settings=settings) == 2
    session.commit()
    by_party = {n.recipients: n for n in notices(engine)}
    assert set(by_party) == {"one@example.com", "two@example.com"}
    assert by_party["one@example.com"].subject == "All 2 entries approved"
    assert first.entry_id in by_party["one@example.com"].body_text
    assert third.entry_id in by_party["one@example.com"].body_text
    assert second.entry_id not in by_party["one@example.com"].body_text
