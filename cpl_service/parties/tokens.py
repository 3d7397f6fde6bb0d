"""Named API tokens: the rules (pure) and issuing, listing, revoking and resolving them.

A token is refused from the first request after it is revoked or expires: every request
looks it up in the database, except the polled latest-extract route, whose in-process
cache keeps a token's caller for at most `api.deps.TOKEN_TTL_SECONDS` (5 s).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from cpl_service.errors import ConflictError, InvalidInputError, NotFoundError
from cpl_service.parties import audit
from cpl_service.parties.actors import Actor, Principal
from cpl_service.parties.models import ApiToken, Party

TOKEN_PREFIX = "cpl_"  # noqa: S105 (a prefix, not a secret)
MAX_NAME_LENGTH = 100
# Writing last-used on every request would make each read a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_refusal(
    *, revoked_at: datetime | None, expires_at: datetime | None, now: datetime
) -> str | None:
    """Why a token may not be used at `now` ("revoked", "expired"), or None when it may."""
    if revoked_at is not None and revoked_at <= now:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return None


def token_status(token: ApiToken, *, now: datetime) -> str:
    return token_refusal(revoked_at=token.revoked_at, expires_at=token.expires_at, now=now) or (
        "active"
    )


def check_token_name(name: str) -> str:
    """The name, trimmed; refused when empty, too long or holding control characters."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInputError("A token needs a name saying what it is for.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"A token name has at most {MAX_NAME_LENGTH} characters.")
    if not cleaned.isprintable():
        raise InvalidInputError("A token name may not hold control characters.")
    return cleaned


def check_expiry(expires_at: datetime | None, *, now: datetime) -> datetime | None:
    """An expiry must be an aware moment in the future."""
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise InvalidInputError("An expiry needs a time zone, e.g. 2027-01-31T00:00:00Z.")
    if expires_at <= now:
        raise InvalidInputError("An expiry must be in the future.")
    return expires_at


def needs_last_used_update(last_used_at: datetime | None, *, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


def issue_token(
    *,
    session: Session,
    party: Party,
    name: str,
    created_by: Actor,
    now: datetime,
    expires_at: datetime | None = None,
    address: str | None = None,
    secret: str | None = None,
) -> tuple[ApiToken, str]:
    """Add a named token to `party` (the caller commits); returns it and its secret."""
    assert party.id is not None
    cleaned = check_token_name(name)
    expires_at = check_expiry(expires_at, now=now)
    for existing in session.exec(
        select(ApiToken).where(ApiToken.party_id == party.id, ApiToken.name == cleaned)
    ):
        if token_status(existing, now=now) == "active":
            raise ConflictError(f"{party.name} already has an active token named {cleaned!r}.")
    secret = secret or new_token()
    token = ApiToken(
        party_id=party.id,
        name=cleaned,
        token_hash=hash_token(secret),
        created_at=now,
        created_by=created_by.describe()[:300],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session=session,
        kind=audit.AuditKind.TOKEN_CREATED,
        actor=created_by,
        subject=f'token "{cleaned}" of {party.name}',
        subject_party_id=party.id,
        address=address,
        detail=f"expires {expires_at.isoformat()}" if expires_at else "no expiry",
        at=now,
    )
    return token, secret


def create_token(
    *,
    session: Session,
    party: Party,
    name: str,
    created_by: Actor,
    now: datetime,
    expires_at: datetime | None = None,
    address: str | None = None,
) -> tuple[ApiToken, str]:
    """Create and commit a named token; the secret is returned once and never stored."""
    token, secret = issue_token(
        session=session,
        party=party,
        name=name,
        created_by=created_by,
        now=now,
        expires_at=expires_at,
        address=address,
    )
    session.commit()
    session.refresh(token)
    return token, secret


def list_tokens(*, session: Session, party_id: int | None) -> list[ApiToken]:
    query = select(ApiToken)
    if party_id is not None:
        query = query.where(ApiToken.party_id == party_id)
    return list(session.exec(query.order_by(col(ApiToken.id))).all())


def get_token(*, session: Session, token_id: int, party_id: int | None) -> ApiToken:
    """A token by id; when `party_id` is given, only that party's (404 for another's)."""
    token = session.get(ApiToken, token_id)
    if token is None or (party_id is not None and token.party_id != party_id):
        raise NotFoundError(f"There is no token {token_id}.")
    return token


def find_token(*, session: Session, party: Party, name: str) -> ApiToken:
    """The party's token of that name that is not revoked (the newest when several)."""
    token = session.exec(
        select(ApiToken)
        .where(
            ApiToken.party_id == party.id,
            ApiToken.name == name.strip(),
            col(ApiToken.revoked_at).is_(None),
        )
        .order_by(col(ApiToken.id).desc())
    ).first()
    if token is None:
        raise NotFoundError(f"{party.name} has no unrevoked token named {name.strip()!r}.")
    return token


def revoke_token(
    *,
    session: Session,
    token: ApiToken,
    revoked_by: Actor,
    now: datetime,
    address: str | None = None,
) -> ApiToken:
    """Revoke a token, from the next request on; 409 when it already is."""
    done = session.execute(
        update(ApiToken)
        .where(col(ApiToken.id) == token.id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by=revoked_by.describe()[:300])
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ConflictError(f'Token "{token.name}" is already revoked.')
    party = session.get(Party, token.party_id)
    audit.record(
        session=session,
        kind=audit.AuditKind.TOKEN_REVOKED,
        actor=revoked_by,
        subject=f'token "{token.name}" of {party.name if party else token.party_id}',
        subject_party_id=token.party_id,
        address=address,
        at=now,
    )
    session.commit()
    session.refresh(token)
    return token


def principal_for_token(*, session: Session, secret: str, now: datetime) -> Principal | None:
    """The caller a bearer token stands for, or None if unknown, revoked or expired."""
    row = session.exec(
        select(ApiToken, Party)
        .join(Party, col(Party.id) == col(ApiToken.party_id))
        .where(ApiToken.token_hash == hash_token(secret))
    ).first()
    if row is None:
        return None
    token, party = row
    if token_refusal(revoked_at=token.revoked_at, expires_at=token.expires_at, now=now):
        return None
    if needs_last_used_update(token.last_used_at, now=now):
        session.execute(
            update(ApiToken)
            .where(col(ApiToken.id) == token.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        token.last_used_at = now
    return Principal(party=party, token=token)
