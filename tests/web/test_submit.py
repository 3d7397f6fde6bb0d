"""The submitters' pages: upload a workbook, see what to fix, their submissions, and the
firmware updates a supplier confirms — wiring, roles, CSRF, status codes."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.entries.models import Entry, EntryEvent
from cpl_service.main import create_app
from cpl_service.parties.models import Party
from cpl_service.submissions.models import Submission
from cpl_service.web.routes.submit import MAX_SHOWN_ISSUES
from cpl_service.workbook.fixes import FIXES
from tests.conftest import MakeParty, MakePerson
from tests.factories import make_entry
from tests.web.pages import assert_secured, csrf_of, page_sign_in
from tests.workbooks import build_workbook, valid_row

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)
_TAG = re.compile(r"<[^>]+>")


def person_of(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, role: str, name: str
) -> str:
    """Sign `client` in as `name` of a new `role` party "`name` Ltd"; returns the CSRF token."""
    party, _ = make_party(role, name=f"{name} Ltd")
    email = f"{name.lower()}@{role}.example"
    make_person(party, name, email)
    client.cookies.clear()
    return page_sign_in(client, email)


def party_named(session: Session, name: str) -> Party:
    return session.exec(select(Party).where(Party.name == name)).one()


def post_upload(
    client: TestClient,
    csrf: str | None,
    content: bytes,
    *,
    name: str = "cpl.xlsx",
    documents: list[tuple[str, bytes]] | None = None,
) -> Any:
    files: list[tuple[str, tuple[str, bytes, str]]] = [("file", (name, content, XLSX))]
    files.extend(("documents", (n, c, "application/pdf")) for n, c in documents or [])
    data = {"csrf_token": csrf} if csrf is not None else {}
    return client.post("/submit", data=data, files=files, follow_redirects=False)


def table_rows(page: str, caption: str) -> list[list[str]]:
    """The body rows of the table whose caption contains `caption`, as cell texts."""
    start = page.index(caption)
    table = page[start : page.index("</table>", start)]
    body = table[table.index("<tbody>") :]
    return [
        [html.unescape(_TAG.sub("", c)).strip() for c in _CELL.findall(row)]
        for row in _ROW.findall(body)
    ]


def count(session: Session, model: type[Any]) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


# --- the upload page ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manufacturer", "supplier", "dcc", "secas"])
def test_submit_page_offers_the_template_and_a_labelled_form(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, role: str
) -> None:
    # Every party may upload, as with POST /api/v1/submissions (SECAS too: SMETS1 entries).
    person_of(client, make_party, make_person, role, "Jane")
    page = client.get("/submit")
    assert page.status_code == 200
    assert_secured(page.headers)
    assert 'href="/api/v1/template"' in page.text
    assert 'enctype="multipart/form-data"' in page.text
    for field in ("file", "signature", "documents"):
        assert f'<label for="{field}">' in page.text
        assert f'id="{field}" name="{field}" type="file"' in page.text
    assert "multiple" in page.text.split('id="documents"')[1].split(">")[0]
    assert client.get("/api/v1/template").status_code == 200


@pytest.mark.parametrize("path", ["/submit", "/submissions", "/submissions/1", "/firmware-updates"])
def test_signed_out_visits_go_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in?next={path}"
    assert_secured(response.headers)


def test_upload_with_errors_shows_each_at_its_row_and_heading(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    csrf = person_of(client, make_party, make_person, "manufacturer", "Jane")
    rows = [
        valid_row(),
        valid_row(**{"Firmware Version": "1", "Manufacturer ID": "XYZ"}),
        valid_row(**{"Physical Device Type": "IHD", "Firmware Version": "00020131"}),
    ]
    response = post_upload(client, csrf, build_workbook(rows), name="acme.xlsx")
    assert response.status_code == 422
    assert_secured(response.headers)
    page = response.text
    assert "acme.xlsx was not accepted: it has 3 problems." in page
    report = table_rows(page, "Problems in acme.xlsx, in sheet order")
    assert [(r[0], r[1]) for r in report] == [
        ("3", "Manufacturer ID"),  # sheet order: by row, then left to right
        ("3", "Firmware Version"),
        ("4", "Physical Device Type"),
    ]
    assert "exactly 4 hexadecimal digits" in report[0][2]
    assert "not listed on the CPL" in report[2][2]
    kinds = {r[0].split()[0]: r for r in table_rows(page, "Each kind of problem once")}
    assert kinds["invalid-hex"][1] == "2"
    assert kinds["invalid-hex"][2] == FIXES["invalid-hex"]
    assert kinds["unlisted-device"][2] == FIXES["unlisted-device"]
    # The user can choose a new file and upload again on the same page.
    assert 'action="/submit"' in page and csrf_of(page) == csrf
    assert count(session, Submission) == 0 and count(session, Entry) == 0


def test_a_long_report_shows_its_first_problems_and_counts_them_all(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    csrf = person_of(client, make_party, make_person, "manufacturer", "Jane")
    rows = [valid_row(**{"Manufacturer ID": "XYZ", "Hardware Version": "Q"}) for _ in range(501)]
    response = post_upload(client, csrf, build_workbook(rows), name="big.xlsx")
    assert response.status_code == 422
    assert "it has 1002 problems." in response.text
    assert f"Showing the first {MAX_SHOWN_ISSUES} of 1002 problems" in response.text
    shown = table_rows(response.text, "Problems in big.xlsx, in sheet order")
    assert len(shown) == MAX_SHOWN_ISSUES
    assert shown[-1][:2] == ["501", "Hardware Version"]
    kinds = table_rows(response.text, "Each kind of problem once")
    assert [(k[0], k[1]) for k in kinds] == [("invalid-hex", "1002")]


def test_good_upload_redirects_to_its_page(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    csrf = person_of(client, make_party, make_person, "manufacturer", "Jane")
    content = build_workbook([valid_row(), valid_row(**{"Firmware Version": "00020130"})])
    response = post_upload(client, csrf, content, name="acme.xlsx")
    assert response.status_code == 303, response.text
    submission = session.exec(select(Submission)).one()
    assert response.headers["location"] == f"/submissions/{submission.id}?uploaded=new"

    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert_secured(page.headers)
    assert "Your workbook was accepted: its 2 entries are now pending review" in page.text
    entry_ids = [e.entry_id for e in session.exec(select(Entry).order_by(col(Entry.id))).all()]
    entries = table_rows(page.text, f"The entries of submission {submission.id}")
    assert [r[0] for r in entries] == entry_ids
    assert all(r[7] == "Pending review" and r[8] == "Not needed" for r in entries)
    history = table_rows(page.text, f"What happened to {entry_ids[0]}")
    assert len(history) == 1
    assert history[0][1:] == [
        "Submitted: Pending review",
        "Jane (Jane Ltd)",
        f"Submission {submission.id} (acme.xlsx)",
    ]

    again = post_upload(client, csrf, content, name="acme.xlsx")
    assert again.status_code == 303
    assert again.headers["location"] == f"/submissions/{submission.id}?uploaded=again"
    assert "nothing new was stored" in client.get(again.headers["location"]).text
    assert count(session, Submission) == 1


TRUNCATED = build_workbook([valid_row()])[:700]
NOT_WORKBOOKS = {
    "text file": ("notes.txt", b"hello", None, 415, "is not an .xlsx or .xlsm workbook"),
    "text named .xlsx": ("cpl.xlsx", b"Manufacturer ID\nAB01\n", None, 415, "as an Excel .xlsx"),
    "truncated workbook": ("cpl.xlsx", TRUNCATED, None, 422, "could not be read"),
    "no file chosen": ("", b"", None, 422, "Choose the workbook file to upload"),
    "document not a PDF": ("cpl.xlsx", None, ("cert.pdf", b"hello"), 415, "is not a PDF file"),
}


@pytest.mark.parametrize("case", sorted(NOT_WORKBOOKS))
def test_a_file_that_cannot_be_taken_gets_a_clear_message_and_the_form_again(
    client: TestClient,
    session: Session,
    make_party: MakeParty,
    make_person: MakePerson,
    case: str,
) -> None:
    name, content, document, status, message = NOT_WORKBOOKS[case]
    csrf = person_of(client, make_party, make_person, "supplier", "Sam")
    workbook = build_workbook([valid_row()]) if content is None else content
    response = post_upload(
        client, csrf, workbook, name=name, documents=[document] if document else None
    )
    assert response.status_code == status, response.text
    assert_secured(response.headers)
    assert message in html.unescape(response.text)
    assert 'role="alert"' in response.text
    assert 'id="file" name="file" type="file"' in response.text
    assert count(session, Submission) == 0 and count(session, Entry) == 0


def test_a_workbook_over_the_limit_is_413_on_the_page(
    settings: Settings, make_party: MakeParty, make_person: MakePerson
) -> None:
    app = create_app(settings.model_copy(update={"max_upload_bytes": 4096}))
    with TestClient(app) as client:
        csrf = person_of(client, make_party, make_person, "manufacturer", "Jane")
        response = post_upload(client, csrf, b"PK" + b"\x00" * 5000)
        assert response.status_code == 413
        assert_secured(response.headers)
        assert "The workbook is larger than" in response.text
        assert 'id="file" name="file" type="file"' in response.text
    app.state.engine.dispose()


@pytest.mark.parametrize("csrf", [None, "not-the-token"])
def test_upload_refuses_a_missing_or_wrong_csrf_token(
    client: TestClient,
    session: Session,
    make_party: MakeParty,
    make_person: MakePerson,
    csrf: str | None,
) -> None:
    person_of(client, make_party, make_person, "manufacturer", "Jane")
    response = post_upload(client, csrf, build_workbook([valid_row()]))
    assert response.status_code == 403
    assert_secured(response.headers)
    assert count(session, Submission) == 0 and count(session, Entry) == 0


# --- submissions ----------------------------------------------------------------------


def test_submissions_are_the_partys_own_newest_first_with_counts(
    client: TestClient, make_party: MakeParty, make_person: MakePerson
) -> None:
    rival = person_of(client, make_party, make_person, "manufacturer", "Rita")
    post_upload(client, rival, build_workbook([valid_row(**{"Model ID": "0009"})]), name="r.xlsx")
    csrf = person_of(client, make_party, make_person, "manufacturer", "Jane")
    post_upload(client, csrf, build_workbook([valid_row()]), name="first.xlsx")
    rows = [valid_row(**{"Firmware Version": f"0000000{n}"}) for n in range(1, 4)]
    post_upload(client, csrf, build_workbook(rows), name="second.xlsx")

    page = client.get("/submissions")
    assert page.status_code == 200
    assert_secured(page.headers)
    listed = table_rows(page.text, "2 submissions, newest first")
    assert [(r[1], r[3], r[4]) for r in listed] == [
        ("second.xlsx", "Pending review", "3"),
        ("first.xlsx", "Pending review", "1"),
    ]
    assert "r.xlsx" not in page.text

    person_of(client, make_party, make_person, "secas", "Sue")
    everyone = table_rows(client.get("/submissions").text, "3 submissions, newest first")
    assert [(r[1], r[2]) for r in everyone] == [
        ("second.xlsx", "Jane Ltd"),
        ("first.xlsx", "Jane Ltd"),
        ("r.xlsx", "Rita Ltd"),
    ]


def test_submissions_are_paginated(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    person_of(client, make_party, make_person, "dcc", "Dan")
    party_id = party_named(session, "Dan Ltd").id
    assert party_id is not None
    for n in range(51):
        session.add(
            Submission(
                party_id=party_id,
                filename=f"wb{n}.xlsx",
                content_sha256=f"{n:064x}",
                size_bytes=1,
                created_at=utcnow(),
            )
        )
    session.commit()
    first = client.get("/submissions")
    assert len(table_rows(first.text, "51 submissions")) == 50
    assert 'href="?offset=50"' in first.text
    second = client.get("/submissions?offset=50")
    assert [r[1] for r in table_rows(second.text, "51 submissions")] == ["wb0.xlsx"]
    assert 'href="?offset=0"' in second.text


def test_another_partys_submission_is_not_found(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    csrf = person_of(client, make_party, make_person, "manufacturer", "Jane")
    post_upload(client, csrf, build_workbook([valid_row()]), name="secret-plans.xlsx")
    submission_id = session.exec(select(Submission.id)).one()

    person_of(client, make_party, make_person, "manufacturer", "Rita")
    for path in (f"/submissions/{submission_id}", "/submissions/999"):
        response = client.get(path)
        assert response.status_code == 404
        assert_secured(response.headers)
        assert "secret-plans" not in response.text
    api = client.get(f"/api/v1/submissions/{submission_id}")
    assert api.status_code == 404  # exactly as the API

    person_of(client, make_party, make_person, "secas", "Sue")
    assert client.get(f"/submissions/{submission_id}").status_code == 200


def test_submission_page_links_its_documents(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    csrf = person_of(client, make_party, make_person, "manufacturer", "Jane")
    response = post_upload(
        client, csrf, build_workbook([valid_row()]), documents=[("zigbee.pdf", PDF)]
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    link = re.search(r'href="(/api/v1/submissions/\d+/documents/\d+)" download>zigbee.pdf<', page)
    assert link, page
    download = client.get(link.group(1))
    assert download.status_code == 200 and download.content == PDF


# --- firmware updates -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["manufacturer", "dcc", "secas"])
def test_firmware_updates_are_for_suppliers_only(
    client: TestClient, make_party: MakeParty, make_person: MakePerson, role: str
) -> None:
    csrf = person_of(client, make_party, make_person, role, "Pat")
    page = client.get("/firmware-updates")
    assert page.status_code == 403
    assert_secured(page.headers)
    confirm = client.post(
        "/firmware-updates/CPL-000001/confirm",
        data={"csrf_token": csrf, "reference": "R1"},
        follow_redirects=False,
    )
    assert confirm.status_code == 403


def _firmware_update_of(
    client: TestClient, session: Session, csrf: str, previous: Entry
) -> tuple[int, str]:
    """Upload a manufacturer's Firmware Update of `previous`; its submission and entry IDs."""
    row = valid_row(
        **{
            "Submission Type": "Firmware Update",
            "Manufacturer ID": previous.manufacturer_id,
            "Model ID": previous.model_id,
            "Hardware Version": previous.hardware_version,
            "Firmware Version": "0000FFFF",
            "Previous CPL Entry ID": previous.entry_id,
            "Certificate Mapping Evidence": "Mapping doc 7",
        }
    )
    response = post_upload(client, csrf, build_workbook([row]))
    assert response.status_code == 303, response.text
    submission_id = int(response.headers["location"].split("/")[2].split("?")[0])
    entry = session.exec(select(Entry).where(Entry.submission_id == submission_id)).one()
    return submission_id, entry.entry_id


