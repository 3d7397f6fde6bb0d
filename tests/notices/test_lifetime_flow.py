"""A lifetime CPA certificate from workbook to approval, notices, a renewal and the extract.

Real parts throughout: the upload and review over HTTP, notices through a real SMTP server
(aiosmtpd), and the published extract validated against the JSON Schema.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import jsonschema
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cpl_service.clock import today
from cpl_service.config import Settings
from cpl_service.notices.messages import long_date
from cpl_service.notices.rules import months_before
from cpl_service.notices.service import RunSummary, run_notices
from tests.conftest import MakeParty, auth
from tests.notices.conftest import SmtpServer
from tests.workbooks import build_workbook, valid_row

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROOT = Path(__file__).parents[2]
SCHEMAS = [
    json.loads((ROOT / "schemas" / "cpl-extract.v1.schema.json").read_text()),
    json.loads(
        (ROOT / "cpl_service" / "signing" / "schemas" / "cpl-extract.v1.schema.json").read_text()
    ),
]


def run(engine: Engine, settings: Settings, day: date) -> RunSummary:
    return run_notices(
        engine=engine,
        settings=settings,
        as_of=day,
        clock=lambda: datetime.combine(day, datetime.min.time(), tzinfo=UTC),
    )


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_lifetime_certificate_from_workbook_to_notices_renewal_and_extract(
    client: TestClient,
    engine: Engine,
    smtp_settings: Settings,
    smtp_server: SmtpServer,
    make_party: MakeParty,
) -> None:
    maker_party, maker = make_party("manufacturer", emails=["cpl@acme-party.example"])
    _, secas = make_party("secas")
    _, dcc = make_party("dcc")
    renewal = months_before(today(), -15)
    row = valid_row(
        **{
            "CPA Certificate Type": "Lifetime",
            "CPA Expiry Date": None,
            "CPA Renewal Date": renewal,
        }
    )
    files = [("file", ("lifetime.xlsx", build_workbook([row]), XLSX))]
    uploaded = client.post(f"{API}/submissions", files=files, headers=auth(maker))
    assert uploaded.status_code == 201, uploaded.text
    (entry,) = uploaded.json()["entries"]
    entry_id = entry["entry_id"]
    entry = client.get(f"{API}/entries/{entry_id}", headers=auth(secas)).json()
    assert entry["cpa_certificate_type"] == "Lifetime"
    assert entry["cpa_renewal_date"] == renewal.isoformat()
    assert entry["cpa_expiry_date"] is None

    approved = client.post(f"{API}/entries/{entry_id}/approve", json={}, headers=auth(secas))
    assert approved.status_code == 200, approved.text
    register = client.get(f"{API}/certificates", params={"kind": "CPA"}, headers=auth(secas))
    (certificate,) = register.json()["items"]
    assert (certificate["cpa_certificate_type"], certificate["end_date_kind"]) == (
        "Lifetime",
        "renewal",
    )

    # The first run sends the approval's outcome email; no CPA notice is due yet.
    old_12, old_6 = months_before(renewal, 12), months_before(renewal, 6)
    assert run(engine, smtp_settings, old_12 - timedelta(days=1)).sent == 1
    outcome = smtp_server.messages.pop(0).message
    submission_id = uploaded.json()["id"]
    assert outcome["Subject"] == f"CPL submission {submission_id}: CPL entry {entry_id} approved"
    assert outcome["To"] == "cpl@acme-party.example" == maker_party.emails[0]
    assert outcome["X-CPL-Notice"] == "submission_outcome"

    # The old end's notices, once each.
    assert run(engine, smtp_settings, old_12).sent == 1
    assert run(engine, smtp_settings, old_6).sent == 1
    twelve, six = (r.message for r in smtp_server.messages)
    assert (
        twelve["Subject"]
        == f"CPA certificate CPA-100 ends on {long_date(renewal)}: 12-month notice"
    )
    assert twelve["To"] == "cpl@acme.example"
    assert "its renewal date" in body_text(twelve) and entry_id in body_text(twelve)
    assert six["Subject"].endswith("6-month notice")

    # NCSC renews it; SECAS records the new date.
    new_renewal = months_before(renewal, -36)
    recorded = client.post(
        f"{API}/certificates/cpa/CPA-100/renewal",
        json={"renewal_date": new_renewal.isoformat(), "reference": "NCSC renewal R-1"},
        headers=auth(secas),
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["end_date"] == new_renewal.isoformat()

    # Nothing already sent goes again; the new end's notices go out once each.
    for day in (
        old_6,
        old_6 + timedelta(days=1),
        renewal,
        months_before(new_renewal, 12) - timedelta(days=1),
    ):
        assert run(engine, smtp_settings, day).sent == 0, day
    new_12, new_6 = months_before(new_renewal, 12), months_before(new_renewal, 6)
    assert run(engine, smtp_settings, new_12).sent == 1
    assert run(engine, smtp_settings, new_12 + timedelta(days=30)).sent == 0
    assert run(engine, smtp_settings, new_6).sent == 1
    assert run(engine, smtp_settings, new_6 + timedelta(days=1)).sent == 0
    subjects = [r.message["Subject"] for r in smtp_server.messages[2:]]
    assert subjects == [
        f"CPA certificate CPA-100 ends on {long_date(new_renewal)}: 12-month notice",
        f"CPA certificate CPA-100 ends on {long_date(new_renewal)}: 6-month notice",
    ]
    ids = [str(r.message["Message-ID"]) for r in smtp_server.messages]
    assert len(set(ids)) == len(ids) == 4

    # The extract carries the type and the renewed date, and validates.
    published = client.post(f"{API}/extracts", headers=auth(secas))
    assert published.status_code == 201, published.text
    payload = client.get(f"{API}/extracts/{published.json()['sequence']}", headers=auth(dcc))
    document = json.loads(payload.content)
    for schema in SCHEMAS:
        jsonschema.validate(document, schema)
    (listed,) = document["entries"]
    assert listed["entry_id"] == entry_id
    assert listed["cpa_certificate_type"] == "Lifetime"
    assert listed["cpa_renewal_date"] == new_renewal.isoformat()
    assert listed["cpa_expiry_date"] is None
    broken = {**document, "entries": [{**listed, "cpa_certificate_type": "Forever"}]}
    for schema in SCHEMAS:
        try:
            jsonschema.validate(broken, schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError("the schema accepted an unknown CPA certificate type")
