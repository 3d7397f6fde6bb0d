"""Both kinds of CPA certificate survive export (`/cpl.xlsx`, `/cpl.csv`) and `import-cpl`."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.config import Settings
from cpl_service.db import make_engine
from tests.publication.conftest import MakeEntry, client_for
from tests.publication.test_import import export, fresh_settings, listing, run_import

__all__ = ["fresh_settings"]  # the fixture, used by name


def test_fixed_term_and_lifetime_round_trip(
    cpl_client: TestClient, make_entry: MakeEntry, fresh_settings: Settings, tmp_path: Path
) -> None:
    make_entry(1)
    make_entry(
        2,
        cpa_certificate_number="CPA-LIFE",
        cpa_certificate_type="Lifetime",
        cpa_expiry_date=None,
        cpa_renewal_date=date(2031, 3, 31),
        cpa_conditional_date=date(2029, 6, 30),
    )
    before = listing(cpl_client)
    shown = {e["entry_id"]: e for e in before}
    assert shown["CPL-000001"]["cpa_certificate_type"] == "Fixed-term"
    assert shown["CPL-000002"]["cpa_certificate_type"] == "Lifetime"
    assert shown["CPL-000002"]["cpa_renewal_date"] == "2031-03-31"

    rows = list(csv.DictReader(io.StringIO(cpl_client.get("/api/v1/cpl.csv").text)))
    assert [
        (r["CPA Certificate Type"], r["CPA Expiry Date"], r["CPA Renewal Date"]) for r in rows
    ] == [
        ("Fixed-term", "2030-06-30", ""),
        ("Lifetime", "", "2031-03-31"),
    ]

    result = run_import(fresh_settings, export(cpl_client, tmp_path / "cpl.xlsx"))
    assert result.entries == 2
    with client_for(fresh_settings) as client:
        assert listing(client) == before
    engine = make_engine(fresh_settings)
    with Session(engine) as session:
        registered = {
            c.number: (c.cpa_certificate_type, c.cpa_expiry_date, c.cpa_renewal_date)
            for c in session.exec(
                select(AssuranceCertificate).where(AssuranceCertificate.kind == "CPA")
            ).all()
        }
    engine.dispose()
    assert registered == {
        "CPA-300": ("Fixed-term", date(2030, 6, 30), None),
        "CPA-LIFE": ("Lifetime", None, date(2031, 3, 31)),
    }
