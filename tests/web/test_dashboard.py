"""The SECAS dashboard page: its figures, who may see it, and the publish button."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from cpl_service import clock
from cpl_service.clock import utcnow
from cpl_service.entries.cpa_calendar import add_months, month_start
from cpl_service.extracts.models import Extract
from cpl_service.notices.models import Notice, NoticeKind, NoticeStatus
from tests.conftest import MakeParty, MakePerson, auth
from tests.factories import make_entry
from tests.web.pages import assert_secured, csrf_of, page_sign_in

NS = {"svg": "http://www.w3.org/2000/svg"}


@pytest.fixture
def secas(client: TestClient, make_party: MakeParty, make_person: MakePerson) -> str:
    """A signed-in SECAS person; returns the session's CSRF token."""
    party, _ = make_party("secas", name="SECAS")
    make_person(party, "Sue Admin", "sue@secas.example")
    return page_sign_in(client, "sue@secas.example")


def svg_of(html: str) -> ET.Element:
    found = re.search(r"<svg .*?</svg>", html, re.S)
    assert found, "the page has no chart"
    return ET.fromstring(found.group(0))


def table_of(html: str, table_id: str) -> list[list[str]]:
    """The text of each row's cells (th and td) of one table."""
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert found, f"no table {table_id}"
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in rows]
    return [[" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in row] for row in cells]


def extract_sequences(session: Session) -> list[int]:
    session.expire_all()
    return list(session.exec(select(Extract.sequence).order_by(col(Extract.sequence))).all())


def test_figures_of_chart_and_table_agree_with_the_data(
    client: TestClient, session: Session, secas: str
) -> None:
    today = clock.today()
    this_month = month_start(today)
    second = add_months(this_month, 2)
    for device_type, month, count in (
        ("GSME", second, 3),
        ("ESME_SINGLE", second, 1),
        ("ESME_SINGLE", add_months(this_month, 7), 2),
        ("HCALCS", add_months(this_month, 23), 1),
    ):
        for _ in range(count):
            make_entry(
                session,
                status="active",
                physical_device_type=device_type,
                cpa_certificate_number=f"CPA-{device_type}-{month.isoformat()}",
                cpa_expiry_date=month + timedelta(days=9),
            )
    make_entry(session, status="active", cpa_expiry_date=add_months(this_month, 30))
    make_entry(session, cpa_certificate_number="CPA-PEND", cpa_expiry_date=second)  # pending
    make_entry(
        session,
        status="active",
        physical_device_type="PPMID",
        dlms_certificate_number=None,
        cpa_certificate_number=None,
        cpa_expiry_date=None,
    )
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert_secured(page.headers)

    table = table_of(page.text, "cpa-ends-table")
    header, body = table[0], table[1:]
    assert header == [
        "Month",
        "Single Element Electricity Metering Equipment (ESME_SINGLE)",
        "Gas Smart Meter (GSME)",
        "HAN Connected Auxiliary Load Control Switch (HCALCS)",
        "Total",
    ]
    assert len(body) == 24
    by_month = {row[0]: [int(v) for v in row[1:]] for row in body}
    assert by_month[second.strftime("%b %Y")] == [1, 3, 0, 4]
    assert by_month[add_months(this_month, 7).strftime("%b %Y")] == [2, 0, 0, 2]
    assert by_month[add_months(this_month, 23).strftime("%b %Y")] == [0, 0, 1, 1]
    assert by_month[this_month.strftime("%b %Y")] == [0, 0, 0, 0]
    assert sum(row[-1] for row in by_month.values()) == 7

    svg = svg_of(page.text)
    assert svg.get("role") == "img"
    bars = svg.findall("svg:g[@class='bar']", NS)
    assert [b.get("data-category") for b in bars] == [row[0] for row in body]
    for bar in bars:
        figures = by_month[bar.get("data-category", "")]
        assert int(bar.get("data-total", "-1")) == figures[-1]
        drawn = {
            r.get("data-series"): int(r.get("data-value", "0"))
            for r in bar.iter()
            if r.get("data-series")
        }
        expected = {header[i + 1]: v for i, v in enumerate(figures[:-1]) if v}
        assert drawn == expected

    outside = dict(re.findall(r"<dt>(.*?)</dt><dd>(\d+)</dd>", page.text))
    assert outside["No CPA certificate (SMETS1, PPMID)"] == "1"
    assert outside[f"CPA end after {add_months(this_month, 23).strftime('%b %Y')}"] == "1"


def test_certificates_in_their_windows_are_listed(
    client: TestClient, session: Session, secas: str
) -> None:
    today = clock.today()
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-SOON",
        cpa_expiry_date=today + timedelta(days=60),
    )
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-LATER",
        cpa_expiry_date=today + timedelta(days=300),
    )
    make_entry(
        session,
        status="active",
        cpa_certificate_number="CPA-FAR",
        cpa_expiry_date=today + timedelta(days=900),
    )
    rows = table_of(client.get("/dashboard").text, "windows-table")[1:]
    assert [(r[0], r[1]) for r in rows] == [
        ("CPA-SOON", "Within 6 months"),
        ("CPA-LATER", "Within 12 months"),
    ]


