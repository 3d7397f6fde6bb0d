"""The outbox: queue each notice once under its unique key, then send what is queued.

Queuing is an `INSERT … ON CONFLICT (key) DO NOTHING`, so any number of runs, even
at the same moment, queue a notice once. Sending claims one notice at a time —
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional `UPDATE` on SQLite —
and marks it sent only after the transport accepted it, so a failed send stays
queued for the next run and two processes never send the same notice.
"""

from __future__ import annotations

import fcntl
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from cpl_service.batches import batches
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.clock import Clock
from cpl_service.config import Settings
from cpl_service.devices import CertificateKind
from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.errors import NotFoundError
from cpl_service.extracts.models import ACKNOWLEDGEMENTS, DccStatus, Extract
from cpl_service.notices import messages
from cpl_service.notices.mail import (
    MailError,
    MailUnavailableError,
    Transport,
    build_message,
    transport_for,
)
from cpl_service.notices.models import Notice, NoticeKind, NoticeStatus
from cpl_service.notices.rules import (
    CertificateFacts,
    DueNotice,
    Threshold,
    due_notices,
    thresholds_from,
)
from cpl_service.parties.models import Party

log = logging.getLogger(__name__)


CPA_KIND = {
    Threshold.TWELVE_MONTHS: NoticeKind.CPA_12M,
    Threshold.SIX_MONTHS: NoticeKind.CPA_6M,
    Threshold.END: NoticeKind.CPA_END,
}

# A message the mail server itself refuses this many times is given up ("failed").
# An unreachable server never makes a notice fail: it just waits for the next run.
MAX_ATTEMPTS = 10

_LIMITS = {"recipients": 2000, "cc": 2000, "subject": 500, "last_error": 2000}


@dataclass(frozen=True)
class SendSummary:
    """What one pass over the outbox did."""

    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    error: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """What one `notices run` did, and what is left waiting."""

    queued: int
    sent: int
    failed: int
    waiting: int
    gave_up: int = 0
    error: str | None = None

    def line(self) -> str:
        text = (
            f"queued {self.queued}, sent {self.sent}, failed {self.failed}, waiting {self.waiting}"
        )
        if self.gave_up:
            text += f", given up {self.gave_up}"
        return text


def cpa_key(certificate_id: int, end_date: date, threshold: Threshold, recipient: str) -> str:
    """The outbox key of a CPA notice: one per certificate, end date, threshold and recipient.

    The end date is part of the key so that a moved end (a recorded renewal) re-arms the
    notices for the new end, while those sent for the old one stay sent.
    """
    return f"cpa:{certificate_id}:{end_date.isoformat()}:{threshold.value}:{recipient}"


def _normalise_address(address: str) -> str:
    return address.strip().lower()


def queue_notice(
    *,
    session: Session,
    key: str,
    kind: str,
    recipients: Sequence[str],
    composed: messages.Composed,
    now: datetime,
    cc: Sequence[str] = (),
) -> bool:
    """Queue a notice under `key` unless one exists; True if it was new. Does not commit."""
    values = {
        "key": key,
        "kind": kind,
        "recipients": ", ".join(recipients)[: _LIMITS["recipients"]],
        "cc": (", ".join(cc)[: _LIMITS["cc"]] or None),
        "subject": composed.subject[: _LIMITS["subject"]],
        "body_text": composed.text,
        "body_html": composed.html,
        "status": NoticeStatus.QUEUED,
        "attempts": 0,
        "created_at": now,
    }
    table = Notice.metadata.tables["notice"]
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.id)
    )
    # RETURNING gives a row only when the insert happened (rowcount is -1 on psycopg).
    return connection.execute(statement).first() is not None


# --- CPA notices ----------------------------------------------------------------------


