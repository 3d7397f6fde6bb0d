"""Ingest benchmark: upload an N-row workbook and compare with merely parsing it.

Starts `cpl-service serve` on a fresh data directory (or uses --url/--token), builds a valid
N-row workbook from the server's own template, uploads it, and prints the upload's wall time,
the time python-calamine takes just to parse the same bytes, their ratio, and the server's
peak resident memory (VmHWM).

    .venv/bin/python bench/ingest.py --rows 5000
    .venv/bin/python bench/ingest.py --rows 20000
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from support import serve


def heading_text(value: object) -> str:
    """A heading of the template, which is always text (openpyxl types it as any cell value)."""
    if not isinstance(value, str):
        raise ValueError(f"the template's heading row holds {value!r}, not a heading")
    return value


def build(template: bytes, rows: int, *, offset: int = 0) -> bytes:
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook["CPL - New Entry"]
    headings = [heading_text(c.value) for c in sheet[1]]
    expiry = date.today() + timedelta(days=800)  # noqa: DTZ011
    for n in range(offset, offset + rows):
        values = {
            "Submission Type": "New Device Model",
            "Manufacturer Name": "Bench Meters",
            "Manufacturer ID": "BE01",
            "Model Name": f"Bench {n // 1000}",
            "Model ID": f"{n // 1000:04X}",
            "Hardware Version": "0100",
            "Firmware Version": f"{n:08X}",
            "Physical Device Type": "ESME_SINGLE",
            "Technical Specification": "SMETS2 v4.2",
            "GBCS Version": "v3.2",
            "Manufacturer Release Notes": f"RN-{n}",
            "ZigBee Certificate Number": f"ZIG-{n % 50}",
            "DLMS Certificate Number": f"DLMS-{n % 50}",
            "CPA Certificate Number": f"CPA-{n % 50}",
            "CPA Expiry Date": expiry,
            "Contact Email": "bench@meters.example",
        }
        sheet.append([values.get(h) for h in headings])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def parse_time(content: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        workbook.get_sheet_by_name("CPL - New Entry").to_python()
        best = min(best, time.perf_counter() - started)
    return best


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--url", help="an already running server (needs --token)")
    parser.add_argument("--token", help="a bearer token of a dcc or secas party")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--repeat", type=int, default=3, help="uploads timed (best is shown)")
    args = parser.parse_args()

    server = None
    with tempfile.TemporaryDirectory() as data_dir:
        if args.url:
            base, token = args.url.rstrip("/"), args.token
        else:
            env = {**os.environ, "CPL_DATA_DIR": data_dir}
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
            server = serve({"CPL_DATA_DIR": data_dir}, args.port)
            base = f"http://127.0.0.1:{args.port}"
        try:
            with httpx.Client(base_url=base, timeout=600) as http:
                template = http.get("/api/v1/template").content
                content = build(template, args.rows)
                parse = parse_time(content)
                headers = {"Authorization": f"Bearer {token}"}
                # A first small upload pays the one-time costs (imports, statement caches),
                # so the figures are the steady state a busy server shows.
                warm = http.post(
                    "/api/v1/submissions",
                    files={"file": ("warm.xlsx", build(template, 10, offset=10**6), "x")},
                    headers=headers,
                )
                assert warm.status_code == 201, warm.text
                upload = float("inf")
                for attempt in range(args.repeat):
                    # Each attempt uploads new Device Models (another firmware range).
                    body = (
                        content
                        if attempt == 0
                        else build(template, args.rows, offset=attempt * args.rows)
                    )
                    started = time.perf_counter()
                    response = http.post(
                        "/api/v1/submissions",
                        files={"file": ("bench.xlsx", body, "application/octet-stream")},
                        headers=headers,
                    )
                    upload = min(upload, time.perf_counter() - started)
                    if response.status_code != 201:
                        break
            if response.status_code != 201:
                print(f"upload failed: {response.status_code} {response.text[:500]}")
                return 1
            print(f"rows:                 {args.rows}")
            print(f"workbook size:        {len(content) / 1024 / 1024:.2f} MB")
            print(f"upload wall time:     {upload:.3f} s (best of {args.repeat}, after a warm-up)")
            print(f"calamine parse only:  {parse:.3f} s")
            print(f"ratio upload/parse:   {upload / parse:.2f}")
            if server is not None:
                rss = peak_rss_mb(server.pid)
                print(f"server peak RSS:      {rss:.0f} MB" if rss else "server peak RSS: n/a")
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
