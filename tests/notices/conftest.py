"""Fixtures for the notices tests: a real SMTP server on loopback and register helpers."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from itertools import count
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session

from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.config import Settings
from cpl_service.entries.models import Entry, EntryStatus, format_entry_id


@dataclass
class Received:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class CollectingHandler:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpServer:
    handler: CollectingHandler
    port: int
    controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, collecting every message."""
    server = SmtpServer(CollectingHandler(), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    """The test's settings, sending by SMTP to the loopback server (no TLS, no login)."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "smtp_starttls": False,
            "smtp_timeout_seconds": 5.0,
            "mail_from": "cpl@secas.test",
        }
    )


AddCertificate = Callable[..., AssuranceCertificate]
AddEntry = Callable[..., Entry]


@pytest.fixture
def add_certificate(session: Session) -> AddCertificate:
    def add(
        number: str,
        expiry: date | None,
        conditional: date | None = None,
        *,
        status: str = "valid",
    ) -> AssuranceCertificate:
        cert = AssuranceCertificate(
            kind="CPA",
            number=number,
            cpa_expiry_date=expiry,
            cpa_conditional_date=conditional,
            status=CertificateStatus(status),
        )
        session.add(cert)
        session.commit()
        session.refresh(cert)
        return cert

    return add


@pytest.fixture
def add_entry(session: Session) -> AddEntry:
    numbers = count(1)

    def add(
        cpa_number: str,
        contact: str,
        *,
        status: str = "active",
        model_name: str = "Meter",
        device_type: str = "GSME",
    ) -> Entry:
        n = next(numbers)
        entry = Entry(
            entry_id=format_entry_id(n),
            submission_type="New Device Model",
            manufacturer_name="Acme Meters <Ltd>",
            manufacturer_id="AB01",
            model_name=f"{model_name} {n}",
            model_id=f"{n:04X}",
            hardware_version="0001",
            firmware_version=f"{n:08X}",
            physical_device_type=device_type,
            technical_specification="SMETS2 v4.2",
            gbcs_version="GBCS v3.2",
            release_notes="RN-1",
            zigbee_certificate_number="ZB-1",
            cpa_certificate_number=cpa_number,
            contact_email=contact,
            status=EntryStatus(status),
        )
        session.add(entry)
        session.commit()
        session.refresh(entry)
        return entry

    return add