def _affected(entry: Entry) -> messages.AffectedEntry:
    return messages.AffectedEntry(
        entry_id=entry.entry_id,
        manufacturer_name=entry.manufacturer_name,
        model_name=entry.model_name,
        model_id=entry.model_id,
        hardware_version=entry.hardware_version,
        firmware_version=entry.firmware_version,
        physical_device_type=entry.physical_device_type,
        contact_email=entry.contact_email,
    )


def _notified_thresholds(session: Session) -> dict[tuple[int, str], frozenset[Threshold]]:
    """The thresholds queued or sent so far, by (certificate id, ISO end date)."""
    cpa_kinds = [k.value for k in CPA_KIND.values()]
    keys = session.exec(select(Notice.key).where(col(Notice.kind).in_(cpa_kinds))).all()
    found: dict[tuple[int, str], set[str]] = defaultdict(set)
    for key in keys:
        parts = key.split(":", 4)
        if len(parts) == 5 and parts[1].isdigit():
            found[(int(parts[1]), parts[2])].add(parts[3])
    return {ends: thresholds_from(values) for ends, values in found.items()}


def _notified_for(
    notified: dict[tuple[int, str], frozenset[Threshold]], certificate: AssuranceCertificate
) -> frozenset[Threshold]:
    end = certificate.end_date
    if certificate.id is None or end is None:
        return frozenset()
    return notified.get((certificate.id, end.isoformat()), frozenset())


def _planned_cpa_notices(
    due: DueNotice, entries: Sequence[Entry], settings: Settings
) -> list[tuple[str, NoticeKind, list[str], list[str], messages.Composed]]:
    kind = CPA_KIND[due.threshold]
    if due.threshold is Threshold.END:
        secas = settings.secas_email
        composed = messages.cpa_end_notice(
            due, [_affected(e) for e in entries], secas_email=secas, public_url=settings.public_url
        )
        return [
            (
                cpa_key(due.certificate_id, due.end_date, due.threshold, _normalise_address(secas)),
                kind,
                [secas],
                [],
                composed,
            )
        ]
    by_contact: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_contact[_normalise_address(entry.contact_email)].append(entry)
    planned = []
    for contact, own in sorted(by_contact.items()):
        composed = messages.cpa_notice(
            due,
            [_affected(e) for e in own],
            recipient=contact,
            secas_email=settings.secas_email,
        )
        key = cpa_key(due.certificate_id, due.end_date, due.threshold, contact)
        planned.append((key, kind, [contact], [settings.secas_email], composed))
    return planned


def queue_due_cpa_notices(
    *, session: Session, as_of: date, settings: Settings, now: datetime
) -> int:
    """Queue the CPA notices due on `as_of`; returns how many were new. Does not commit."""
    active = session.exec(
        select(Entry).where(
            Entry.status == EntryStatus.ACTIVE, col(Entry.cpa_certificate_number).is_not(None)
        )
    ).all()
    by_number: dict[str, list[Entry]] = defaultdict(list)
    for entry in active:
        assert entry.cpa_certificate_number is not None
        by_number[entry.cpa_certificate_number].append(entry)
    if not by_number:
        return 0
    certificates = [
        certificate
        for batch in batches(sorted(by_number))
        for certificate in session.exec(
            select(AssuranceCertificate).where(
                AssuranceCertificate.kind == CertificateKind.CPA.value,
                col(AssuranceCertificate.number).in_(batch),
            )
        ).all()
    ]
    notified = _notified_thresholds(session)
    facts = [
        CertificateFacts(
            certificate_id=c.id,
            number=c.number,
            expiry_date=c.cpa_expiry_date,
            renewal_date=c.cpa_renewal_date,
            conditional_date=c.cpa_conditional_date,
            revoked=c.status == CertificateStatus.REVOKED,
            notified=_notified_for(notified, c),
        )
        for c in certificates
        if c.id is not None
    ]
    planned = []
    for due in due_notices(facts, as_of=as_of):
        planned.extend(_planned_cpa_notices(due, by_number[due.number], settings))
    # One order for every process, so concurrent inserts cannot deadlock.
    planned.sort(key=lambda p: p[0])
    queued = 0
    for key, kind, to, cc, composed in planned:
        if queue_notice(
            session=session,
            key=key,
            kind=kind.value,
            recipients=to,
            cc=cc,
            composed=composed,
            now=now,
        ):
            queued += 1
            log.info("queued %s", key)
    return queued


