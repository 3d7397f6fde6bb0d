"""Builders for test data written straight to the database."""

from __future__ import annotations

import itertools
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.clock import today, utcnow
from cpl_service.config import Settings
from cpl_service.entries.models import Entry, EntryEvent, EntryStatus, format_entry_id
from cpl_service.notices.decisions import queue_firmware_confirmation_requests
from cpl_service.parties.models import Party
from cpl_service.submissions.service import SubmissionResult, submit
from tests.workbooks import build_workbook

_firmware = itertools.count(1)


def make_entry(session: Session, *, party_id: int | None = None, **overrides: Any) -> Entry:
    """An entry (pending by default) with valid fields; certificates get registered."""
    now = utcnow()
    values: dict[str, Any] = {
        "entry_id": f"TMP-{next(_firmware):016d}",
        "submission_type": "New Device Model",
        "manufacturer_name": "Acme Meters",
        "manufacturer_id": "AB01",
        "model_name": "Acme E1",
        "model_id": "0001",
        "hardware_version": "0100",
        "firmware_version": f"{next(_firmware):08X}",
        "physical_device_type": "ESME_SINGLE",
        "technical_specification": "SMETS2 v4.2",
        "gbcs_version": "GBCS v3.2",
        "release_notes": "RN-1",
        "zigbee_certificate_number": "ZIG-1",
        "dlms_certificate_number": "DLMS-1",
        "cpa_certificate_number": "CPA-1",
        "cpa_expiry_date": today() + timedelta(days=1000),
        "contact_email": "maker@example.com",
        "submitted_by_party_id": party_id,
        "status": "pending_review",
        "status_effective_at": now,
    }
    values.update(overrides)
    if "cpa_certificate_type" not in overrides:
        values["cpa_certificate_type"] = "Fixed-term" if values["cpa_certificate_number"] else None
    if values["status"] != "pending_review" and values["status"] != "rejected":
        values.setdefault("first_active_at", now)
    entry = Entry(**values)
    session.add(entry)
    session.flush()
    assert entry.id is not None
    entry.entry_id = format_entry_id(entry.id)
    session.add(
        EntryEvent(
            entry_pk=entry.id,
            action="submitted",
            to_status=EntryStatus.PENDING_REVIEW,
            actor_name="test",
            at=now,
        )
    )
    for kind, number in (
        ("ZigBee", entry.zigbee_certificate_number),
        ("DLMS", entry.dlms_certificate_number),
        ("CPA", entry.cpa_certificate_number),
    ):
        if number and not session.get(AssuranceCertificate, _cert_id(session, kind, number)):
            session.add(
                AssuranceCertificate(
                    kind=kind,
                    number=number,
                    cpa_certificate_type=entry.cpa_certificate_type if kind == "CPA" else None,
                    cpa_expiry_date=entry.cpa_expiry_date if kind == "CPA" else None,
                    cpa_renewal_date=entry.cpa_renewal_date if kind == "CPA" else None,
                    cpa_conditional_date=entry.cpa_conditional_date if kind == "CPA" else None,
                )
            )
    session.commit()
    session.refresh(entry)
    return entry


def _cert_id(session: Session, kind: str, number: str) -> int:
    from sqlmodel import select

    found = session.exec(
        select(AssuranceCertificate).where(
            AssuranceCertificate.kind == kind, AssuranceCertificate.number == number
        )
    ).first()
    return found.id if found and found.id else -1


def submit_rows(
    settings: Settings, engine: Engine, party: Party, rows: list[dict[str, Any]]
) -> SubmissionResult:
    """Upload a workbook of `rows` (heading -> value) as `party`, through the service."""
    with Session(engine, expire_on_commit=False) as session:
        return submit(
            session=session,
            settings=settings,
            party=party,
            filename="cpl.xlsx",
            content=build_workbook(rows),
            now=utcnow(),
            notify=partial(queue_firmware_confirmation_requests, settings=settings),
        )
