"""The certificate register pages (SECAS): search, one certificate, revoke it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.clock import today
from cpl_service.entries.models import Entry, EntryEvent
from tests.conftest import MakeParty, MakePerson, auth
from tests.factories import make_entry
from tests.web.pages import assert_secured, page_sign_in

SECAS_EMAIL = "sue@secas.example"


@dataclass
class Register:
    certificate: AssuranceCertificate  # ZIG-SHARED, relied on by the entries below
    active: list[Entry]
    pending: Entry
    token: str


def certificate(engine: Engine, number: str) -> AssuranceCertificate:
    with Session(engine) as s:
        found = s.exec(
            select(AssuranceCertificate).where(AssuranceCertificate.number == number)
        ).one()
        s.expunge(found)
        return found


def entry(engine: Engine, entry_id: str) -> Entry:
    with Session(engine) as s:
        found = s.exec(select(Entry).where(Entry.entry_id == entry_id)).one()
        s.expunge(found)
        return found


@pytest.fixture
def register(
    client: TestClient,
    session: Session,
    engine: Engine,
    make_party: MakeParty,
    make_person: MakePerson,
) -> Iterator[Register]:
    secas, _ = make_party("secas")
    make_person(secas, "Sue Reviewer", SECAS_EMAIL)
    maker, _ = make_party("manufacturer")
    active = [
        make_entry(
            session, party_id=maker.id, status="active", zigbee_certificate_number="ZIG-SHARED"
        )
        for _ in range(2)
    ]
    pending = make_entry(session, party_id=maker.id, zigbee_certificate_number="ZIG-SHARED")
    make_entry(
        session,
        party_id=maker.id,
        zigbee_certificate_number="ZIG-OTHER",
        cpa_certificate_number="CPA-SOON",
        cpa_expiry_date=today() + timedelta(days=90),
    )
    token = page_sign_in(client, SECAS_EMAIL)
    yield Register(certificate(engine, "ZIG-SHARED"), active, pending, token)


def test_the_register_lists_certificates_with_their_standing(
    client: TestClient, register: Register
) -> None:
    page = client.get("/certificates")
    assert page.status_code == 200
    assert_secured(page.headers)
    html = page.text
    for number in ("ZIG-SHARED", "ZIG-OTHER", "DLMS-1", "CPA-1", "CPA-SOON"):
        assert f">{number}</a>" in html
    soon = html[html.index(">CPA-SOON</a>") :]
    assert "within 6 months of its end" in soon[: soon.index("</tr>")]
    shared = html[html.index(">ZIG-SHARED</a>") :]
    assert '<td class="num">3</td>' in shared[: shared.index("</tr>")]


def test_search_and_filters(client: TestClient, register: Register) -> None:
    by_number = client.get("/certificates", params={"number": "shared"}).text
    assert ">ZIG-SHARED</a>" in by_number and ">ZIG-OTHER</a>" not in by_number
    assert "1 certificate found." in by_number
    by_kind = client.get("/certificates", params={"kind": "CPA"}).text
    assert ">CPA-SOON</a>" in by_kind and ">ZIG-SHARED</a>" not in by_kind
    assert '<option value="CPA" selected>' in by_kind
    everything = client.get("/certificates", params={"number": "", "kind": "", "status": ""})
    assert "5 certificates found." in everything.text
    assert "0 certificates found." in client.get("/certificates?status=revoked").text
    assert client.get("/certificates?kind=IHD").status_code == 422
    assert client.get("/certificates?status=lapsed").status_code == 422
    # LIKE's wildcards are searched for as themselves.
    assert "0 certificates found." in client.get("/certificates?number=%25").text


def test_revoke_flags_the_active_entries_relying_on_it(
    client: TestClient, engine: Engine, register: Register
) -> None:
    url = f"/certificates/{register.certificate.id}"
    page = client.get(url)
    assert page.status_code == 200
    assert_secured(page.headers)
    assert f'action="{url}/revoke"' in page.text
    for relying in [*register.active, register.pending]:
        assert relying.entry_id in page.text

    refused = client.post(f"{url}/revoke", data={"csrf_token": register.token, "reason": " "})
    assert refused.status_code == 422
    assert "A revocation needs a reason" in refused.text
    assert certificate(engine, "ZIG-SHARED").status == "valid"

    done = client.post(
        f"{url}/revoke",
        data={"csrf_token": register.token, "reason": "CSA withdrew the certification"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{url}?revoked=2"
    revoked = certificate(engine, "ZIG-SHARED")
    assert (revoked.status, revoked.revocation_reason) == (
        "revoked",
        "CSA withdrew the certification",
    )
    for flagged in register.active:
        now = entry(engine, flagged.entry_id)
        assert (now.status, now.removal_proposed) == ("active", True)
    assert not entry(engine, register.pending.entry_id).removal_proposed

    shown = client.get(done.headers["location"]).text
    assert "2 Active entries flagged as removal proposed" in shown
    listed = shown[shown.index("Entries flagged as removal proposed") :]
    listed = listed[: listed.index("</ul>")]
    assert all(e.entry_id in listed for e in register.active)
    assert register.pending.entry_id not in listed
    assert f'action="{url}/revoke"' not in shown  # revoked once, no form any more
    again = client.post(f"{url}/revoke", data={"csrf_token": register.token, "reason": "again"})
    assert again.status_code == 409
    assert "already revoked" in again.text


def test_the_entry_page_shows_the_removal_proposed_flag(
    client: TestClient, register: Register
) -> None:
    client.post(
        f"/certificates/{register.certificate.id}/revoke",
        data={"csrf_token": register.token, "reason": "withdrawn"},
    )
    page = client.get(f"/review/entries/{register.active[0].entry_id}").text
    assert "Removal proposed" in page
    assert 'ZIG-SHARED</a>: <span class="badge bad">revoked</span>' in page


def test_revoke_without_the_csrf_token_changes_nothing(
    client: TestClient, engine: Engine, register: Register
) -> None:
    url = f"/certificates/{register.certificate.id}/revoke"
    for token in (None, "forged"):
        data = {"reason": "no"}
        if token:
            data["csrf_token"] = token
        response = client.post(url, data=data, follow_redirects=False)
        assert response.status_code == 403
        assert_secured(response.headers)
    assert certificate(engine, "ZIG-SHARED").status == "valid"
    assert not entry(engine, register.active[0].entry_id).removal_proposed


@pytest.mark.parametrize("role", ["manufacturer", "supplier", "dcc"])
def test_every_other_role_is_refused(
    client: TestClient,
    engine: Engine,
    register: Register,
    make_party: MakeParty,
    make_person: MakePerson,
    role: str,
) -> None:
    party, bearer = make_party(role)
    make_person(party, "Other", f"other@{role}.example")
    client.cookies.clear()
    token = page_sign_in(client, f"other@{role}.example")
    url = f"/certificates/{register.certificate.id}"
    for page in ("/certificates", url):
        response = client.get(page)
        assert response.status_code == 403
        assert_secured(response.headers)
    response = client.post(f"{url}/revoke", data={"csrf_token": token, "reason": "no"})
    assert response.status_code == 403
    assert certificate(engine, "ZIG-SHARED").status == "valid"
    assert client.get("/api/v1/certificates", headers=auth(bearer)).status_code == 403


def test_signed_out_visits_go_to_sign_in(
    client: TestClient, engine: Engine, register: Register
) -> None:
    client.cookies.clear()
    url = f"/certificates/{register.certificate.id}"
    for page in ("/certificates", url):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/sign-in?next={page}"
    response = client.post(f"{url}/revoke", data={"reason": "no"}, follow_redirects=False)
    assert response.status_code in (303, 403)
    assert certificate(engine, "ZIG-SHARED").status == "valid"


def test_an_unknown_certificate_is_a_404_page(client: TestClient, register: Register) -> None:
    response = client.get("/certificates/999999")
    assert response.status_code == 404
    assert_secured(response.headers)
    assert "no certificate 999999" in response.text


def test_revoking_records_it_in_the_entries_history(
    client: TestClient, engine: Engine, register: Register
) -> None:
    client.post(
        f"/certificates/{register.certificate.id}/revoke",
        data={"csrf_token": register.token, "reason": "CSA withdrew it"},
    )
    with Session(engine) as s:
        last = s.exec(
            select(EntryEvent)
            .where(EntryEvent.entry_pk == register.active[0].id)
            .order_by(EntryEvent.id.desc())  # type: ignore[union-attr]
        ).first()
    assert last is not None
    assert last.action == "removal_proposed"
    assert last.actor_person == "Sue Reviewer"
