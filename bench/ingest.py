"""Ingest benchmark: upload an N-row workbook and compare with merely parsing it.

Starts `cpl-service serve` on a fresh data directory (or uses --url/--token), builds a valid
N-row workbook from the server's own template, uploads it, and prints the upload's wall time,
the time python-calamine takes just to parse the same bytes, their ratio, and the server's
peak resident memory (VmHWM).

    .venv/bin/python bench/ingest.py --rows 5000
    .venv/bin/python bench/ingest.py --rows 5000 --certificates unique
    .venv/bin/python bench/ingest.py --rows 20000
    .venv/bin/python bench/ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

`--certificates shared` (the default): the rows share 50 ZigBee, DLMS and CPA numbers;
`unique`: every row has its own three numbers, as in a migration-sized submission.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import httpx
from python_calamine import CalamineWorkbook
from support import build_workbook, peak_rss_mb, reset, serve


def parse_time(content: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        workbook.get_sheet_by_name("CPL - New Entry").to_python()
        best = min(best, time.perf_counter() - started)
    return best


@dataclass(frozen=True)
class IngestFigures:
    """One ingest run: the best upload time, calamine's parse time, the server's peak RSS."""

    rows: int
    certificates: str
    size_mb: float
    upload: float
    parse: float
    rss_mb: float | None

    @property
    def ratio(self) -> float:
        return self.upload / self.parse


def measure(
    *,
    rows: int,
    certificates: str,
    port: int,
    repeat: int = 3,
    url: str | None = None,
    token: str | None = None,
    database_url: str | None = None,
) -> IngestFigures:
    """Upload `rows` new Device Models `repeat` times (after a warm-up) to a fresh server
    on SQLite, or on the scratch PostgreSQL `database_url` (emptied first), or to a running
    server at `url` with `token`; raises RuntimeError when an upload is refused."""
    server = None
    with tempfile.TemporaryDirectory() as data_dir:
        settings = {"CPL_DATA_DIR": data_dir}
        if database_url:
            reset(database_url)
            settings["CPL_DATABASE_URL"] = database_url
        if url:
            base = url.rstrip("/")
        else:
            env = {**os.environ, **settings}
            cli = [sys.executable, "-m", "cpl_service.cli"]
            added = subprocess.run(
                [
                    *cli,
                    "party",
                    "add",
                    "--name",
                    "Bench",
                    "--role",
                    "dcc",
                    "--email",
                    "bench@dcc.example",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            token = added.stdout.strip().splitlines()[-1]
            server = serve(settings, port)
            base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=600) as http:
                template = http.get("/api/v1/template").content
                content = build_workbook(template, rows, certificates=certificates)
                parse = parse_time(content)
                headers = {"Authorization": f"Bearer {token}"}
                # A first small upload pays the one-time costs (imports, statement caches),
                # so the figures are the steady state a busy server shows.
                warm = http.post(
                    "/api/v1/submissions",
                    files={"file": ("warm.xlsx", build_workbook(template, 10, offset=10**6), "x")},
                    headers=headers,
                )
                if warm.status_code != 201:
                    raise RuntimeError(f"warm-up upload: {warm.status_code} {warm.text[:500]}")
                upload = float("inf")
                for attempt in range(repeat):
                    # Each attempt uploads new Device Models (another firmware range).
                    body = (
                        content
                        if attempt == 0
                        else build_workbook(
                            template, rows, offset=attempt * rows, certificates=certificates
                        )
                    )
                    started = time.perf_counter()
                    response = http.post(
                        "/api/v1/submissions",
                        files={"file": ("bench.xlsx", body, "application/octet-stream")},
                        headers=headers,
                    )
                    upload = min(upload, time.perf_counter() - started)
                    if response.status_code != 201:
                        raise RuntimeError(
                            f"upload failed: {response.status_code} {response.text[:500]}"
                        )
            rss = peak_rss_mb(server.pid) if server is not None else None
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
    return IngestFigures(rows, certificates, len(content) / 1024 / 1024, upload, parse, rss)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--url", help="an already running server (needs --token)")
    parser.add_argument("--token", help="a bearer token of a dcc or secas party")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--repeat", type=int, default=3, help="uploads timed (best is shown)")
    parser.add_argument("--certificates", choices=("shared", "unique"), default="shared")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (it is emptied!)")
    args = parser.parse_args()
    try:
        figures = measure(
            rows=args.rows,
            certificates=args.certificates,
            port=args.port,
            repeat=args.repeat,
            url=args.url,
            token=args.token,
            database_url=args.database_url,
        )
    except RuntimeError as exc:
        print(exc)
        return 1
    print(f"rows:                 {figures.rows} ({figures.certificates} certificates)")
    print(f"workbook size:        {figures.size_mb:.2f} MB")
    print(f"upload wall time:     {figures.upload:.3f} s (best of {args.repeat}, after a warm-up)")
    print(f"calamine parse only:  {figures.parse:.3f} s")
    print(f"ratio upload/parse:   {figures.ratio:.2f}")
    if args.url is None:
        rss = figures.rss_mb
        print(f"server peak RSS:      {rss:.0f} MB" if rss else "server peak RSS: n/a")
    return 0


if __name__ == "__main__":
    sys.exit(main())
