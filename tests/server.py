"""Run real `cpl-service serve` processes for tests that are about the server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from cpl_service.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPL_")}
    env["CPL_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["CPL_DATABASE_URL"] = settings.database_url
    env.update(extra or {})
    return env


@contextmanager
def server_process(
    settings: Settings,
    log: Path,
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    append: bool = False,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start `cpl-service serve` on a free port (or `port`); yield the process and its base URL.

    `env` adds environment variables (e.g. `CPL_SIGNING_KEY`) to the server's; `append` keeps
    the log of an earlier run of the same server (a restart). The server is stopped after,
    unless a test already killed it.
    """
    port = port or free_port()
    with log.open("ab" if append else "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cpl_service.cli", "serve", "--port", str(port)],
            env=server_env(settings, env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_server(
    settings: Settings, log: Path, *, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """Start `cpl-service serve` on a free port (or `port`); yield its base URL; stop it after.

    `env` adds environment variables (e.g. `CPL_SIGNING_KEY`) to the server's.
    """
    with server_process(settings, log, env=env, port=port) as (_, base):
        yield base
