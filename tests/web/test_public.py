"""The public CPL pages: search, filters, pages, one entry — and no personal data."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from cpl_service.web.routes.public import PAGE_SIZE, page_link
from tests.conftest import MakeParty, MakePerson, auth, sign_in
from tests.factories import make_entry
from tests.web.pages import assert_secured

API = "/api/v1"
REVIEWER = "Sarah Reviewer"
REVIEWER_EMAIL = "sarah.reviewer@secas.example"
CONTACT_EMAIL = "jane.maker@acme.example"
REASON = "Asked for by Sarah Reviewer on the phone"


def _entry_ids(html: str) -> list[str]:
    return re.findall(r'<a href="/cpl/entries/(CPL-\d+)">', html)


def _listed_by_a_person(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> tuple[str, str]:
    """An entry approved and then withdrawn by a SECAS person; and one still pending.

    The entry carries a contact email, and its history the reviewer's name and a reason
    that names them: none of it may reach a public page.
    """
    secas, _ = make_party("secas", name="SECAS")
    make_person(secas, REVIEWER, REVIEWER_EMAIL)
    headers = sign_in(client, REVIEWER_EMAIL)
    entry = make_entry(session, firmware_version="7F3A9C0A", contact_email=CONTACT_EMAIL)
    approved = client.post(f"{API}/entries/{entry.entry_id}/approve", headers=headers)
    assert approved.status_code == 200, approved.text
    removed = client.post(
        f"{API}/entries/{entry.entry_id}/removal",
        json={"status": "withdrawn", "panel_decision_ref": "SECP_99_0101_01", "reason": REASON},
        headers=headers,
    )
    assert removed.status_code == 200, removed.text
    pending = make_entry(session, firmware_version="7F3A9C0B", contact_email=CONTACT_EMAIL)
    return entry.entry_id, pending.entry_id


def test_search_by_firmware_finds_the_entry_with_no_personal_data(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    listed, _pending = _listed_by_a_person(client, session, make_party, make_person)
    make_entry(session, status="active", firmware_version="OTHER-1")

    found = client.get("/cpl", params={"q": "7f3a9c0"})
    assert found.status_code == 200
    assert_secured(found.headers)
    assert _entry_ids(found.text) == [listed]  # the pending one is not listed
    assert "Withdrawn" in found.text
    for private in (REVIEWER, REVIEWER_EMAIL, CONTACT_EMAIL):
        assert private not in found.text

    page = client.get(f"/cpl/entries/{listed}")
    assert page.status_code == 200
    assert_secured(page.headers)
    assert "7F3A9C0A" in page.text and "SECP_99_0101_01" in page.text
    assert "Not yet listed" in page.text  # the listing event, then the withdrawal
    assert page.text.count("<td>SECAS</td>") == 2  # the acting party, never the person
    for private in (REVIEWER, REVIEWER_EMAIL, CONTACT_EMAIL, REASON):
        assert private not in page.text
    # The same entry in the API's own view does carry the person: the page leaves it out.
    secas_token = make_party("secas")[1]
    full = client.get(f"{API}/entries/{listed}", headers=auth(secas_token)).json()
    assert REVIEWER in {e["actor_person"] for e in full["history"]}


def test_an_entry_not_on_the_public_list_is_not_found(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    listed, pending = _listed_by_a_person(client, session, make_party, make_person)
    rejected = make_entry(session, status="rejected")
    for entry_id in (pending, rejected.entry_id, "CPL-999999"):
        missing = client.get(f"/cpl/entries/{entry_id}")
        assert missing.status_code == 404, entry_id
        assert_secured(missing.headers)
        assert "7F3A9C0B" not in missing.text
    assert client.get(f"/cpl/entries/{listed.lower()}").status_code == 200


def test_filters_by_device_type_and_status(client: TestClient, session: Session) -> None:
    meter = make_entry(session, status="active", physical_device_type="ESME_SINGLE")
    hub = make_entry(session, status="active", physical_device_type="CH")
    gone = make_entry(session, status="expired", physical_device_type="CH")

    assert _entry_ids(client.get("/cpl", params={"device_type": "CH"}).text) == [
        hub.entry_id,
        gone.entry_id,
    ]
    by_both = client.get("/cpl", params={"device_type": "CH", "status": "Expired"})
    assert _entry_ids(by_both.text) == [gone.entry_id]
    assert '<option value="Expired" selected>' in by_both.text
    assert _entry_ids(client.get("/cpl", params={"status": "Active"}).text) == [
        meter.entry_id,
        hub.entry_id,
    ]
    wrong = client.get("/cpl", params={"status": "pending_review"})
    assert wrong.status_code == 422
    assert "Unknown status" in wrong.text
    assert_secured(wrong.headers)


def test_pages_keep_the_query(client: TestClient, session: Session) -> None:
    ids = [
        make_entry(session, status="active", model_name="Pager").entry_id
        for _ in range(PAGE_SIZE + 3)
    ]
    make_entry(session, status="active", model_name="Other")

    first = client.get("/cpl", params={"q": "pager"})
    assert _entry_ids(first.text) == ids[:PAGE_SIZE]
    assert f"{PAGE_SIZE + 3} entries, page 1 of 2" in first.text
    assert 'href="/cpl?q=pager&amp;page=2"' in first.text
    second = client.get("/cpl?q=pager&page=2")
    assert _entry_ids(second.text) == ids[PAGE_SIZE:]
    assert 'href="/cpl?q=pager"' in second.text and "page=3" not in second.text
    assert client.get("/cpl?page=0").status_code == 422
    beyond = client.get("/cpl?q=pager&page=9")
    assert _entry_ids(beyond.text) == []
    assert 'There is no page 9 of these results: <a href="/cpl?q=pager">' in beyond.text


def test_the_page_links_to_the_downloads_and_the_signing_chain(client: TestClient) -> None:
    page = client.get("/cpl")
    for link in ("/api/v1/cpl.csv", "/api/v1/cpl.xlsx", "/api/v1/signing/certificates"):
        assert f'href="{link}"' in page.text
        assert client.get(link).status_code == 200, link


def test_page_link_drops_empty_fields_and_the_first_page() -> None:
    assert page_link({"q": "", "status": ""}, 1) == "/cpl"
    assert page_link({"q": "a b&c", "status": "Active"}, 3) == "/cpl?q=a+b%26c&status=Active&page=3"
