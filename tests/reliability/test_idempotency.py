"""Idempotency-Key: a retried action answers its first result and never acts twice."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from cpl_service.entries.models import EntryEvent
from cpl_service.extracts.models import Extract
from cpl_service.idempotency import service
from cpl_service.parties.models import Party
from tests.conftest import MakeParty, auth
from tests.factories import make_entry

API = "/api/v1"


def keyed(token: str, key: str) -> dict[str, str]:
    return {**auth(token), "Idempotency-Key": key}


def extract_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Extract)).one()


def test_publish_retried_with_its_key_publishes_once(
    client: TestClient, engine: Engine, make_party: MakeParty
) -> None:
    _, secas = make_party("secas")
    first = client.post(f"{API}/extracts", headers=keyed(secas, "publish-1"))
    again = client.post(f"{API}/extracts", headers=keyed(secas, "publish-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert extract_count(engine) == 1
    # A new key is a new publication.
    other = client.post(f"{API}/extracts", headers=keyed(secas, "publish-2"))
    assert other.json()["sequence"] == first.json()["sequence"] + 1


def test_publish_without_a_key_acts_each_time(
    client: TestClient, engine: Engine, make_party: MakeParty
) -> None:
    _, secas = make_party("secas")
    for _ in range(2):
        assert client.post(f"{API}/extracts", headers=auth(secas)).status_code == 201
    assert extract_count(engine) == 2


def test_keys_belong_to_one_party(
    client: TestClient, engine: Engine, make_party: MakeParty
) -> None:
    tokens = [make_party("secas")[1] for _ in range(2)]
    answers = [client.post(f"{API}/extracts", headers=keyed(t, "same")) for t in tokens]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["sequence"] != answers[1].json()["sequence"]
    assert extract_count(engine) == 2


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("approve", {"note": "ok"}),
        ("reject", {"reason": "bad"}),
    ],
)
def test_review_action_retried_answers_the_first_result(
    client: TestClient, session: Session, make_party: MakeParty, action: str, body: dict
) -> None:
    _, secas = make_party("secas")
    entry = make_entry(session)
    url = f"{API}/entries/{entry.entry_id}/{action}"
    first = client.post(url, json=body, headers=keyed(secas, f"{action}-1"))
    again = client.post(url, json=body, headers=keyed(secas, f"{action}-1"))
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    # Without the key the same request is refused: the entry is no longer pending.
    assert client.post(url, json=body, headers=auth(secas)).status_code == 409
    events = session.exec(select(EntryEvent).where(EntryEvent.entry_pk == entry.id)).all()
    assert [e.action for e in events].count(f"{action}d" if action == "approve" else "rejected")


def test_same_key_with_another_body_is_a_422(
    client: TestClient, session: Session, make_party: MakeParty
) -> None:
    _, secas = make_party("secas")
    entry = make_entry(session)
    url = f"{API}/entries/{entry.entry_id}/reject"
    assert client.post(url, json={"reason": "a"}, headers=keyed(secas, "k")).status_code == 200
    response = client.post(url, json={"reason": "b"}, headers=keyed(secas, "k"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "different request" in response.json()["detail"]
    # The same key on another action is another request too.
    other = make_entry(session)
    response = client.post(
        f"{API}/entries/{other.entry_id}/reject", json={"reason": "a"}, headers=keyed(secas, "k")
    )
    assert response.status_code == 422


@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "ünïcode"])
def test_malformed_keys_are_refused(client: TestClient, make_party: MakeParty, key: str) -> None:
    _, secas = make_party("secas")
    headers = [*auth(secas).items(), ("Idempotency-Key", key)]
    response = client.post(
        f"{API}/extracts", headers=[(k.encode(), v.encode()) for k, v in headers]
    )
    assert response.status_code == 422, response.text
    assert "Idempotency-Key" in response.json()["detail"]


def test_a_request_that_died_before_answering_is_never_repeated(
    client: TestClient, engine: Engine, make_party: MakeParty
) -> None:
    party, secas = make_party("secas")
    assert isinstance(party, Party) and party.id is not None
    digest = service.fingerprint("POST", f"{API}/extracts", b"")
    with Session(engine) as session:
        # What a server killed between acting and recording its answer leaves behind.
        service.claim(session=session, party_id=party.id, key="died", request_sha256=digest)
    response = client.post(f"{API}/extracts", headers=keyed(secas, "died"))
    assert response.status_code == 409
    assert "no recorded answer" in response.json()["detail"]
    assert extract_count(engine) == 0


def test_refused_action_is_replayed_too(
    client: TestClient, session: Session, make_party: MakeParty
) -> None:
    _, secas = make_party("secas")
    entry = make_entry(session, status="active")
    url = f"{API}/entries/{entry.entry_id}/approve"
    first = client.post(url, headers=keyed(secas, "refused"))
    again = client.post(url, headers=keyed(secas, "refused"))
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()


def test_unauthenticated_keyed_request_is_a_401(client: TestClient) -> None:
    response = client.post(f"{API}/extracts", headers={"Idempotency-Key": "k"})
    assert response.status_code == 401
