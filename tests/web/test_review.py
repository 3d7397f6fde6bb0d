"""The SECAS review queue pages: what they show, the review actions, roles and CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.clock import today, utcnow
from cpl_service.entries.models import Entry, EntryEvent
from cpl_service.parties.models import Party
from cpl_service.submissions.models import Submission, SubmissionDocument
from cpl_service.web.routes.review import notice_for
from tests.conftest import MakeParty, MakePerson, auth, sign_in
from tests.factories import make_entry
from tests.web.pages import assert_secured, csrf_of, page_sign_in
from tests.workbooks import build_workbook, valid_row

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SECAS_EMAIL = "sue@secas.example"


def make_submission(
    session: Session, party: Party, *, days_ago: int, filename: str = "cpl.xlsx"
) -> Submission:
    assert party.id is not None
    submission = Submission(
        party_id=party.id,
        filename=filename,
        content_sha256=f"{days_ago:064x}",
        size_bytes=100,
        created_at=utcnow() - timedelta(days=days_ago),
    )
    session.add(submission)
    session.commit()
    session.refresh(submission)
    return submission


def fresh(engine: Engine, entry_id: str) -> Entry:
    with Session(engine) as s:
        entry = s.exec(select(Entry).where(Entry.entry_id == entry_id)).one()
        s.expunge(entry)
        return entry


def events(engine: Engine, entry: Entry) -> list[EntryEvent]:
    with Session(engine) as s:
        found = s.exec(
            select(EntryEvent).where(EntryEvent.entry_pk == entry.id).order_by(col(EntryEvent.id))
        ).all()
        return list(found)


@dataclass
class Queue:
    """A queue of two submissions by one manufacturer, and a signed-in SECAS person."""

    maker: Party
    old: Submission
    new: Submission
    valid: Entry
    twelve: Entry
    six: Entry
    done: Entry
    conditional: Entry
    revoked: Entry
    token: str  # the SECAS person's CSRF token


@pytest.fixture
def secas(make_party: MakeParty, make_person: MakePerson) -> Party:
    party, _ = make_party("secas", name="SECAS")
    make_person(party, "Sue Reviewer", SECAS_EMAIL)
    return party


@pytest.fixture
def queue(
    client: TestClient, session: Session, make_party: MakeParty, secas: Party
) -> Iterator[Queue]:
    maker, _ = make_party("manufacturer", name="Acme Meters")
    # The newer submission is made first: the queue orders by upload time, not by number.
    new = make_submission(session, maker, days_ago=1, filename="new.xlsx")
    old = make_submission(session, maker, days_ago=3, filename="old.xlsx")
    session.add(
        SubmissionDocument(
            submission_id=old.id,  # type: ignore[arg-type]
            filename="cpa-certificate.pdf",
            sha256="a" * 64,
            size_bytes=len(PDF),
            content=PDF,
        )
    )
    session.commit()
    day = today()
    common: dict[str, Any] = {"party_id": maker.id, "zigbee_certificate_number": "ZIG-1"}
    valid = make_entry(
        session,
        submission_id=old.id,
        cpa_certificate_number="CPA-FAR",
        cpa_expiry_date=day + timedelta(days=800),
        **common,
    )
    twelve = make_entry(
        session,
        submission_id=old.id,
        cpa_certificate_number="CPA-12M",
        cpa_expiry_date=day + timedelta(days=300),
        **common,
    )
    six = make_entry(
        session,
        submission_id=old.id,
        cpa_certificate_number="CPA-6M",
        cpa_expiry_date=day + timedelta(days=60),
        **common,
    )
    done = make_entry(session, submission_id=old.id, status="active", **common)
    conditional = make_entry(
        session,
        submission_id=new.id,
        cpa_certificate_number="CPA-COND",
        cpa_expiry_date=day + timedelta(days=900),
        cpa_conditional_date=day + timedelta(days=700),
        **common,
    )
    revoked = make_entry(
        session,
        submission_id=new.id,
        party_id=maker.id,
        zigbee_certificate_number="ZIG-REVOKED",
        cpa_certificate_number="CPA-FAR",
    )
    certificate = session.exec(
        select(AssuranceCertificate).where(AssuranceCertificate.number == "ZIG-REVOKED")
    ).one()
    certificate.status = CertificateStatus.REVOKED
    certificate.revoked_at = utcnow()
    session.add(certificate)
    session.commit()
    token = page_sign_in(client, SECAS_EMAIL)
    yield Queue(maker, old, new, valid, twelve, six, done, conditional, revoked, token)


def certificate_line(html: str, number: str) -> str:
    """The text of the first list item naming certificate `number`."""
    found = re.search(rf"<li>[^<]*<a class=\"mono\"[^>]*>{re.escape(number)}</a>(.*?)</li>", html)
    assert found, f"no line for certificate {number}"
    return re.sub(r"<[^>]+>", "", found.group(1))


def section(html: str, submission: Submission) -> str:
    start = html.index(f'id="submission-{submission.id}"')
    end = html.find("</section>", start)
    return html[start:end]


def test_queue_groups_pending_entries_oldest_submission_first(
    client: TestClient, queue: Queue
) -> None:
    page = client.get("/review")
    assert page.status_code == 200
    assert_secured(page.headers)
    html = page.text
    assert "2 submissions with entries waiting for review" in html
    assert html.index(f'id="submission-{queue.old.id}"') < html.index(
        f'id="submission-{queue.new.id}"'
    )
    old = section(html, queue.old)
    assert "Acme Meters (manufacturer)" in old
    assert "3 pending review of 4" in old
    for pending in (queue.valid, queue.twelve, queue.six):
        assert f'id="entry-{pending.entry_id}"' in old
    assert queue.done.entry_id not in html  # Active: not in the queue
    assert f'href="/api/v1/submissions/{queue.old.id}/documents/' in old
    assert "cpa-certificate.pdf" in old
    new = section(html, queue.new)
    assert "2 pending review of 2" in new
    assert "none carried" in new


def test_queue_shows_where_each_certificate_stands(client: TestClient, queue: Queue) -> None:
    html = client.get("/review").text
    assert certificate_line(html, "CPA-FAR").startswith(": valid")
    assert certificate_line(html, "ZIG-1").startswith(": valid")
    twelve = certificate_line(html, "CPA-12M")
    assert "within 12 months of its end" in twelve
    assert (today() + timedelta(days=300)).isoformat() in twelve
    assert "its expiry date" in twelve
    assert "within 6 months of its end" in certificate_line(html, "CPA-6M")
    conditional = certificate_line(html, "CPA-COND")
    assert conditional.startswith(": valid")
    assert f"conditional until {(today() + timedelta(days=700)).isoformat()}" in conditional
    assert "revoked on" in certificate_line(html, "ZIG-REVOKED")


def test_uploaded_by_names_the_person_who_uploaded(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, secas: Party
) -> None:
    maker, _ = make_party("manufacturer", name="Bolt Devices")
    make_person(maker, "Mo Maker", "mo@bolt.example")
    headers = sign_in(client, "mo@bolt.example")
    upload = client.post(
        "/api/v1/submissions",
        files={"file": ("bolt.xlsx", build_workbook([valid_row()]))},
        headers=headers,
    )
    assert upload.status_code == 201, upload.text
    page_sign_in(client, SECAS_EMAIL)
    html = client.get("/review").text
    assert "by Mo Maker (Bolt Devices)" in html
    assert "1 pending review of 1" in html


def test_supplier_confirmation_state_is_shown(
    client: TestClient, session: Session, make_party: MakeParty, secas: Party
) -> None:
    maker, _ = make_party("manufacturer")
    submission = make_submission(session, maker, days_ago=1)
    waiting = make_entry(
        session,
        party_id=maker.id,
        submission_id=submission.id,
        submission_type="Firmware Update",
        previous_entry_id="CPL-000001",
    )
    confirmed = make_entry(
        session,
        party_id=maker.id,
        submission_id=submission.id,
        submission_type="Firmware Update",
        supplier_confirmation_ref="SUP-REF-9",
    )
    page_sign_in(client, SECAS_EMAIL)
    html = client.get("/review").text
    row = html[html.index(f'id="entry-{waiting.entry_id}"') :]
    assert "awaiting supplier confirmation" in row[: row.index("</tr>")]
    row = html[html.index(f'id="entry-{confirmed.entry_id}"') :]
    assert "confirmed by a supplier: SUP-REF-9" in row[: row.index("</tr>")]
    entry_page = client.get(f"/review/entries/{waiting.entry_id}").text
    assert "awaiting supplier confirmation" in entry_page
    assert "no supplier has confirmed" in entry_page  # the approval rule's own words


def test_an_empty_queue_says_so(client: TestClient, secas: Party) -> None:
    page_sign_in(client, SECAS_EMAIL)
    assert "No entry is waiting for review." in client.get("/review").text


def test_approve_one_entry(client: TestClient, engine: Engine, queue: Queue) -> None:
    response = client.post(
        f"/review/entries/{queue.valid.entry_id}/approve",
        data={"csrf_token": queue.token, "note": "certificates seen"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/review?done=approved&entry={queue.valid.entry_id}#submission-{queue.old.id}"
    )
    assert_secured(response.headers)
    assert fresh(engine, queue.valid.entry_id).status == "active"
    last = events(engine, queue.valid)[-1]
    assert (last.action, last.reason, last.actor_person) == (
        "approved",
        "certificates seen",
        "Sue Reviewer",
    )
    page = client.get(response.headers["location"])
    assert f"{queue.valid.entry_id} approved." in page.text
    assert "2 pending review of 4" in page.text


def test_reject_one_entry_needs_a_reason(client: TestClient, engine: Engine, queue: Queue) -> None:
    url = f"/review/entries/{queue.twelve.entry_id}/reject"
    for data in ({"csrf_token": queue.token}, {"csrf_token": queue.token, "reason": "   "}):
        refused = client.post(url, data=data, follow_redirects=False)
        assert refused.status_code == 422
        assert_secured(refused.headers)
        assert "A rejection needs a reason" in refused.text
        assert f'action="{url}"' in refused.text  # the form is shown again
        assert fresh(engine, queue.twelve.entry_id).status == "pending_review"
    done = client.post(
        url,
        data={"csrf_token": queue.token, "reason": "CPA certificate names another model"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert fresh(engine, queue.twelve.entry_id).status == "rejected"
    assert events(engine, queue.twelve)[-1].reason == "CPA certificate names another model"
    assert f"{queue.twelve.entry_id} rejected." in client.get(done.headers["location"]).text


def test_approve_a_whole_submission(client: TestClient, engine: Engine, queue: Queue) -> None:
    response = client.post(
        f"/review/submissions/{queue.old.id}/approve",
        data={"csrf_token": queue.token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert f"3 entries of submission {queue.old.id} approved." in page.text
    for entry in (queue.valid, queue.twelve, queue.six):
        assert fresh(engine, entry.entry_id).status == "active"
    assert f'id="submission-{queue.old.id}"' not in page.text  # nothing left to review


def test_a_submission_with_a_revoked_certificate_is_refused_whole(
    client: TestClient, engine: Engine, queue: Queue
) -> None:
    response = client.post(
        f"/review/submissions/{queue.new.id}/approve",
        data={"csrf_token": queue.token},
        follow_redirects=False,
    )
    assert response.status_code == 409
    assert_secured(response.headers)
    assert "text/html" in response.headers["content-type"]
    assert "ZIG-REVOKED, revoked" in response.text
    for entry in (queue.conditional, queue.revoked):
        assert fresh(engine, entry.entry_id).status == "pending_review"


def test_reject_a_whole_submission_needs_a_reason(
    client: TestClient, engine: Engine, queue: Queue
) -> None:
    url = f"/review/submissions/{queue.new.id}/reject"
    refused = client.post(url, data={"csrf_token": queue.token, "reason": ""})
    assert refused.status_code == 422
    assert "A rejection needs a reason" in refused.text
    assert f'action="{url}"' in refused.text
    assert fresh(engine, queue.revoked.entry_id).status == "pending_review"
    done = client.post(
        url, data={"csrf_token": queue.token, "reason": "ZigBee certificate revoked"}
    )
    assert done.status_code == 200  # the redirect, followed
    assert f"2 entries of submission {queue.new.id} rejected." in done.text
    for entry in (queue.conditional, queue.revoked):
        assert fresh(engine, entry.entry_id).status == "rejected"
        assert events(engine, entry)[-1].reason == "ZigBee certificate revoked"


def test_refused_transitions_are_pages_not_errors(
    client: TestClient, engine: Engine, queue: Queue
) -> None:
    cases = [
        (f"/review/entries/{queue.revoked.entry_id}/approve", {}, "revoked"),
        (f"/review/entries/{queue.done.entry_id}/approve", {}, "is active"),
        (f"/review/entries/{queue.done.entry_id}/reject", {"reason": "late"}, "is active"),
        (f"/review/entries/{queue.six.entry_id}/remove", None, "cannot become withdrawn"),
    ]
    for url, extra, words in cases:
        data = {"csrf_token": queue.token, **(extra or {})}
        if extra is None:
            data.update(status="withdrawn", panel_decision_ref="SECP_1")
        response = client.post(url, data=data, follow_redirects=False)
        assert response.status_code == 409, url
        assert words in response.text, url
        assert_secured(response.headers)
    assert fresh(engine, queue.revoked.entry_id).status == "pending_review"
    assert fresh(engine, queue.six.entry_id).status == "pending_review"
    missing = client.post(
        "/review/entries/CPL-999999/approve",
        data={"csrf_token": queue.token},
        follow_redirects=False,
    )
    assert missing.status_code == 404
    assert client.get("/review/submissions/999999").status_code == 404


def test_entry_page_shows_history_and_the_removal_form_only_when_listed(
    client: TestClient, queue: Queue
) -> None:
    pending = client.get(f"/review/entries/{queue.revoked.entry_id}")
    assert pending.status_code == 200
    assert_secured(pending.headers)
    assert "Approving now would be refused" in pending.text
    assert "/remove" not in pending.text
    assert "submitted" in pending.text  # the history
    active = client.get(f"/review/entries/{queue.done.entry_id}")
    assert f'action="/review/entries/{queue.done.entry_id}/remove"' in active.text
    assert f"/review/entries/{queue.done.entry_id}/approve" not in active.text


def test_record_a_removal_with_its_panel_decision(
    client: TestClient, engine: Engine, queue: Queue
) -> None:
    url = f"/review/entries/{queue.done.entry_id}/remove"
    for data, words in (
        ({"status": "withdrawn", "panel_decision_ref": " "}, "Panel decision reference"),
        ({"status": "withdrawn"}, "Panel decision reference"),
        ({"status": "deleted", "panel_decision_ref": "SECP_81_1906_12"}, "expired, cancelled or"),
        ({"panel_decision_ref": "SECP_81_1906_12"}, "expired, cancelled or"),
    ):
        refused = client.post(url, data={"csrf_token": queue.token, **data})
        assert refused.status_code == 422, data
        assert words in refused.text
        assert f'action="{url}"' in refused.text
        assert fresh(engine, queue.done.entry_id).status == "active"
    done = client.post(
        url,
        data={
            "csrf_token": queue.token,
            "status": "withdrawn",
            "panel_decision_ref": "SECP_81_1906_12",
            "reason": "manufacturer withdrew it",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/review/entries/{queue.done.entry_id}?done=withdrawn"
    entry = fresh(engine, queue.done.entry_id)
    assert (entry.status, entry.panel_decision_ref) == ("withdrawn", "SECP_81_1906_12")
    last = events(engine, entry)[-1]
    assert (last.action, last.panel_decision_ref, last.reason) == (
        "removed",
        "SECP_81_1906_12",
        "manufacturer withdrew it",
    )
    page = client.get(done.headers["location"]).text
    assert f"{queue.done.entry_id} is now withdrawn" in page
    assert "SECP_81_1906_12" in page
    assert "/remove" not in page  # removed entries stay listed, but are not removed twice


def _posts(queue: Queue) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"/review/entries/{queue.valid.entry_id}/approve", {}),
        (f"/review/entries/{queue.valid.entry_id}/reject", {"reason": "no"}),
        (f"/review/submissions/{queue.old.id}/approve", {}),
        (f"/review/submissions/{queue.old.id}/reject", {"reason": "no"}),
        (
            f"/review/entries/{queue.done.entry_id}/remove",
            {"status": "withdrawn", "panel_decision_ref": "SECP_1"},
        ),
    ]


def _statuses(engine: Engine, queue: Queue) -> list[str]:
    return [
        fresh(engine, e.entry_id).status for e in (queue.valid, queue.twelve, queue.six, queue.done)
    ]


def test_forms_without_the_csrf_token_change_nothing(
    client: TestClient, engine: Engine, queue: Queue
) -> None:
    before = _statuses(engine, queue)
    for url, data in _posts(queue):
        for token in (None, "forged", queue.token[:-2]):
            body = dict(data)
            if token:
                body["csrf_token"] = token
            response = client.post(url, data=body, follow_redirects=False)
            assert response.status_code == 403, (url, token)
            assert_secured(response.headers)
            assert "reload the page" in response.text
    assert _statuses(engine, queue) == before


@pytest.mark.parametrize("role", ["manufacturer", "supplier", "dcc"])
def test_every_other_role_is_refused(
    client: TestClient,
    engine: Engine,
    queue: Queue,
    make_party: MakeParty,
    make_person: MakePerson,
    role: str,
) -> None:
    party, bearer = make_party(role)
    make_person(party, "Other Person", f"other@{role}.example")
    client.cookies.clear()
    token = page_sign_in(client, f"other@{role}.example")
    before = _statuses(engine, queue)
    pages = [
        "/review",
        f"/review/submissions/{queue.old.id}",
        f"/review/entries/{queue.valid.entry_id}",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 403, url
        assert_secured(response.headers)
        assert "Only secas may do this" in response.text
    for url, data in _posts(queue):
        response = client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)
        assert response.status_code == 403, url
    assert _statuses(engine, queue) == before
    # The API refuses the same people the same way.
    api = client.post(f"/api/v1/entries/{queue.valid.entry_id}/approve", headers=auth(bearer))
    assert api.status_code == 403


def test_signed_out_visits_go_to_sign_in(client: TestClient, engine: Engine, queue: Queue) -> None:
    client.cookies.clear()
    before = _statuses(engine, queue)
    for url in ("/review", f"/review/entries/{queue.valid.entry_id}"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/sign-in?next={url}"
        assert_secured(response.headers)
    for url, data in _posts(queue):
        response = client.post(url, data=data, follow_redirects=False)
        assert response.status_code in (303, 403), url
    assert _statuses(engine, queue) == before


def test_the_queue_pages_long_submissions(
    client: TestClient, session: Session, make_party: MakeParty, secas: Party
) -> None:
    maker, _ = make_party("manufacturer")
    submission = make_submission(session, maker, days_ago=1)
    made = [make_entry(session, party_id=maker.id, submission_id=submission.id) for _ in range(52)]
    page_sign_in(client, SECAS_EMAIL)
    queue_page = client.get("/review").text
    assert "52 pending review of 52" in queue_page
    assert f'id="entry-{made[49].entry_id}"' in queue_page
    assert f'id="entry-{made[50].entry_id}"' not in queue_page
    link = f'href="/review/submissions/{submission.id}"'
    assert link in queue_page
    whole = client.get(f"/review/submissions/{submission.id}")
    assert whole.status_code == 200
    assert_secured(whole.headers)
    assert f'id="entry-{made[51].entry_id}"' in whole.text
    assert csrf_of(whole.text)


@pytest.mark.parametrize(
    ("done", "kwargs", "expected"),
    [
        ("approved", {"entry": "CPL-000001"}, "CPL-000001 approved."),
        ("rejected", {"entry": "CPL-000002"}, "CPL-000002 rejected."),
        ("submission-approved", {"n": 3, "submission": 7}, "3 entries of submission 7 approved."),
        ("submission-rejected", {"n": 1, "submission": 7}, "1 entry of submission 7 rejected."),
        ("cancelled", {"entry": "CPL-000003"}, "CPL-000003 is now cancelled"),
        ("approved", {"entry": "<script>"}, None),
        ("approved", {}, None),
        ("hacked", {"entry": "CPL-000001"}, None),
        (None, {}, None),
    ],
)
def test_notices_are_made_of_known_words(
    done: str | None, kwargs: dict[str, object], expected: str | None
) -> None:
    found = notice_for(done, **kwargs)  # type: ignore[arg-type]
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.startswith(expected)