# --- publication notices --------------------------------------------------------------


def _extract_facts(extract: Extract) -> messages.ExtractFacts:
    return messages.ExtractFacts(
        sequence=extract.sequence,
        issued_at=extract.issued_at,
        sha256=extract.sha256,
        entry_count=extract.entry_count,
        change_count=extract.change_count,
        dcc_status=extract.dcc_status,
        acknowledged_at=extract.acknowledged_at,
        acknowledgement_detail=extract.acknowledgement_detail,
    )


def _parties_with_email(session: Session) -> list[Party]:
    parties = session.exec(select(Party).order_by(col(Party.id))).all()
    return [p for p in parties if p.emails]


def _queue_to_every_party(
    *,
    session: Session,
    extract: Extract,
    settings: Settings,
    event: str,
    kind: NoticeKind,
    compose: Callable[..., messages.Composed],
    at: datetime,
) -> int:
    facts = _extract_facts(extract)
    queued = 0
    for party in _parties_with_email(session):
        queued += queue_notice(
            session=session,
            key=f"extract:{extract.sequence}:{event}:party:{party.id}",
            kind=kind.value,
            recipients=party.emails,
            composed=compose(
                facts,
                party_name=party.name,
                secas_email=settings.secas_email,
                public_url=settings.public_url,
            ),
            now=at,
        )
    return queued


def queue_publication_notice(*, session: Session, extract: Extract, settings: Settings) -> int:
    """Queue "CPL version N is out, DCC load pending" to every party. Does not commit.

    The notices are stamped with the extract's `issued_at`, the moment of publication.
    """
    return _queue_to_every_party(
        session=session,
        extract=extract,
        settings=settings,
        event="published",
        kind=NoticeKind.CPL_PUBLISHED,
        compose=messages.publication_notice,
        at=extract.issued_at,
    )


def queue_acknowledgement_notice(*, session: Session, extract: Extract, settings: Settings) -> int:
    """Queue "the DCC loaded (or rejected) CPL version N" to every party. Does not commit.

    The notices are stamped with the extract's `acknowledged_at`.
    """
    if extract.dcc_status not in ACKNOWLEDGEMENTS:
        return 0
    assert extract.acknowledged_at is not None  # acknowledge() sets both at once
    return _queue_to_every_party(
        session=session,
        extract=extract,
        settings=settings,
        event=extract.dcc_status,
        kind=NoticeKind.DCC_ACKNOWLEDGED,
        compose=messages.acknowledgement_notice,
        at=extract.acknowledged_at,
    )


def queue_overdue_alerts(*, session: Session, now: datetime, settings: Settings) -> int:
    """Queue an alert to SECAS for each extract pending longer than the DCC's window."""
    window = timedelta(hours=settings.extract_ack_hours)
    pending = session.exec(
        select(Extract)
        .where(Extract.dcc_status == DccStatus.PENDING)
        .order_by(col(Extract.sequence))
    ).all()
    queued = 0
    for extract in pending:
        if extract.issued_at + window > now:
            continue
        composed = messages.overdue_alert(
            _extract_facts(extract),
            hours=settings.extract_ack_hours,
            secas_email=settings.secas_email,
            public_url=settings.public_url,
        )
        queued += queue_notice(
            session=session,
            key=f"extract:{extract.sequence}:overdue",
            kind=NoticeKind.EXTRACT_OVERDUE.value,
            recipients=[settings.secas_email],
            composed=composed,
            now=now,
        )
    return queued


# --- reading the outbox ---------------------------------------------------------------


@dataclass(frozen=True)
class NoticePage:
    notices: list[Notice]
    total: int
    # How many notices have each status, over the whole outbox (not only this page).
    counts: dict[NoticeStatus, int]


