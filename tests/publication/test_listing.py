"""The public JSON listing: only listed entries, filters, search and paging."""

from __future__ import annotations

import gzip
import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from cpl_service.entries.models import Entry
from cpl_service.extracts.rows import EXTRACT_FIELDS, public_entry
from tests.publication.conftest import MakeEntry

URL = "/api/v1/cpl"


def ids(response_json: dict) -> list[str]:
    return [item["entry_id"] for item in response_json["items"]]


def test_listing_is_public_and_never_shows_pending_or_rejected(
    cpl_client: TestClient, mixed_entries: list[Entry]
) -> None:
    response = cpl_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert ids(body) == ["CPL-000001", "CPL-000002", "CPL-000003", "CPL-000006", "CPL-000007"]
    assert body["total"] == 5 and body["limit"] == 100 and body["offset"] == 0
    assert "Secret" not in response.text
    statuses = {item["entry_id"]: item["status"] for item in body["items"]}
    assert statuses["CPL-000002"] == "Expired" and statuses["CPL-000003"] == "Withdrawn"


def test_item_has_exactly_the_extract_fields_and_removal_proposed(
    cpl_client: TestClient, mixed_entries: list[Entry]
) -> None:
    items = cpl_client.get(URL).json()["items"]
    expired = next(i for i in items if i["entry_id"] == "CPL-000002")
    assert set(expired) == {*EXTRACT_FIELDS, "removal_proposed"}
    assert expired["status_effective_at"] == "2024-09-02T14:05:07Z"
    assert expired["cpa_conditional_date"] == "2026-12-31"
    assert expired["panel_decision_ref"] == "SECP_80_0101_01"
    assert expired["physical_device_type"] == "GSME"
    flagged = next(i for i in items if i["entry_id"] == "CPL-000006")
    assert flagged["removal_proposed"] is True


def test_public_entry_is_json_ready(mixed_entries: list[Entry]) -> None:
    for entry in mixed_entries:
        if entry.status in ("pending_review", "rejected"):
            continue
        data = public_entry(entry)
        assert tuple(data) == EXTRACT_FIELDS
        assert all(v is None or isinstance(v, str | bool) for v in data.values())
    assert public_entry(mixed_entries[0])["cpa_expiry_date"] == date(2030, 6, 30).isoformat()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "Expired"}, ["CPL-000002"]),
        ({"status": "withdrawn"}, ["CPL-000003"]),
        ({"status": "Active"}, ["CPL-000001", "CPL-000006", "CPL-000007"]),
        ({"device_type": "GSME"}, ["CPL-000002"]),
        ({"device_type": "CH"}, ["CPL-000007"]),
        ({"manufacturer_id": "cd02"}, ["CPL-000003"]),
        ({"q": "zeta"}, ["CPL-000003"]),
        ({"q": "métering"}, ["CPL-000007"]),
        ({"q": "cpl-000006"}, ["CPL-000006"]),
        ({"q": "cpa-301"}, ["CPL-000002"]),
        ({"q": "ef03"}, ["CPL-000007"]),
        ({"q": "%"}, []),
        ({"q": "_"}, ["CPL-000002", "CPL-000003"]),  # the Panel references only
        ({"q": "Secret"}, []),
        ({"status": "Active", "manufacturer_id": "AB01"}, ["CPL-000001", "CPL-000006"]),
    ],
)
def test_filters_and_search(
    cpl_client: TestClient, mixed_entries: list[Entry], params: dict, expected: list[str]
) -> None:
    response = cpl_client.get(URL, params=params)
    assert response.status_code == 200, response.text
    assert ids(response.json()) == expected


def test_like_wildcards_are_literal(cpl_client: TestClient, make_entry: MakeEntry) -> None:
    make_entry(1, model_name="Meter 100% Pro")
    make_entry(2, model_name="Meter 1000 Pro")
    make_entry(3, model_name="Under_score")
    make_entry(4, model_name="Underscore")
    assert ids(cpl_client.get(URL, params={"q": "100%"}).json()) == ["CPL-000001"]
    assert ids(cpl_client.get(URL, params={"q": "under_"}).json()) == ["CPL-000003"]


def test_pagination(cpl_client: TestClient, make_entry: MakeEntry) -> None:
    for n in range(1, 13):
        make_entry(n)
    first = cpl_client.get(URL, params={"limit": 5}).json()
    second = cpl_client.get(URL, params={"limit": 5, "offset": 5}).json()
    last = cpl_client.get(URL, params={"limit": 5, "offset": 10}).json()
    assert first["total"] == second["total"] == last["total"] == 12
    assert ids(first) == [f"CPL-{n:06d}" for n in range(1, 6)]
    assert ids(second) == [f"CPL-{n:06d}" for n in range(6, 11)]
    assert ids(last) == ["CPL-000011", "CPL-000012"]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending_review"},
        {"status": "Rejected"},
        {"status": "bogus"},
        {"device_type": "IHD"},
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
    ],
)
def test_bad_filters_are_problems(cpl_client: TestClient, params: dict) -> None:
    response = cpl_client.get(URL, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_search_never_matches_across_two_columns(
    cpl_client: TestClient, make_entry: MakeEntry
) -> None:
    make_entry(1, manufacturer_name="Acme Meters Ltd", model_name="Zed E1")
    assert ids(cpl_client.get(URL, params={"q": "Ltd"}).json()) == ["CPL-000001"]
    assert ids(cpl_client.get(URL, params={"q": "LtdZed"}).json()) == []


def test_listing_is_gzipped_when_the_client_accepts_it(
    cpl_client: TestClient, make_entry: MakeEntry
) -> None:
    for number in range(1, 6):
        make_entry(number)
    with cpl_client.stream("GET", URL, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        raw = b"".join(response.iter_raw())
    assert ids(json.loads(gzip.decompress(raw))) == [f"CPL-00000{n}" for n in range(1, 6)]
    plain = cpl_client.get(URL, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert ids(plain.json()) == [f"CPL-00000{n}" for n in range(1, 6)]
