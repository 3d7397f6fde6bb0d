"""Scaling benchmark: how the cost of everyday operations grows with the list.

For each size (default 1,000, 10,000 and 100,000 listed entries, certificates shared by
10 entries each, a few dozen manufacturers, most entries Active and some removed) it
fills a fresh database, starts `cpl-service serve` on it and times, over HTTP:

  upload 1 row        POST /submissions of a one-row workbook (after a warm-up upload;
                      the best of five, each a new Device Model)
  upload 1,000 rows   POST /submissions of 1,000 new Device Models, each with its own
                      ZigBee, DLMS and CPA numbers
  publish             POST /extracts
  first cpl.xlsx      GET /cpl.xlsx once the list has changed (the workbook is built)
  cpl.csv             GET /cpl.csv
  search              GET /entries?q=... (the slowest of three searches)
  import-cpl          `cpl-service import-cpl` of the exported cpl.xlsx into an empty
                      database (a separate process: includes its start-up)

and prints one table, a column per size: wall time, and in brackets the CPU time the
server (or the import process) spent, which a busy machine inflates far less than the
wall time; then the server's peak RSS up to publishing, and that of a fresh server
building the first cpl.xlsx.

    .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --sizes 1000 10000
    .venv/bin/python bench/scale.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
from support import build_workbook, fill, peak_rss_mb, reset, serve

from cpl_service.config import Settings

OPERATIONS = (
    "upload 1 row",
    "upload 1,000 rows",
    "publish",
    "first cpl.xlsx",
    "cpl.csv",
    "search",
    "import-cpl",
)
MEMORY = ("peak RSS, to publish (MB)", "peak RSS, cpl.xlsx (MB)")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def running(env: dict[str, str], port: int) -> Iterator[tuple[int, httpx.Client]]:
    """A server process and a client of it; the server is stopped (gracefully) after."""
    server = serve(env, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
            yield server.pid, http
    finally:
        server.terminate()
        server.wait(timeout=300)


def timed(pid: int, action: Callable[[], httpx.Response]) -> tuple[float, float]:
    """Wall time of `action` and the server's CPU time meanwhile."""
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    response = action()
    elapsed = time.perf_counter() - started
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return elapsed, cpu_seconds(pid) - cpu


def upload(http: httpx.Client, token: str, content: bytes) -> httpx.Response:
    return http.post(
        "/api/v1/submissions",
        files={"file": ("bench.xlsx", content, "application/octet-stream")},
        headers={"Authorization": f"Bearer {token}"},
    )


def measure(size: int, scratch: Path, url: str | None, port: int) -> dict[str, tuple[float, float]]:
    reset(url)
    data_dir = scratch / f"n{size}"
    settings = Settings(data_dir=data_dir, database_url=url)
    tokens = fill(settings, size)
    env = {"CPL_DATA_DIR": str(data_dir)}
    if url:
        env["CPL_DATABASE_URL"] = url
    figures: dict[str, tuple[float, float]] = {}
    dcc, secas = tokens["dcc"], tokens["secas"]
    auth = {"Authorization": f"Bearer {secas}"}
    with running(env, port) as (pid, http):
        template = http.get("/api/v1/template").content
        # The first upload pays one-time costs (imports, statement caches).
        warm = upload(http, dcc, build_workbook(template, 1, offset=9_000_000))
        if warm.status_code != 201:
            raise RuntimeError(f"warm-up upload: {warm.status_code} {warm.text[:300]}")
        ones = [
            build_workbook(template, 1, offset=9_100_000 + n, certificates="unique")
            for n in range(5)
        ]
        figures["upload 1 row"] = min(timed(pid, partial(upload, http, dcc, one)) for one in ones)
        many = build_workbook(template, 1000, offset=9_200_000, certificates="unique")
        figures["upload 1,000 rows"] = timed(pid, lambda: upload(http, dcc, many))
        figures["publish"] = timed(pid, lambda: http.post("/api/v1/extracts", headers=auth))
        rss = peak_rss_mb(pid) or float("nan")
        figures[MEMORY[0]] = (rss, rss)
    # A fresh server, as a new user meets it, builds the first workbook: its memory is
    # the workbook's alone, and the gzip body compressed after publishing (stopping the
    # first server waited for it) costs it nothing.
    exported = data_dir / "exported.xlsx"

    def workbook(http: httpx.Client) -> httpx.Response:
        response = http.get("/api/v1/cpl.xlsx")
        exported.write_bytes(response.content)
        return response

    with running(env, port) as (pid, http):
        figures["first cpl.xlsx"] = timed(pid, lambda: workbook(http))
        rss = peak_rss_mb(pid) or float("nan")
        figures[MEMORY[1]] = (rss, rss)
        figures["cpl.csv"] = timed(pid, lambda: http.get("/api/v1/cpl.csv"))
        figures["search"] = max(
            timed(pid, partial(http.get, "/api/v1/entries", params={"q": q}, headers=auth))
            for q in ("CPA-77", "maker 07", "Model 3")
        )
    # Import the exported list into an empty database, as when moving between instances.
    reset(url)
    target = scratch / f"n{size}-import"
    env = {**os.environ, "CPL_DATA_DIR": str(target)}
    if url:
        env["CPL_DATABASE_URL"] = url
    started = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    imported = subprocess.run(
        [
            *(sys.executable, "-m", "cpl_service.cli", "import-cpl", str(exported)),
            *("--panel-decision-ref", "SECP_BENCH_1"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["import-cpl"] = (
        time.perf_counter() - started,
        after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime,
    )
    if imported.returncode != 0:
        print(f"import-cpl failed: {imported.stderr[-500:]}", file=sys.stderr)
        figures["import-cpl"] = (float("nan"), float("nan"))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (it is emptied!)")
    args = parser.parse_args()

    results: dict[int, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            results[size] = measure(size, Path(scratch), args.database_url, args.port)
            print(f"... {size:,} entries done", file=sys.stderr)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    load = os.getloadavg()[0]
    print(f"{backend}; seconds: wall (server CPU); load average at the end {load:.1f}")
    print(f"{'entries':<26}" + "".join(f"{size:>18,}" for size in args.sizes))
    for operation in OPERATIONS:
        cells = "".join(
            f"{f'{wall:.3f} ({cpu:.2f})':>18}"
            for wall, cpu in (results[size][operation] for size in args.sizes)
        )
        print(f"{operation:<26}{cells}")
    for memory in MEMORY:
        print(f"{memory:<26}" + "".join(f"{results[s][memory][0]:>18.0f}" for s in args.sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
