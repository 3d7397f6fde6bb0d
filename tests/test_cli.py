"""The `cpl-service` command as an operator runs it (real subprocesses)."""

from __future__ import annotations

import subprocess
import sys

from cpl_service.config import Settings
from tests.server import server_env


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpl_service.cli", *args],
        env=server_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_is_idempotent(settings: Settings) -> None:
    first = cli(settings, "db", "upgrade")
    second = cli(settings, "db", "upgrade")
    assert first.returncode == 0 and second.returncode == 0
    assert "latest schema" in second.stdout
