"""Server-side sessions for the pages, and CSRF tokens bound to them.

The cookie carries a random secret; the database keeps only its SHA-256, so a session ends
for every server process the moment its row says so (sign-out, a disabled person, a new
password). CSRF: every state-changing request made with the cookie must carry
`csrf_token_for(secret)` (an HMAC of the session secret) in the `X-CSRF-Token` header or a
`csrf_token` form field — the synchroniser-token pattern without a stored token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from cpl_service.parties import audit
from cpl_service.parties.actors import Principal
from cpl_service.parties.models import Party, User, UserSession

SESSION_COOKIE = "cpl_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Writing last-seen on every request would make each read a write; the idle timeout is
# therefore exact to within this much.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionTimeouts:
    idle: timedelta
    absolute: timedelta


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def session_end_reason(
    *,
    created_at: datetime,
    last_seen_at: datetime,
    ended_at: datetime | None,
    now: datetime,
    timeouts: SessionTimeouts,
) -> str | None:
    """Why a session is over at `now` ("signed out", "idle", "too old"), or None."""
    if ended_at is not None and ended_at <= now:
        return "signed out"
    if now - created_at >= timeouts.absolute:
        return "too old"
    if now - last_seen_at >= timeouts.idle:
        return "idle"
    return None


def csrf_token_for(secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), b"cpl-csrf", hashlib.sha256).hexdigest()


def csrf_ok(secret: str, presented: str | None) -> bool:
    """True when `presented` is this session's CSRF token (compared in constant time)."""
    return bool(presented) and hmac.compare_digest(csrf_token_for(secret), presented or "")


def start_session(
    *,
    session: Session,
    user: User,
    now: datetime,
    address: str | None,
    replacing: str | None = None,
) -> str:
    """A new session for `user`; the one the browser had (`replacing`) ends: rotation."""
    if replacing:
        end_session(session=session, secret=replacing, now=now, record=False)
    assert user.id is not None
    secret = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            secret_hash=_digest(secret),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            address=address[:100] if address else None,
        )
    )
    session.commit()
    return secret


def principal_for_session(
    *, session: Session, secret: str, now: datetime, timeouts: SessionTimeouts
) -> Principal | None:
    """The signed-in person behind a session cookie, or None when it is over or disabled."""
    row = session.exec(
        select(UserSession, User, Party)
        .join(User, col(User.id) == col(UserSession.user_id))
        .join(Party, col(Party.id) == col(User.party_id))
        .where(UserSession.secret_hash == _digest(secret))
    ).first()
    if row is None:
        return None
    user_session, user, party = row
    if user.disabled_at is not None:
        return None
    if session_end_reason(
        created_at=user_session.created_at,
        last_seen_at=user_session.last_seen_at,
        ended_at=user_session.ended_at,
        now=now,
        timeouts=timeouts,
    ):
        return None
    if now - user_session.last_seen_at >= LAST_SEEN_RESOLUTION:
        session.execute(
            update(UserSession)
            .where(col(UserSession.id) == user_session.id)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return Principal(party=party, user=user, session=user_session)


def end_session(
    *,
    session: Session,
    secret: str,
    now: datetime,
    record: bool = True,
    address: str | None = None,
) -> None:
    """Sign out: the session is refused from the next request on."""
    row = session.exec(
        select(UserSession).where(UserSession.secret_hash == _digest(secret))
    ).first()
    if row is None or row.ended_at is not None:
        return
    row.ended_at = now
    session.add(row)
    user = session.get(User, row.user_id)
    if record and user is not None:
        party = session.get(Party, user.party_id)
        audit.record(
            session=session,
            kind=audit.AuditKind.SIGN_OUT,
            actor=Principal(party=party, user=user).actor if party else None,
            subject=user.describe(),
            subject_party_id=user.party_id,
            address=address,
            at=now,
        )
    session.commit()
