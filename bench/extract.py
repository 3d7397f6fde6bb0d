"""Extract benchmark: publishing time, and serving the latest extract against /healthz.

1. Publish time: fills a fresh database with N Active entries (default 5,000 and 100,000)
   and times one publication (build, canonical JSON, sign, store).
2. Serving: starts `cpl-service serve` on the 5,000-entry database and drives it from
   separate load-generator processes (keep-alive clients), reporting requests per second
   for GET /healthz, GET /api/v1/extracts/latest (identity and gzip) and the same with
   If-None-Match (304).

    .venv/bin/python bench/extract.py
    .venv/bin/python bench/extract.py --sizes 5000 --seconds 5
    .venv/bin/python bench/extract.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import httpx
from sqlmodel import Session, SQLModel
from support import reset, serve

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.db import make_engine, upgrade
from cpl_service.extracts.service import publish
from cpl_service.notices.service import queue_publication_notice
from cpl_service.parties.service import create_party
from cpl_service.startup import load_signer


def fill(settings: Settings, count: int) -> str:
    """Insert `count` Active entries; returns a SECAS token."""
    engine = make_engine(settings)
    upgrade(engine)
    now = utcnow()
    table = SQLModel.metadata.tables["entry"]
    expiry = date.today() + timedelta(days=800)  # noqa: DTZ011
    with engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(
                table.insert(),
                [
                    {
                        "id": n + 1,
                        "entry_id": f"CPL-{n + 1:06d}",
                        "submission_type": "New Device Model",
                        "manufacturer_name": "Bench Meters",
                        "manufacturer_id": "BE01",
                        "model_name": f"Bench {n // 1000}",
                        "model_id": f"{n // 1000:04X}",
                        "hardware_version": "0100",
                        "firmware_version": f"{n:08X}",
                        "physical_device_type": "ESME_SINGLE",
                        "technical_specification": "SMETS2 v4.2",
                        "gbcs_version": "GBCS v3.2",
                        "release_notes": f"RN-{n}",
                        "zigbee_certificate_number": f"ZIG-{n % 50}",
                        "dlms_certificate_number": f"DLMS-{n % 50}",
                        "cpa_certificate_number": f"CPA-{n % 50}",
                        "cpa_expiry_date": expiry,
                        "smets1": False,
                        "contact_email": "bench@meters.example",
                        "status": "active",
                        "status_effective_at": now,
                        "first_active_at": now,
                        "removal_proposed": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(start, min(start + 10_000, count))
                ],
            )
    with Session(engine) as session:
        _, token = create_party(
            session=session, name="Bench SECAS", role="secas", emails=["secas@bench.example"]
        )
    engine.dispose()
    return token


def time_publish(settings: Settings) -> tuple[float, int]:
    engine = make_engine(settings)
    signer = load_signer(settings).signer
    started = time.perf_counter()
    extract = publish(
        engine=engine,
        settings=settings,
        signer=signer,
        publisher=None,
        now=utcnow(),
        notify=partial(queue_publication_notice, settings=settings),
    )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, len(extract.payload)


def _load(args: tuple[str, str, dict[str, str], float]) -> int:
    base, path, headers, seconds = args
    done = 0
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            # The raw body, as a DCC client would store it: decoding gzip here would
            # measure the load generator, not the server.
            with http.stream("GET", path) as response:
                assert response.status_code in (200, 304), response.status_code
                for _ in response.iter_raw():
                    pass
            done += 1
    return done


def rate(base: str, path: str, headers: dict[str, str], seconds: float, workers: int) -> float:
    with multiprocessing.Pool(workers) as pool:
        counts = pool.map(_load, [(base, path, headers, seconds)] * workers)
    return sum(counts) / seconds


SERVING_RUNS = ("full payload, identity", "full payload, gzip", "If-None-Match, gzip")


def serving_rates(
    settings: Settings, token: str, *, port: int, seconds: float, workers: int
) -> dict[str, float]:
    """Requests per second of `cpl-service serve` on `settings`' database: `/healthz`, and
    `GET /extracts/latest` for each of `SERVING_RUNS` (an extract must be published)."""
    env = {"CPL_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["CPL_DATABASE_URL"] = settings.database_url
    server = serve(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        identity = {**auth, "Accept-Encoding": "identity"}
        gzipped = {**auth, "Accept-Encoding": "gzip"}
        latest = f"{base}/api/v1/extracts/latest"
        etag = httpx.get(latest, headers=gzipped).headers["etag"]
        rates = {"healthz": rate(base, "/healthz", {}, seconds, workers)}
        runs = dict(
            zip(SERVING_RUNS, (identity, gzipped, {**gzipped, "If-None-Match": etag}), strict=True)
        )
        for label, headers in runs.items():
            rates[label] = rate(base, "/api/v1/extracts/latest", headers, seconds, workers)
        return rates
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 100_000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database-url", help="a scratch database (it is emptied!)")
    args = parser.parse_args()

    serving: tuple[Settings, str] | None = None
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            reset(args.database_url)
            settings = Settings(data_dir=Path(scratch) / f"n{size}", database_url=args.database_url)
            token = fill(settings, size)
            elapsed, length = time_publish(settings)
            print(f"publish {size:>7,} entries: {elapsed:6.2f} s  ({length / 1e6:.1f} MB payload)")
            if serving is None and not args.database_url:
                serving = settings, token
        if serving is None:
            return 0
        settings, token = serving
        rates = serving_rates(
            settings, token, port=args.port, seconds=args.seconds, workers=args.workers
        )
        health = rates["healthz"]
        print(f"GET /healthz:                                  {health:8.0f} req/s")
        for label in SERVING_RUNS:
            done = rates[label]
            print(
                f"GET /extracts/latest ({label + '):':24s} {done:8.0f} req/s  "
                f"({done / health:.2f}x health)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
