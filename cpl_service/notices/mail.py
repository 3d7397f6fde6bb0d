"""Turning an outbox notice into a MIME message, and the two ways to deliver it."""

from __future__ import annotations

import email.policy
import hashlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

from cpl_service.config import Settings
from cpl_service.notices.models import Notice

log = logging.getLogger(__name__)


class MailError(Exception):
    """A message could not be delivered; it stays queued for the next run."""


class MailUnavailableError(MailError):
    """The mail server cannot be reached at all: stop this run, retry the rest later."""


def split_addresses(value: str | None) -> list[str]:
    """The outbox's comma-separated address list as a list."""
    return [a.strip() for a in (value or "").split(",") if a.strip()]


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


class _NoticePolicy(EmailPolicy):
    """`policy.default`, except that headers fold only past RFC 5322's hard limit.

    The default folder moves a 70-77 character subject whole onto a continuation
    line ("Subject:\\n CPA certificate …"), which some readers show with a leading
    space. Our subjects stay well under 998 characters, so they are never folded;
    bodies keep the 78-character limit and proper quoted-printable wrapping.
    """

    def _header_policy(self) -> EmailPolicy[EmailMessage]:
        return email.policy.default.clone(max_line_length=998, linesep=self.linesep, utf8=self.utf8)

    def fold(self, name: str, value: str) -> str:
        return self._header_policy().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        return self._header_policy().fold_binary(name, value)


# 7bit: non-ASCII bodies are quoted-printable, so no server needs 8BITMIME.
NOTICE_POLICY = _NoticePolicy(cte_type="7bit")


def message_id_for(key: str, *, mail_from: str) -> str:
    """A Message-ID derived from the notice key, so a resent copy can be recognised."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<cpl-notice.{digest}@{_domain_of(mail_from)}>"


def build_message(notice: Notice, *, mail_from: str, reply_to: str | None = None) -> EmailMessage:
    """A multipart/alternative message (plain text, then HTML) for an outbox notice."""
    message = EmailMessage(policy=NOTICE_POLICY)
    message["From"] = Address(display_name="SEC Central Products List", addr_spec=mail_from)
    message["To"] = ", ".join(split_addresses(notice.recipients))
    cc = split_addresses(notice.cc)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = notice.subject
    # The moment of this attempt (or, before any, of queuing): mail never reads the clock.
    message["Date"] = format_datetime(notice.last_attempt_at or notice.created_at)
    message["Message-ID"] = message_id_for(notice.key, mail_from=mail_from)
    # RFC 3834: tells mail servers not to send auto-replies (out-of-office) back.
    message["Auto-Submitted"] = "auto-generated"
    message["X-CPL-Notice"] = notice.kind
    message["X-CPL-Notice-Key"] = notice.key
    message.set_content(notice.body_text)
    message.add_alternative(notice.body_html, subtype="html")
    return message


class Transport(Protocol):
    """Delivers messages; `close()` ends a run's sends (e.g. the SMTP connection)."""

    def send(self, message: EmailMessage) -> str | None:
        """Deliver `message`; returns a note on partial problems, raises MailError."""
        ...

    def close(self) -> None: ...


class _TransportBase:
    def close(self) -> None:
        return None

    def __enter__(self) -> _TransportBase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SmtpTransport(_TransportBase):
    """SMTP via smtplib: one connection per run, STARTTLS and login when configured."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpTransport needs CPL_SMTP_HOST")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.starttls = settings.smtp_starttls
        self.username = settings.smtp_username
        self._password = settings.smtp_password
        self.timeout = settings.smtp_timeout_seconds
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        # Never show the password, even in a traceback's locals.
        return f"SmtpTransport({self.host}:{self.port}, starttls={self.starttls})"

    def _connect(self) -> smtplib.SMTP:
        where = f"{self.host}:{self.port}"
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailableError(f"cannot connect to SMTP server {where}: {exc}") from None
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                password = self._password.get_secret_value() if self._password else ""
                smtp.login(self.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            self._quietly_close(smtp)
            raise MailUnavailableError(
                f"SMTP server {where} refused the login for {self.username!r} ({exc.smtp_code})"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._quietly_close(smtp)
            raise MailUnavailableError(f"SMTP session with {where} failed: {exc}") from None
        return smtp

    @staticmethod
    def _quietly_close(smtp: smtplib.SMTP) -> None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def send(self, message: EmailMessage) -> str | None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            self._reset()
            raise MailError(f"SMTP server refused the message: {exc}") from None
        except smtplib.SMTPDataError as exc:
            self._reset()
            raise MailError(f"SMTP server refused the message: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise MailUnavailableError(f"SMTP connection lost: {exc}") from None
        if refused:
            note = "; ".join(
                f"{rcpt} {code} {text.decode('utf-8', 'replace')}"
                for rcpt, (code, text) in sorted(refused.items())
            )
            log.warning("SMTP server refused recipients of %s: %s", message["Message-ID"], note)
            return f"refused recipients: {note}"
        return None

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            self._quietly_close(self._smtp)
            self._smtp = None


def eml_filename(key: str) -> str:
    """A file name safe on every filesystem for a notice key, still readable."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:120].strip("._") or "notice"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{digest}.eml"


class EmlTransport(_TransportBase):
    """Writes each message as an `.eml` file (no SMTP server configured)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> str | None:
        key = str(message.get("X-CPL-Notice-Key") or message["Message-ID"])
        self.write(message, filename=eml_filename(key))
        return None

    def write(self, message: EmailMessage, *, filename: str) -> Path:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self.directory / filename
            # Write then rename, so a reader never sees half a message.
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
            Path(tmp).replace(target)
        except OSError as exc:
            raise MailUnavailableError(f"cannot write to {self.directory}: {exc}") from None
        return target


def transport_for(settings: Settings) -> SmtpTransport | EmlTransport:
    """SMTP when `CPL_SMTP_HOST` is set; otherwise `.eml` files in the data directory."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    return EmlTransport(settings.outbox_dir)
