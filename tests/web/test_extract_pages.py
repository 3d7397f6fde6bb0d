"""The DCC's extract pages: list, detail, and the acknowledgement form."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cpl_service.extracts.models import DccStatus, Extract
from cpl_service.extracts.service import acknowledged_by
from cpl_service.web.routes.extracts import PAGE_SIZE
from tests.conftest import MakeParty, MakePerson, auth
from tests.factories import make_entry
from tests.web.pages import assert_secured, csrf_of, page_sign_in

API = "/api/v1"
DCC_PERSON = "Dee Operator"


@pytest.fixture
def people(make_party: MakeParty, make_person: MakePerson) -> dict[str, str]:
    """One signed-in-able person per role (email by role), and the SECAS token."""
    emails: dict[str, str] = {}
    for role in ("secas", "dcc", "manufacturer", "supplier"):
        party, token = make_party(role, name=f"The {role.upper()} party")
        make_person(party, DCC_PERSON if role == "dcc" else f"{role} person", f"{role}@p.example")
        emails[role] = f"{role}@p.example"
        if role == "secas":
            emails["secas_token"] = token
    return emails


def _publish(client: TestClient, secas_token: str, count: int = 1) -> None:
    for _ in range(count):
        done = client.post(f"{API}/extracts", headers=auth(secas_token))
        assert done.status_code == 201, done.text


def _status(session: Session, sequence: int) -> DccStatus:
    session.expire_all()
    extract = session.exec(select(Extract).where(Extract.sequence == sequence)).one()
    return extract.dcc_status


def test_list_newest_first_with_downloads_for_dcc_and_secas(
    client: TestClient, session: Session, people: dict[str, str]
) -> None:
    make_entry(session, status="active")
    _publish(client, people["secas_token"], 2)
    for role in ("dcc", "secas"):
        page_sign_in(client, people[role])
        page = client.get("/extracts")
        assert page.status_code == 200
        assert_secured(page.headers)
        assert re.findall(r'<a href="/extracts/(\d+)">', page.text) == ["2", "1"]
        for link in ("/api/v1/extracts/2", "/api/v1/extracts/2/signature"):
            assert f'href="{link}"' in page.text
            download = client.get(link)  # the session cookie is enough for the API
            assert download.status_code == 200, link
        client.cookies.clear()


def test_list_pages_and_overdue(
    client: TestClient, session: Session, people: dict[str, str]
) -> None:
    _publish(client, people["secas_token"], PAGE_SIZE + 1)
    page_sign_in(client, people["dcc"])
    first = client.get("/extracts")
    assert len(re.findall(r'<a href="/extracts/(\d+)">', first.text)) == PAGE_SIZE
    assert 'href="/extracts?page=2"' in first.text
    assert "overdue" not in first.text.lower()
    second = client.get("/extracts?page=2")
    assert re.findall(r'<a href="/extracts/(\d+)">', second.text) == ["1"]
    # Published rows never change, so shorten the DCC's window instead of backdating.
    client.app.state.settings.extract_ack_hours = 0  # type: ignore[attr-defined]
    late = client.get("/extracts?page=2")
    assert "1 extract is overdue" in late.text and "Overdue" in late.text
    assert "Overdue: the DCC has not acknowledged" in client.get("/extracts/1").text


def test_dcc_acknowledges_through_the_form(
    client: TestClient, session: Session, people: dict[str, str]
) -> None:
    _publish(client, people["secas_token"], 2)
    page_sign_in(client, people["dcc"])
    page = client.get("/extracts/1")
    assert page.status_code == 200
    assert 'action="/extracts/1/acknowledgement"' in page.text
    done = client.post(
        "/extracts/1/acknowledgement",
        data={"csrf_token": csrf_of(page.text), "status": "loaded"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/extracts/1?acknowledged=loaded"
    assert_secured(done.headers)
    assert _status(session, 1) == DccStatus.LOADED
    after = client.get(done.headers["location"])
    assert "is recorded as loaded" in after.text
    main = after.text.split("<main", 1)[1].split("</main>", 1)[0]
    assert "by The DCC party" in main and DCC_PERSON not in main  # the party, not the person
    assert 'action="/extracts/1/acknowledgement"' not in after.text  # once only
    assert acknowledged_by(session=session, sequences=[1, 2]) == {1: "The DCC party"}

    # A rejection needs a detail: the form comes back with the message, nothing recorded.
    form = client.get("/extracts/2")
    token = csrf_of(form.text)
    bare = client.post(
        "/extracts/2/acknowledgement", data={"csrf_token": token, "status": "rejected"}
    )
    assert bare.status_code == 422
    assert "needs a detail" in bare.text
    assert _status(session, 2) == DccStatus.PENDING
    rejected = client.post(
        "/extracts/2/acknowledgement",
        data={"csrf_token": token, "status": "rejected", "detail": "Row 3 will not load"},
    )
    assert rejected.status_code == 200
    assert "Row 3 will not load" in rejected.text
    assert _status(session, 2) == DccStatus.REJECTED
    again = client.post(
        "/extracts/2/acknowledgement", data={"csrf_token": token, "status": "loaded"}
    )
    assert again.status_code == 409
    assert_secured(again.headers)
    assert _status(session, 2) == DccStatus.REJECTED


def test_secas_sees_the_extract_without_the_form_and_cannot_acknowledge(
    client: TestClient, session: Session, people: dict[str, str]
) -> None:
    _publish(client, people["secas_token"])
    token = page_sign_in(client, people["secas"])
    page = client.get("/extracts/1")
    assert page.status_code == 200
    assert "acknowledgement" not in page.text.split("<main", 1)[1].split("Downloads")[1]
    assert "Waiting for the DCC" in page.text
    refused = client.post(
        "/extracts/1/acknowledgement", data={"csrf_token": token, "status": "loaded"}
    )
    assert refused.status_code == 403
    assert_secured(refused.headers)
    assert _status(session, 1) == DccStatus.PENDING


@pytest.mark.parametrize("role", ["manufacturer", "supplier"])
def test_other_roles_are_refused_every_page(
    client: TestClient, session: Session, people: dict[str, str], role: str
) -> None:
    _publish(client, people["secas_token"])
    token = page_sign_in(client, people[role])
    for url in ("/extracts", "/extracts/1"):
        refused = client.get(url)
        assert refused.status_code == 403, url
        assert_secured(refused.headers)
    post = client.post(
        "/extracts/1/acknowledgement", data={"csrf_token": token, "status": "loaded"}
    )
    assert post.status_code == 403
    assert _status(session, 1) == DccStatus.PENDING


def test_signed_out_visits_go_to_sign_in(client: TestClient, people: dict[str, str]) -> None:
    _publish(client, people["secas_token"])
    for url in ("/extracts", "/extracts/1"):
        away = client.get(url, follow_redirects=False)
        assert away.status_code == 303
        assert away.headers["location"] == f"/sign-in?next={url}"
        assert_secured(away.headers)


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_acknowledgement_refuses_a_missing_or_wrong_csrf_token(
    client: TestClient, session: Session, people: dict[str, str], token: str | None
) -> None:
    _publish(client, people["secas_token"])
    page_sign_in(client, people["dcc"])
    data = {"status": "loaded"} | ({"csrf_token": token} if token is not None else {})
    refused = client.post("/extracts/1/acknowledgement", data=data)
    assert refused.status_code == 403
    assert "did not come from this site" in refused.text
    assert_secured(refused.headers)
    assert _status(session, 1) == DccStatus.PENDING


def test_unknown_extract_is_a_404_page(client: TestClient, people: dict[str, str]) -> None:
    page_sign_in(client, people["dcc"])
    missing = client.get("/extracts/7")
    assert missing.status_code == 404
    assert_secured(missing.headers)
