"""Schemathesis against a real `cpl-service serve`: no 5xx, nothing that contradicts the schema.

Slow (about a minute per database), so it is marked `fuzz`: `.ci/run` runs it on its own with
`pytest -m fuzz`; the default test run leaves it out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cpl_service.config import Settings
from tests.conftest import MakeParty
from tests.server import running_server

SECONDS_PER_ROLE = 30
SEED = 20261201
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


@pytest.mark.fuzz
@pytest.mark.parametrize("role", ["secas", "manufacturer"])
def test_schemathesis_finds_nothing(
    settings: Settings, make_party: MakeParty, tmp_path: Path, role: str
) -> None:
    _, token = make_party(role)
    with running_server(settings, tmp_path / "serve.log") as base:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{base}/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--checks",
                CHECKS,
                "--max-time",
                str(SECONDS_PER_ROLE),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--request-timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=SECONDS_PER_ROLE * 4 + 60,
        )
    summary = run.stdout[run.stdout.find("SUMMARY") :]
    print(f"schemathesis as {role} on {settings.resolved_database_url.split(':')[0]}:\n{summary}")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