def test_an_empty_dashboard_says_so(client: TestClient, secas: str) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert 'id="windows-none"' in page.text
    assert 'id="extracts-none"' in page.text
    assert len(svg_of(page.text).findall("svg:g[@class='bar']", NS)) == 24


def test_notice_counts_and_the_last_failures_with_their_reason(
    client: TestClient, session: Session, secas: str
) -> None:
    now = utcnow()
    for i, status in enumerate(
        [NoticeStatus.SENT] * 3 + [NoticeStatus.QUEUED] * 2 + [NoticeStatus.FAILED] * 7
    ):
        session.add(
            Notice(
                key=f"test:{i}",
                kind=NoticeKind.CPL_PUBLISHED.value,
                recipients="a@example.com",
                subject=f"Notice {i}",
                body_text="x",
                body_html="<p>x</p>",
                status=status,
                attempts=10 if status is NoticeStatus.FAILED else 1,
                last_error=f"550 mailbox <{i}> unavailable"
                if status is NoticeStatus.FAILED
                else None,
                created_at=now,
            )
        )
    session.commit()
    page = client.get("/dashboard").text
    assert dict(re.findall(r"<dt>(Sent|Queued|Failed)</dt><dd>(\d+)</dd>", page)) == {
        "Sent": "3",
        "Queued": "2",
        "Failed": "7",
    }
    failures = table_of(page, "failures-table")[1:]
    assert [r[1] for r in failures] == [f"Notice {i}" for i in (11, 10, 9, 8, 7)]
    assert failures[0][3] == "550 mailbox &lt;11&gt; unavailable"


def publish_form(client: TestClient, token: str) -> dict[str, str]:
    """The publish button's fields as one rendering of the dashboard carries them."""
    key = re.search(r'name="key" value="([^"]+)"', client.get("/dashboard").text)
    assert key, "the dashboard has no publish key"
    return {"csrf_token": token, "key": key.group(1)}


