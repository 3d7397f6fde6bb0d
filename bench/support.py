"""What the benchmarks share: a real `cpl-service serve` process, upload workbooks, and
databases filled with realistic lists."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from openpyxl import load_workbook
from sqlmodel import Session, SQLModel

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.db import make_engine, upgrade
from cpl_service.devices import BY_CODE
from cpl_service.parties.service import create_party


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


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def build_workbook(
    template: bytes, rows: int, *, offset: int = 0, certificates: str = "shared"
) -> bytes:
    """A valid upload of `rows` new Device Models, numbered from `offset`.

    `certificates="shared"`: the rows share 50 ZigBee, DLMS and CPA numbers (one product
    family); `"unique"`: every row has its own three numbers (a migration-sized upload).
    """
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook["CPL - New Entry"]
    headings = [str(c.value) for c in sheet[1]]  # the template's headings are text
    expiry = date.today() + timedelta(days=800)  # noqa: DTZ011
    for n in range(offset, offset + rows):
        number = n % 50 if certificates == "shared" else n
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
            "ZigBee Certificate Number": f"ZIG-U{offset}-{number}",
            "DLMS Certificate Number": f"DLMS-U{offset}-{number}",
            "CPA Certificate Number": f"CPA-U{offset}-{number}",
            "CPA Expiry Date": expiry,
            "Contact Email": "bench@meters.example",
        }
        sheet.append([values.get(h) for h in headings])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# A realistic mix: SMETS2 electricity and gas meters, hubs, PPMIDs and HCALCS from a few
# dozen manufacturers; most entries Active, some removed.
_DEVICE_TYPES = ("ESME_SINGLE",) * 4 + ("GSME",) * 3 + ("ESME_TWIN", "ESME_POLY", "PPMID")
_STATUSES = ("active",) * 17 + ("expired", "cancelled", "withdrawn")
ENTRIES_PER_CERTIFICATE = 10


def fill(settings: Settings, count: int) -> dict[str, str]:
    """A fresh database with `count` (at least 1) listed entries and their certificates.

    Certificate numbers are shared by `ENTRIES_PER_CERTIFICATE` entries (a firmware line),
    CPA expiry dates spread over three years. Returns bearer tokens for `dcc` and `secas`.
    """
    engine = make_engine(settings)
    upgrade(engine)
    now = utcnow()
    today = now.date()
    entry = SQLModel.metadata.tables["entry"]
    certificate = SQLModel.metadata.tables["assurance_certificate"]

    def expiry(group: int) -> date:
        return today + timedelta(days=200 + (group * 37) % 1100)

    with engine.begin() as connection:
        for start in range(0, count, 10_000):
            rows = []
            for n in range(start, min(start + 10_000, count)):
                group = n // ENTRIES_PER_CERTIFICATE
                manufacturer = n % 40
                device_type = _DEVICE_TYPES[group % len(_DEVICE_TYPES)]
                # Only the certificates the Certificate Matrix asks of the device type, so
                # the exported list imports cleanly.
                needs = {kind.value for kind in BY_CODE[device_type].required}
                status = _STATUSES[n % len(_STATUSES)]
                rows.append(
                    {
                        "id": n + 1,
                        "entry_id": f"CPL-{n + 1:06d}",
                        "submission_type": "New Device Model",
                        "manufacturer_name": f"Meter Maker {manufacturer:02d} Ltd",
                        "manufacturer_id": f"{0xA000 + manufacturer:04X}",
                        "model_name": f"Model {group // 10}",
                        "model_id": f"{group // 10:04X}",
                        "hardware_version": f"{n % 3 + 1:04X}",
                        "firmware_version": f"{n:08X}",
                        "physical_device_type": device_type,
                        "technical_specification": "SMETS2 v4.2",
                        "gbcs_version": "GBCS v3.2",
                        "release_notes": f"RN-{n}",
                        "zigbee_certificate_number": f"ZIG-{group}",
                        "dlms_certificate_number": f"DLMS-{group}" if "DLMS" in needs else None,
                        "cpa_certificate_number": f"CPA-{group}" if "CPA" in needs else None,
                        "cpa_expiry_date": expiry(group) if "CPA" in needs else None,
                        "smets1": False,
                        "contact_email": f"cpa@maker{manufacturer:02d}.example",
                        "status": status,
                        "status_effective_at": now,
                        "panel_decision_ref": None if status == "active" else f"SECP_{n}",
                        "first_active_at": now,
                        "removal_proposed": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            connection.execute(entry.insert(), rows)
        groups = range((count + ENTRIES_PER_CERTIFICATE - 1) // ENTRIES_PER_CERTIFICATE)
        for kind, prefix in (("ZigBee", "ZIG"), ("DLMS", "DLMS"), ("CPA", "CPA")):
            connection.execute(
                certificate.insert(),
                [
                    {
                        "kind": kind,
                        "number": f"{prefix}-{group}",
                        "cpa_expiry_date": expiry(group) if kind == "CPA" else None,
                        "status": "valid",
                        "created_at": now,
                    }
                    for group in groups
                ],
            )
        if engine.dialect.name == "postgresql":
            # The ids were given explicitly: move the sequence past them.
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('entry', 'id'), (SELECT max(id) FROM entry))"
            )
    tokens = {}
    with Session(engine) as session:
        for role in ("dcc", "secas"):
            _, tokens[role] = create_party(
                session=session, name=f"Bench {role}", role=role, emails=[f"{role}@bench.example"]
            )
    engine.dispose()
    return tokens


def reset(url: str | None) -> None:
    """Empty a scratch database (PostgreSQL) so it can be filled again."""
    if url:
        engine = make_engine(Settings(database_url=url))
        with engine.begin() as connection:
            # Tables, trigger functions and extensions alike (migrations create all three).
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
