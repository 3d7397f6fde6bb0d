"""`cpl-service notices run`: once with --as-of, and the long-running --every mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import Engine

from cpl_service.cli import build_parser
from cpl_service.config import Settings
from tests.notices.conftest import AddCertificate, AddEntry


def _run(argv: list[str], settings: Settings) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args, settings)
    return code


def test_notices_run_as_of_a_date(
    engine: Engine,
    settings: Settings,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_certificate("CPA-9", date(2027, 8, 31))
    add_entry("CPA-9", "maker@example.com")
    assert _run(["notices", "run", "--as-of", "2026-08-31"], settings) == 0
    out = capsys.readouterr().out
    assert "as of 2026-08-31: queued 1, sent 1, failed 0, waiting 0" in out
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1
    assert _run(["notices", "run", "--as-of", "2026-09-01"], settings) == 0
    assert "queued 0, sent 0, failed 0, waiting 0" in capsys.readouterr().out


def test_a_failed_send_exits_1_and_says_why(
    engine: Engine,
    settings: Settings,
    add_certificate: AddCertificate,
    add_entry: AddEntry,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.notices.conftest import free_port

    add_certificate("CPA-9", date(2027, 8, 31))
    add_entry("CPA-9", "maker@example.com")
    down = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_password": "pw-xyz"}
    )
    assert _run(["notices", "run", "--as-of", "2026-08-31"], down) == 1
    out = capsys.readouterr().out
    assert "queued 1, sent 0, failed 1, waiting 1" in out and "cannot connect" in out
    assert "pw-xyz" not in out


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["notices", "run", "--as-of", "31/08/2026"],
        ["notices", "run", "--every", "0"],
        ["notices", "run", "--every", "5", "--as-of", "2026-01-01"],
    ):
        with pytest.raises(SystemExit) as raised:
            build_parser().parse_args(argv)
        assert raised.value.code == 2


def test_every_mode_runs_repeatedly_and_stops_on_sigterm(tmp_path: object) -> None:
    from pathlib import Path

    data_dir = Path(str(tmp_path)) / "data"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CPL_")} | {
        "CPL_DATA_DIR": str(data_dir)
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cpl_service.cli", "notices", "run", "--every", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while sum("notices run as of" in line for line in lines) < 2:
            assert time.monotonic() < deadline, lines
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            lines.append(line)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "stopped" in rest
    assert lines[0].startswith("running notices every 1 seconds")