def test_publish_button_publishes_the_next_sequence_and_shows_it(
    client: TestClient, session: Session, secas: str
) -> None:
    make_entry(session, status="active")
    for expected in (1, 2):
        done = client.post(
            "/dashboard/publish", data=publish_form(client, secas), follow_redirects=False
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"/dashboard?published={expected}"
        assert_secured(done.headers)
    assert extract_sequences(session) == [1, 2]
    # The API's after-answer step ran too: the payload is stored compressed.
    assert all(e.payload_gzip for e in session.exec(select(Extract)).all())
    page = client.get("/dashboard?published=2")
    assert "Extract 2 is signed and published" in page.text
    assert 'href="/extracts/2"' in page.text
    rows = table_of(page.text, "extracts-table")[1:]
    assert [r[0] for r in rows] == ["Extract 2", "Extract 1"]
    assert all(r[4] == "Pending" for r in rows)
    # The API's notify hook ran: the publication notice is queued to the party, per extract.
    keys = session.exec(
        select(Notice.key).where(Notice.kind == NoticeKind.CPL_PUBLISHED.value)
    ).all()
    assert sorted(k.rsplit(":", 2)[0] for k in keys) == [
        "extract:1:published",
        "extract:2:published",
    ]


def test_extract_states_and_the_overdue_warning(
    client: TestClient, make_party: MakeParty, secas: str
) -> None:
    _, dcc = make_party("dcc")
    for _ in range(2):
        client.post("/dashboard/publish", data=publish_form(client, secas))
    rejected = client.post(
        "/api/v1/extracts/1/acknowledgement",
        json={"status": "rejected", "detail": "Entry <CPL-000001> unknown"},
        headers=auth(dcc),
    )
    assert rejected.status_code == 200, rejected.text
    page = client.get("/dashboard").text
    assert "is overdue" not in page
    assert [r[4] for r in table_of(page, "extracts-table")[1:]] == [
        "Pending",
        "Rejected — Entry &lt;CPL-000001&gt; unknown",
    ]
    # Past the acknowledgement window (the extracts service's rule, `dcc_status`).
    client.app.state.settings.extract_ack_hours = 0  # type: ignore[attr-defined]
    page = client.get("/dashboard").text
    assert "Extract 2 is overdue: the DCC has not acknowledged it within 0 hours" in page
    rows = table_of(page, "extracts-table")[1:]
    assert rows[0][4] == "Overdue not acknowledged after 0 hours"
    assert rows[1][4].startswith("Rejected")


def test_a_second_click_of_one_button_publishes_nothing_more(
    client: TestClient, session: Session, secas: str
) -> None:
    make_entry(session, status="active")
    form = publish_form(client, secas)
    first = client.post("/dashboard/publish", data=form, follow_redirects=False)
    again = client.post("/dashboard/publish", data=form, follow_redirects=False)
    assert first.headers["location"] == again.headers["location"] == "/dashboard?published=1"
    assert extract_sequences(session) == [1]
    # A new rendering of the dashboard is a new button: it publishes the next extract.
    client.post("/dashboard/publish", data=publish_form(client, secas))
    assert extract_sequences(session) == [1, 2]
    missing = client.post("/dashboard/publish", data={"csrf_token": secas})
    assert missing.status_code == 422
    assert extract_sequences(session) == [1, 2]


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_publish_without_the_right_csrf_token_publishes_nothing(
    client: TestClient, session: Session, secas: str, token: str | None
) -> None:
    data = {} if token is None else {"csrf_token": token}
    refused = client.post("/dashboard/publish", data=data, follow_redirects=False)
    assert refused.status_code == 403
    assert_secured(refused.headers)
    assert "expired or did not come from this site" in refused.text
    assert extract_sequences(session) == []


@pytest.mark.parametrize("role", ["manufacturer", "supplier", "dcc"])
def test_other_roles_are_refused_the_page_and_the_button(
    client: TestClient,
    session: Session,
    make_party: MakeParty,
    make_person: MakePerson,
    role: str,
) -> None:
    party, _ = make_party(role)
    make_person(party, "Someone", f"someone@{role}.example")
    token = page_sign_in(client, f"someone@{role}.example")
    page = client.get("/dashboard")
    assert page.status_code == 403
    assert_secured(page.headers)
    assert "Only secas may do this" in page.text
    refused = client.post("/dashboard/publish", data={"csrf_token": token})
    assert refused.status_code == 403
    assert extract_sequences(session) == []


def test_signed_out_visits_go_to_sign_in(client: TestClient, session: Session) -> None:
    page = client.get("/dashboard", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in?next=/dashboard"
    form = client.get("/sign-in")
    posted = client.post(
        "/dashboard/publish", data={"csrf_token": csrf_of(form.text)}, follow_redirects=False
    )
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/sign-in")
    assert extract_sequences(session) == []


def test_hostile_device_type_is_escaped_in_chart_and_table(
    client: TestClient, session: Session, secas: str
) -> None:
    hostile = '<b id="x">&'
    make_entry(
        session,
        status="active",
        physical_device_type=hostile,
        cpa_expiry_date=clock.today() + timedelta(days=40),
    )
    page = client.get("/dashboard").text
    assert hostile not in page
    escaped = "&lt;b id=&#34;x&#34;&gt;&amp;"
    assert f'<th scope="col" class="num">{escaped}</th>' in page  # the table's heading
    assert f'data-series="{escaped}"' in page  # the chart's segment
    svg = svg_of(page)
    series = {r.get("data-series") for r in svg.iter() if r.get("data-series")}
    assert series == {hostile}
