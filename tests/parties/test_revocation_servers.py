"""A token revoked through one server process is refused by another within the bound."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from cpl_service.api.deps import TOKEN_TTL_SECONDS
from cpl_service.config import Settings
from tests.conftest import MakeParty, auth
from tests.server import running_server


def test_a_second_server_refuses_a_revoked_token_within_the_bound(
    settings: Settings, make_party: MakeParty, tmp_path: Path
) -> None:
    assert TOKEN_TTL_SECONDS <= 5.0  # the bound the README states
    _, secas = make_party("secas")
    dcc, _ = make_party("dcc")
    with (
        running_server(settings, tmp_path / "a.log") as a,
        running_server(settings, tmp_path / "b.log") as b,
        httpx.Client(base_url=a, timeout=30) as first,
        httpx.Client(base_url=b, timeout=30) as second,
    ):
        assert first.post("/api/v1/extracts", headers=auth(secas)).status_code == 201
        made = first.post(
            "/api/v1/tokens", json={"name": "poller", "party_id": dcc.id}, headers=auth(secas)
        ).json()
        token = made["token"]
        # the second server now holds the token's role in its hot cache
        for _ in range(3):
            assert second.get("/api/v1/extracts/latest", headers=auth(token)).status_code == 200
        revoked_at = time.monotonic()
        assert first.post(f"/api/v1/tokens/{made['id']}/revoke", headers=auth(secas)).is_success
        # the first server forgets the token at once; the second within TOKEN_TTL_SECONDS,
        # on every route (one authentication dependency, one cache)
        assert first.get("/api/v1/extracts/latest", headers=auth(token)).status_code == 401
        for path in ("/api/v1/extracts/latest", "/api/v1/extracts", "/api/v1/entries"):
            while second.get(path, headers=auth(token)).status_code != 401:
                assert time.monotonic() - revoked_at < TOKEN_TTL_SECONDS + 1.0
                time.sleep(0.1)
        assert time.monotonic() - revoked_at < TOKEN_TTL_SECONDS + 1.0
        assert second.get("/api/v1/extracts/latest", headers=auth(secas)).status_code == 200
