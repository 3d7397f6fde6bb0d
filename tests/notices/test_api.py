"""GET /notices: SECAS sees what was sent, what is waiting and what failed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from cpl_service.api.routes.notices import router
from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.notices import messages
from cpl_service.notices.models import Notice, NoticeStatus
from cpl_service.notices.service import queue_notice
from tests.conftest import MakeParty, auth


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    """The app, with the notices router mounted if the app does not mount it yet."""
    from cpl_service.main import create_app

    app = create_app(settings)
    if not any(getattr(r, "path", "") == "/api/v1/notices" for r in app.routes):
        app.include_router(router, prefix="/api/v1")
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def _seed(session: Session) -> None:
    composed = messages.Composed("Hello <there>", "text", "<p>html</p>")
    for n in range(4):
        queue_notice(
            session=session,
            key=f"test:{n}",
            kind="test",
            recipients=[f"r{n}@example.com", "x@example.com"],
            cc=["secas@secas.test"],
            composed=composed,
            now=utcnow(),
        )
    session.commit()
    for n, status in enumerate(["sent", "queued", "failed", "queued"]):
        notice = session.get(Notice, n + 1)
        assert notice is not None
        notice.status = NoticeStatus(status)
        notice.attempts = 3 if status == "failed" else 1
        notice.last_error = "cannot connect" if status != "sent" else None
        session.add(notice)
    session.commit()


def test_only_secas_may_read_the_outbox(
    api: TestClient, session: Session, make_party: MakeParty
) -> None:
    _seed(session)
    assert api.get("/api/v1/notices").status_code == 401
    for role in ("manufacturer", "supplier", "dcc"):
        _, token = make_party(role)
        response = api.get("/api/v1/notices", headers=auth(token))
        assert response.status_code == 403, role
        assert response.headers["content-type"] == "application/problem+json"
    _, secas = make_party("secas")
    response = api.get("/api/v1/notices", headers=auth(secas))
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 4 and body["limit"] == 50 and body["offset"] == 0
    assert body["counts"] == {"queued": 2, "sent": 1, "failed": 1}
    newest = body["items"][0]
    assert newest["key"] == "test:3"
    assert newest["recipients"] == ["r3@example.com", "x@example.com"]
    assert newest["cc"] == ["secas@secas.test"]
    assert newest["subject"] == "Hello <there>"
    assert "body_text" not in newest


def test_filter_by_status_and_page(
    api: TestClient, session: Session, make_party: MakeParty
) -> None:
    _seed(session)
    _, secas = make_party("secas")
    queued = api.get("/api/v1/notices", params={"status": "queued"}, headers=auth(secas)).json()
    assert queued["total"] == 2
    assert {i["key"] for i in queued["items"]} == {"test:1", "test:3"}
    assert all(i["last_error"] == "cannot connect" for i in queued["items"])
    failed = api.get("/api/v1/notices", params={"status": "failed"}, headers=auth(secas)).json()
    assert [(i["key"], i["attempts"]) for i in failed["items"]] == [("test:2", 3)]
    page = api.get("/api/v1/notices", params={"limit": 1, "offset": 1}, headers=auth(secas)).json()
    assert [i["key"] for i in page["items"]] == ["test:2"] and page["total"] == 4
    bad = api.get("/api/v1/notices", params={"status": "lost"}, headers=auth(secas))
    assert bad.status_code == 422


def test_one_notice_with_its_bodies(
    api: TestClient, session: Session, make_party: MakeParty
) -> None:
    _seed(session)
    _, secas = make_party("secas")
    one = api.get("/api/v1/notices/2", headers=auth(secas)).json()
    assert one["body_text"] == "text" and one["body_html"] == "<p>html</p>"
    missing = api.get("/api/v1/notices/99", headers=auth(secas))
    assert missing.status_code == 404