def test_a_supplier_confirms_a_manufacturers_firmware_update(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    maker_csrf = person_of(client, make_party, make_person, "manufacturer", "Jane")
    previous = make_entry(session, status="active", firmware_version="00000001")
    submission_id, entry_id = _firmware_update_of(client, session, maker_csrf, previous)
    before = table_rows(client.get(f"/submissions/{submission_id}").text, "The entries of")
    assert before[0][8] == "Awaiting a supplier"
    dcc, _ = make_party("dcc")
    make_entry(  # the DCC's firmware updates need no supplier's confirmation
        session,
        party_id=dcc.id,
        submission_type="Firmware Update",
        firmware_version="0000AAAA",
    )

    csrf = person_of(client, make_party, make_person, "supplier", "Sam")
    page = client.get("/firmware-updates")
    assert page.status_code == 200
    assert_secured(page.headers)
    waiting = table_rows(page.text, "awaiting confirmation")
    assert [r[0] for r in waiting] == [entry_id]
    assert waiting[0][1].startswith("Jane Ltd")
    assert f'<label for="reference-{entry_id}">' in page.text

    done = client.post(
        f"/firmware-updates/{entry_id}/confirm",
        data={"csrf_token": csrf, "reference": "CHG-4411"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/firmware-updates?confirmed={entry_id}"
    after = client.get(done.headers["location"])
    assert f"{entry_id} is confirmed." in after.text
    assert "No firmware update is waiting" in after.text
    session.expire_all()
    entry = session.exec(select(Entry).where(Entry.entry_id == entry_id)).one()
    assert entry.supplier_confirmation_ref == "CHG-4411"
    event = session.exec(
        select(EntryEvent)
        .where(EntryEvent.entry_pk == entry.id)
        .order_by(col(EntryEvent.id).desc())
    ).first()
    assert event is not None and event.action == "supplier_confirmed"
    assert (event.actor_name, event.actor_person) == ("Sam Ltd", "Sam")

    person_of(client, make_party, make_person, "secas", "Sue")
    shown = client.get(f"/submissions/{submission_id}").text
    assert table_rows(shown, "The entries of")[0][8] == "Confirmed: CHG-4411"
    history = table_rows(shown, f"What happened to {entry_id}")
    assert history[-1][1:] == ["Supplier confirmed", "Sam (Sam Ltd)", "CHG-4411"]


def test_confirming_without_a_reference_twice_or_unknown_says_why(
    client: TestClient, session: Session, make_party: MakeParty, make_person: MakePerson
) -> None:
    maker, _ = make_party("manufacturer")
    update = make_entry(session, party_id=maker.id, submission_type="Firmware Update")
    csrf = person_of(client, make_party, make_person, "supplier", "Sam")
    url = f"/firmware-updates/{update.entry_id}/confirm"

    blank = client.post(url, data={"csrf_token": csrf, "reference": "  "})
    assert blank.status_code == 422
    assert_secured(blank.headers)
    assert f"{update.entry_id} was not confirmed." in blank.text
    assert "needs a reference" in blank.text
    assert client.post(url, data={"csrf_token": csrf, "reference": "R-1"}).status_code == 200
    twice = client.post(url, data={"csrf_token": csrf, "reference": "R-2"})
    assert twice.status_code == 409
    assert "already been confirmed" in twice.text
    unknown = client.post(
        "/firmware-updates/CPL-999999/confirm", data={"csrf_token": csrf, "reference": "R"}
    )
    assert unknown.status_code == 404
    session.expire_all()
    assert session.get(Entry, update.id).supplier_confirmation_ref == "R-1"  # type: ignore[union-attr]


@pytest.mark.parametrize("csrf", [None, "not-the-token"])
def test_confirm_refuses_a_missing_or_wrong_csrf_token(
    client: TestClient,
    session: Session,
    make_party: MakeParty,
    make_person: MakePerson,
    csrf: str | None,
) -> None:
    maker, _ = make_party("manufacturer")
    update = make_entry(session, party_id=maker.id, submission_type="Firmware Update")
    person_of(client, make_party, make_person, "supplier", "Sam")
    data = {"reference": "R-1", **({"csrf_token": csrf} if csrf else {})}
    response = client.post(f"/firmware-updates/{update.entry_id}/confirm", data=data)
    assert response.status_code == 403
    assert_secured(response.headers)
    session.expire_all()
    assert session.get(Entry, update.id).supplier_confirmation_ref is None  # type: ignore[union-attr]