def list_notices(
    *, session: Session, status: NoticeStatus | None, kind: str | None, limit: int, offset: int
) -> NoticePage:
    """Outbox notices, newest first, filtered by status and kind, with counts by status."""
    query = select(Notice)
    counted = select(func.count()).select_from(Notice)
    if status:
        query = query.where(Notice.status == status)
        counted = counted.where(Notice.status == status)
    if kind:
        query = query.where(Notice.kind == kind)
        counted = counted.where(Notice.kind == kind)
    total = session.exec(counted).one()
    rows = session.exec(query.order_by(col(Notice.id).desc()).offset(offset).limit(limit)).all()
    by_status = session.exec(select(Notice.status, func.count()).group_by(col(Notice.status))).all()
    counts = {NoticeStatus.QUEUED: 0, NoticeStatus.SENT: 0, NoticeStatus.FAILED: 0}
    counts |= {NoticeStatus(s): n for s, n in by_status}
    return NoticePage(notices=list(rows), total=total, counts=counts)


def get_notice(*, session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFoundError(f"There is no notice {notice_id}.")
    return notice


# --- sending --------------------------------------------------------------------------


class _Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    GAVE_UP = "gave_up"
    UNAVAILABLE = "unavailable"
    SKIPPED = "skipped"


def _deliver(
    session: Session, notice: Notice, transport: Transport, settings: Settings, clock: Clock
) -> tuple[_Outcome, str | None]:
    """Send one claimed notice and record the outcome on it (the caller commits)."""
    now = clock()
    notice.attempts += 1
    notice.last_attempt_at = now
    try:
        note = transport.send(
            build_message(notice, mail_from=settings.mail_from, reply_to=settings.secas_email)
        )
    except MailError as exc:
        error = str(exc)[: _LIMITS["last_error"]]
        notice.last_error = error
        unavailable = isinstance(exc, MailUnavailableError)
        if not unavailable and notice.attempts >= MAX_ATTEMPTS:
            notice.status = NoticeStatus.FAILED
            log.error("gave up on %s after %d attempts: %s", notice.key, notice.attempts, error)
            outcome = _Outcome.GAVE_UP
        else:
            notice.status = NoticeStatus.QUEUED
            log.warning("could not send %s (attempt %d): %s", notice.key, notice.attempts, error)
            outcome = _Outcome.UNAVAILABLE if unavailable else _Outcome.FAILED
        session.add(notice)
        return outcome, error
    notice.status = NoticeStatus.SENT
    notice.sent_at = now
    if note:
        notice.last_error = note[: _LIMITS["last_error"]]
    session.add(notice)
    log.info("sent %s", notice.key)
    return _Outcome.SENT, None


def _send_locked(
    engine: Engine, notice_id: int, transport: Transport, settings: Settings, clock: Clock
) -> tuple[_Outcome, str | None]:
    # PostgreSQL: the row lock is held while sending; a second process skips the row,
    # and once this transaction commits the row is no longer queued.
    with Session(engine, expire_on_commit=False) as session:
        notice = session.exec(
            select(Notice)
            .where(Notice.id == notice_id, Notice.status == NoticeStatus.QUEUED)
            .with_for_update(skip_locked=True)
        ).first()
        if notice is None:
            return _Outcome.SKIPPED, None
        outcome = _deliver(session, notice, transport, settings, clock)
        session.commit()
        return outcome


def _send_claimed(
    engine: Engine, notice_id: int, transport: Transport, settings: Settings, clock: Clock
) -> tuple[_Outcome, str | None]:
    # SQLite has no row locks: claim with a conditional UPDATE committed before sending.
    with engine.begin() as connection:
        claimed = connection.execute(
            update(Notice)
            .where(col(Notice.id) == notice_id, col(Notice.status) == NoticeStatus.QUEUED)
            .values(status=NoticeStatus.SENDING, last_attempt_at=clock())
        )
        if claimed.rowcount != 1:
            return _Outcome.SKIPPED, None
    with Session(engine, expire_on_commit=False) as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        outcome = _deliver(session, notice, transport, settings, clock)
        session.commit()
        return outcome


@contextmanager
def _sole_sqlite_sender(engine: Engine) -> Iterator[None]:
    """Hold the SQLite database's sender lock, then free every claim left by a dead run.

    Every SQLite sender holds this lock while it sends, and the operating system drops it when
    a process dies (even by kill -9). So whoever holds it knows that a notice still marked
    `sending` was claimed by a run that died: it is queued again at once, not after a timeout.
    """
    database = engine.url.database
    assert database, "the SQLite outbox lives in a database file"
    with Path(f"{database}.notices-lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a concurrent run waits here until this one ends
        try:
            with engine.begin() as connection:
                connection.execute(
                    update(Notice)
                    .where(col(Notice.status) == NoticeStatus.SENDING.value)
                    .values(status=NoticeStatus.QUEUED.value)
                )
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def send_queued(
    *, engine: Engine, transport: Transport, settings: Settings, clock: Clock
) -> SendSummary:
    """Send every queued notice once; failures stay queued with their error.

    Each attempt and send is stamped with `clock()` at that moment.
    """
    if engine.dialect.name == "postgresql":
        return _send_all(
            engine=engine, transport=transport, settings=settings, clock=clock, postgres=True
        )
    with _sole_sqlite_sender(engine):
        return _send_all(
            engine=engine, transport=transport, settings=settings, clock=clock, postgres=False
        )


def _send_all(
    *, engine: Engine, transport: Transport, settings: Settings, clock: Clock, postgres: bool
) -> SendSummary:
    with Session(engine) as session:
        ids = session.exec(
            select(Notice.id).where(Notice.status == NoticeStatus.QUEUED).order_by(col(Notice.id))
        ).all()
    sent = failed = gave_up = 0
    error: str | None = None
    send_one = _send_locked if postgres else _send_claimed
    try:
        for notice_id in ids:
            assert notice_id is not None
            outcome, problem = send_one(engine, notice_id, transport, settings, clock)
            if outcome is _Outcome.SENT:
                sent += 1
            elif outcome is _Outcome.SKIPPED:
                continue
            else:
                failed += 1
                gave_up += outcome is _Outcome.GAVE_UP
                error = problem
                if outcome is _Outcome.UNAVAILABLE:
                    # The server is down: the rest wait for the next run untouched.
                    break
    finally:
        transport.close()
    return SendSummary(sent=sent, failed=failed, gave_up=gave_up, error=error)


def count_waiting(engine: Engine) -> int:
    """How many notices are queued (or being sent) right now."""
    with Session(engine) as session:
        waiting = [NoticeStatus.QUEUED, NoticeStatus.SENDING]
        return session.exec(
            select(func.count()).select_from(Notice).where(col(Notice.status).in_(waiting))
        ).one()


def run_notices(
    *,
    engine: Engine,
    settings: Settings,
    as_of: date,
    clock: Clock,
    transport: Transport | None = None,
) -> RunSummary:
    """Queue the CPA notices and overdue alerts due, then send everything queued.

    The run happens at `clock()`: that moment decides which extracts are overdue and
    stamps what is queued; each send is stamped when it happens.
    """
    now = clock()
    with Session(engine, expire_on_commit=False) as session:
        queued = queue_due_cpa_notices(session=session, as_of=as_of, settings=settings, now=now)
        queued += queue_overdue_alerts(session=session, now=now, settings=settings)
        session.commit()
    result = send_queued(
        engine=engine,
        transport=transport or transport_for(settings),
        settings=settings,
        clock=clock,
    )
    return RunSummary(
        queued=queued,
        sent=result.sent,
        failed=result.failed,
        waiting=count_waiting(engine),
        gave_up=result.gave_up,
        error=result.error,
    )
