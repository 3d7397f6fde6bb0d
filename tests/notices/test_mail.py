"""MIME messages, the SMTP login and the `.eml` fallback."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from cpl_service.config import Settings
from cpl_service.notices import messages
from cpl_service.notices.mail import (
    EmlTransport,
    MailUnavailableError,
    SmtpTransport,
    build_message,
    message_id_for,
    transport_for,
)
from cpl_service.notices.models import Notice
from cpl_service.notices.rules import DueNotice, Threshold
from tests.notices.conftest import CollectingHandler, free_port


def _notice(**changes: Any) -> Notice:
    due = DueNotice(1, "CPA-<9>", Threshold.SIX_MONTHS, date(2027, 8, 31), date(2027, 2, 28), False)
    entry = messages.AffectedEntry(
        "CPL-000001",
        "Müller & Söhne",
        "<script>alert(1)</script>",
        "00AB",
        "0001",
        "0002012F",
        "GSME",
        "maker@example.com",
    )
    composed = messages.cpa_notice(
        due, [entry], recipient="maker@example.com", secas_email="secas@secas.test"
    )
    values: dict[str, Any] = {
        "key": "cpa:1:6m:maker@example.com",
        "kind": "cpa_6m",
        "recipients": "maker@example.com",
        "cc": "secas@secas.test",
        "subject": composed.subject,
        "body_text": composed.text,
        "body_html": composed.html,
    }
    return Notice(**(values | changes))


def _reparse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_notice_is_a_proper_multipart_alternative_message() -> None:
    parsed = _reparse(build_message(_notice(), mail_from="cpl@secas.test", reply_to="s@x.test"))
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["Subject"] == "CPA certificate CPA-<9> ends on 31 August 2027: 6-month notice"
    assert parsed["To"] == "maker@example.com" and parsed["Cc"] == "secas@secas.test"
    assert parsed["From"].addresses[0].addr_spec == "cpl@secas.test"
    assert parsed["Reply-To"] == "s@x.test"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert isinstance(parsed["Date"].datetime, datetime)
    assert parsed["Date"].datetime.tzinfo is not None
    assert parsed["Message-ID"] == message_id_for(
        parsed["X-CPL-Notice-Key"], mail_from="cpl@secas.test"
    )
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    assert "Müller & Söhne" in text.get_content()
    assert "<script>alert(1)</script>" in text.get_content()
    html_body = html.get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_body and "<script>" not in html_body
    assert "Müller &amp; Söhne" in html_body
    assert "CPA-&lt;9&gt;" in html_body


def test_the_message_id_is_stable_per_notice_key() -> None:
    a = build_message(_notice(), mail_from="cpl@secas.test")
    b = build_message(_notice(), mail_from="cpl@secas.test")
    c = build_message(_notice(key="cpa:1:6m:other@example.com"), mail_from="cpl@secas.test")
    assert a["Message-ID"] == b["Message-ID"] != c["Message-ID"]
    assert str(a["Message-ID"]).endswith("@secas.test>")


def test_subjects_of_every_length_are_not_folded_oddly() -> None:
    for n in range(40, 140):
        subject = ("x" * (n - 10)) + " end word"
        parsed = _reparse(build_message(_notice(subject=subject), mail_from="cpl@secas.test"))
        assert parsed["Subject"] == subject


def test_eml_transport_writes_parseable_files(tmp_path: Path) -> None:
    transport = EmlTransport(tmp_path / "outbox")
    transport.send(build_message(_notice(), mail_from="cpl@secas.test"))
    transport.send(build_message(_notice(key="publication:1:../../etc"), mail_from="a@b.test"))
    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" and f.parent.name == "outbox" for f in files)
    for f in files:
        parsed = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        assert parsed["To"] == "maker@example.com"


def test_transport_is_chosen_by_the_smtp_host(tmp_path: Path) -> None:
    eml = transport_for(Settings(data_dir=tmp_path))
    assert isinstance(eml, EmlTransport) and eml.directory == tmp_path / "outbox"
    smtp = transport_for(Settings(data_dir=tmp_path, smtp_host="mail.example.com"))
    assert isinstance(smtp, SmtpTransport)


class _Authenticator:
    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"cpl",
            b"s3cret-pw",
        )
        return AuthResult(success=ok)


@pytest.mark.parametrize("password", ["s3cret-pw", "wrong-pw"])
def test_smtp_login_and_the_password_is_never_logged(
    tmp_path: Path, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    handler = CollectingHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_Authenticator(),
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        settings = Settings(
            data_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=False,
            smtp_username="cpl",
            smtp_password=password,
            smtp_timeout_seconds=5,
        )
        transport = SmtpTransport(settings)
        assert password not in repr(transport)
        caplog.set_level(logging.DEBUG)
        message = build_message(_notice(), mail_from="cpl@secas.test")
        if password == "s3cret-pw":
            transport.send(message)
            transport.close()
            assert [r.message["Subject"] for r in handler.messages] == [message["Subject"]]
        else:
            with pytest.raises(MailUnavailableError) as raised:
                transport.send(message)
            assert password not in str(raised.value)
            assert handler.messages == []
        assert password not in caplog.text
    finally:
        controller.stop()


def test_starttls_is_attempted_when_configured(tmp_path: Path) -> None:
    # aiosmtpd without TLS does not offer STARTTLS: the transport must refuse to go on
    # in clear rather than silently sending unencrypted.
    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = Settings(
            data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=5
        )
        with pytest.raises(MailUnavailableError, match="STARTTLS"):
            SmtpTransport(settings).send(build_message(_notice(), mail_from="cpl@secas.test"))
        assert handler.messages == []
    finally:
        controller.stop()


def test_long_moment_is_utc() -> None:
    moment = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    assert messages.long_moment(moment) == "3 March 2026 09:30 UTC"
