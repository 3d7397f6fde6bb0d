"""People over HTTP: signing in and out, lockout, disabling, CSRF, and who manages whom."""

from __future__ import annotations

import threading
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.main import create_app
from cpl_service.parties.actors import COMMAND_LINE
from cpl_service.parties.models import SecurityEvent, SignInThrottle, User, UserSession
from cpl_service.parties.people import set_password
from tests.conftest import PASSWORD, MakeParty, MakePerson, auth, sign_in


def _kinds(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return [e.kind for e in s.exec(select(SecurityEvent).order_by(col(SecurityEvent.id)))]


def test_sign_in_who_am_i_and_sign_out(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, engine: Engine
) -> None:
    secas, _ = make_party("secas", name="SECAS")
    make_person(secas, "Jane Smith", "jane@secas.example")
    response = client.post(
        "/api/v1/session", json={"email": "Jane@SECAS.example", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert response.json()["person"]["name"] == "Jane Smith"
    csrf = response.json()["csrf_token"]

    me = client.get("/api/v1/session")  # the client's jar sends the cookie
    assert me.status_code == 200 and me.json()["party"] == "SECAS"
    assert me.json()["csrf_token"] == csrf
    assert client.get("/api/v1/certificates").status_code == 200

    assert client.delete("/api/v1/session").status_code == 403  # no CSRF token
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/session").status_code == 401
    assert _kinds(engine)[-2:] == ["sign_in", "sign_out"]


def test_the_old_session_ends_when_the_same_browser_signs_in_again(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    secas, _ = make_party("secas")
    make_person(secas, "Jane Smith", "jane@secas.example")
    first = client.post(
        "/api/v1/session", json={"email": "jane@secas.example", "password": PASSWORD}
    )
    old = first.cookies["cpl_session"]
    second = client.post(
        "/api/v1/session", json={"email": "jane@secas.example", "password": PASSWORD}
    )
    new = second.cookies["cpl_session"]
    client.cookies.clear()
    assert new != old
    assert (
        client.get("/api/v1/session", headers={"Cookie": f"cpl_session={old}"}).status_code == 401
    )
    assert (
        client.get("/api/v1/session", headers={"Cookie": f"cpl_session={new}"}).status_code == 200
    )


def test_secure_cookie_when_served_over_https(
    settings: Settings, make_party: MakeParty, make_person: MakePerson
) -> None:
    secure = settings.model_copy(update={"public_url": "https://cpl.secas.example"})
    secas, _ = make_party("secas")
    make_person(secas, "Jane Smith", "jane@secas.example")
    app = create_app(secure)
    with TestClient(app) as https_client:
        response = https_client.post(
            "/api/v1/session", json={"email": "jane@secas.example", "password": PASSWORD}
        )
        assert "secure" in response.headers["set-cookie"].lower()
    app.state.engine.dispose()


def test_wrong_passwords_lock_the_account_with_a_growing_delay(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, engine: Engine
) -> None:
    secas, _ = make_party("secas")
    make_person(secas, "Jane Smith", "jane@secas.example")
    wrong = {"email": "jane@secas.example", "password": "not the password"}
    for _ in range(4):
        response = client.post("/api/v1/session", json=wrong)
        assert response.status_code == 401
        assert response.json()["detail"] == "Wrong email or password."
    locked = client.post("/api/v1/session", json=wrong)
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "30"
    assert "locked for 30 seconds" in locked.json()["detail"]
    # while locked, even the right password is not heard
    right = client.post(
        "/api/v1/session", json={"email": "jane@secas.example", "password": PASSWORD}
    )
    assert right.status_code == 429 and "try again in" in right.json()["detail"]
    kinds = _kinds(engine)
    assert kinds.count("sign_in_failed") == 6 and kinds.count("sign_in_locked") == 1
    assert "sign_in" not in kinds


def test_unknown_emails_are_throttled_too_and_look_the_same(
    client: TestClient, make_party: MakeParty
) -> None:
    answers = [
        client.post("/api/v1/session", json={"email": "nobody@x.example", "password": "guess"})
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert answers[0].json()["detail"] == "Wrong email or password."


def test_a_disabled_person_is_refused_from_the_next_request(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    secas, secas_token = make_party("secas")
    jane = make_person(secas, "Jane Smith", "jane@secas.example")
    as_jane = sign_in(client, "jane@secas.example")
    assert client.get("/api/v1/certificates", headers=as_jane).status_code == 200
    disabled = client.post(f"/api/v1/people/{jane.id}/disable", headers=auth(secas_token))
    assert disabled.status_code == 200 and disabled.json()["disabled_at"]
    assert client.get("/api/v1/certificates", headers=as_jane).status_code == 401
    again = client.post(
        "/api/v1/session", json={"email": "jane@secas.example", "password": PASSWORD}
    )
    assert again.status_code == 401
    assert (
        client.post(f"/api/v1/people/{jane.id}/disable", headers=auth(secas_token)).status_code
        == 409
    )


def test_set_password_link_and_policy(
    client: TestClient, make_party: MakeParty, engine: Engine
) -> None:
    dcc, _ = make_party("dcc", name="DCC")
    _, secas = make_party("secas")
    created = client.post(
        "/api/v1/people",
        json={"name": "Dev Patel", "email": "dev@dcc.example", "party_id": dcc.id},
        headers=auth(secas),
    )
    assert created.status_code == 201, created.text
    link = created.json()["set_password_url"]
    assert link.startswith("http://127.0.0.1:8000/set-password?token=")
    secret = link.split("token=")[1]
    assert created.json()["password_set"] is False
    for bad in ["short", "password1234", "dev@dcc.example"]:
        refused = client.post("/api/v1/session/password", json={"token": secret, "password": bad})
        assert refused.status_code == 422, bad
    done = client.post("/api/v1/session/password", json={"token": secret, "password": PASSWORD})
    assert done.status_code == 204
    used = client.post("/api/v1/session/password", json={"token": secret, "password": PASSWORD})
    assert used.status_code == 404  # one time only
    as_dev = sign_in(client, "dev@dcc.example")
    assert client.get("/api/v1/extracts", headers=as_dev).status_code == 200
    assert client.get("/api/v1/certificates", headers=as_dev).status_code == 403  # dcc, not secas
    duplicate = client.post(
        "/api/v1/people",
        json={"name": "Dev Again", "email": "DEV@dcc.example", "party_id": dcc.id},
        headers=auth(secas),
    )
    assert duplicate.status_code == 409


def test_a_party_admin_manages_only_their_own_party(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    acme, _ = make_party("manufacturer", name="Acme")
    other, _ = make_party("manufacturer", name="Other")
    make_person(acme, "Ann Admin", "ann@acme.example", is_admin=True)
    make_person(acme, "Max Member", "max@acme.example")
    stranger = make_person(other, "Olga Other", "olga@other.example")
    as_ann = sign_in(client, "ann@acme.example")
    as_max = sign_in(client, "max@acme.example")

    listed = client.get("/api/v1/people", headers=as_ann)
    assert listed.status_code == 200
    assert {p["email"] for p in listed.json()["items"]} == {"ann@acme.example", "max@acme.example"}
    added = client.post(
        "/api/v1/people", json={"name": "New Hire", "email": "new@acme.example"}, headers=as_ann
    )
    assert added.status_code == 201 and added.json()["party_id"] == acme.id
    token = client.post("/api/v1/tokens", json={"name": "CI upload"}, headers=as_ann)
    assert token.status_code == 201 and token.json()["created_by"] == "Ann Admin (Acme)"
    assert client.get("/api/v1/submissions", headers=auth(token.json()["token"])).status_code == 200

    # another party: not found, never confirmed
    assert client.get(f"/api/v1/people?party_id={other.id}", headers=as_ann).status_code == 404
    assert client.post(f"/api/v1/people/{stranger.id}/disable", headers=as_ann).status_code == 404
    # a member who is not an admin manages nothing
    assert client.get("/api/v1/people", headers=as_max).status_code == 403
    assert client.post("/api/v1/tokens", json={"name": "x"}, headers=as_max).status_code == 403
    # and a change without the CSRF token is refused, whoever makes it
    no_csrf = {"Cookie": as_ann["Cookie"]}
    assert client.post("/api/v1/tokens", json={"name": "y"}, headers=no_csrf).status_code == 403
    wrong = {**as_ann, "X-CSRF-Token": as_max["X-CSRF-Token"]}
    assert client.post("/api/v1/tokens", json={"name": "y"}, headers=wrong).status_code == 403


def _age_sessions(engine: Engine, **values: object) -> None:
    with Session(engine) as s:
        s.execute(update(UserSession).values(**values))
        s.commit()


def test_idle_and_absolute_timeouts_end_a_session(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, engine: Engine
) -> None:
    secas, _ = make_party("secas")
    make_person(secas, "Jane Smith", "jane@secas.example")
    as_jane = sign_in(client, "jane@secas.example")
    _age_sessions(engine, last_seen_at=utcnow() - timedelta(minutes=29))
    assert client.get("/api/v1/session", headers=as_jane).status_code == 200
    # being seen moved last_seen_at on (it was over a minute old)
    _age_sessions(engine, last_seen_at=utcnow() - timedelta(minutes=31))
    assert client.get("/api/v1/session", headers=as_jane).status_code == 401

    as_jane = sign_in(client, "jane@secas.example")
    _age_sessions(engine, created_at=utcnow() - timedelta(hours=12, seconds=1))
    assert client.get("/api/v1/session", headers=as_jane).status_code == 401


def test_a_new_password_ends_other_sessions(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, engine: Engine
) -> None:
    secas, _ = make_party("secas")
    jane = make_person(secas, "Jane Smith", "jane@secas.example")
    as_jane = sign_in(client, "jane@secas.example")
    with Session(engine) as s:
        user = s.get(User, jane.id)
        assert user is not None
        set_password(
            session=s,
            user=user,
            password="another good passphrase",
            actor=COMMAND_LINE,
            now=utcnow(),
        )
    assert client.get("/api/v1/session", headers=as_jane).status_code == 401


def test_concurrent_failures_are_all_counted_and_never_a_500(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    secas, _ = make_party("secas")
    make_person(secas, "Jane Smith", "jane@secas.example")
    wrong = {"email": "jane@secas.example", "password": "not the password"}
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def attempt() -> None:
        barrier.wait()
        statuses.append(client.post("/api/v1/session", json=wrong).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 4 + [429] * 2
    assert client.post("/api/v1/session", json=wrong).status_code == 429


def test_failures_an_hour_old_are_forgotten(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, engine: Engine
) -> None:
    secas, _ = make_party("secas")
    make_person(secas, "Jane Smith", "jane@secas.example")
    wrong = {"email": "jane@secas.example", "password": "not the password"}
    for _ in range(4):
        assert client.post("/api/v1/session", json=wrong).status_code == 401
    with Session(engine) as s:
        s.execute(
            update(SignInThrottle).values(last_failure_at=utcnow() - timedelta(hours=1, seconds=5))
        )
        s.commit()
    for _ in range(4):  # counting starts again: four more before the lock
        assert client.post("/api/v1/session", json=wrong).status_code == 401
    assert client.post("/api/v1/session", json=wrong).status_code == 429
