"""What both benchmarks need: a real `cpl-service serve` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx


def serve(env_overrides: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start `cpl-service serve` on `port` with extra `CPL_` settings; wait until healthy."""
    server = subprocess.Popen(
        [sys.executable, "-m", "cpl_service.cli", "serve", "--port", str(port)],
        env={**os.environ, **env_overrides},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start within 30 s")
