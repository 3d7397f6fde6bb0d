"""People of a party: adding, setting passwords, disabling, and signing in."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import case, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cpl_service.errors import ConflictError, InvalidInputError, NotFoundError
from cpl_service.parties import audit, lockout
from cpl_service.parties.actors import Actor
from cpl_service.parties.errors import SignInError, SignInLockedError
from cpl_service.parties.models import Party, SignInThrottle, User, UserSession
from cpl_service.parties.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)

SET_PASSWORD_LINK_VALID = timedelta(days=7)
WRONG_CREDENTIALS = "Wrong email or password."


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInputError(f"{email!r} is not a valid email address: {exc}") from None


def person_actor(user: User, party: Party) -> Actor:
    return Actor(party_id=party.id, name=party.name, person=user.name, user_id=user.id)


def check_password(password: str, *, email: str) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise InvalidInputError(" ".join(problems), problems=problems)


def add_person(
    *,
    session: Session,
    party: Party,
    name: str,
    email: str,
    is_admin: bool,
    created_by: Actor,
    now: datetime,
    address: str | None = None,
) -> tuple[User, str]:
    """Add a person (no password yet); returns them and a one-time set-password secret."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 200 or not cleaned.isprintable():
        raise InvalidInputError("A person needs a name of 1 to 200 printable characters.")
    address_of_person = normalise_email(email)
    if session.exec(select(User).where(User.email == address_of_person)).first():
        raise ConflictError(f"Someone with the email {address_of_person} already exists.")
    assert party.id is not None
    secret = secrets.token_urlsafe(32)
    user = User(
        party_id=party.id,
        name=cleaned,
        email=address_of_person,
        is_admin=is_admin,
        set_password_token_hash=_digest(secret),
        set_password_expires_at=now + SET_PASSWORD_LINK_VALID,
        created_at=now,
        created_by=created_by.describe()[:300],
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConflictError(f"Someone with the email {address_of_person} already exists.") from None
    audit.record(
        session=session,
        kind=audit.AuditKind.PERSON_ADDED,
        actor=created_by,
        subject=f"{cleaned} <{address_of_person}> of {party.name}"
        + (" as party admin" if is_admin else ""),
        subject_party_id=party.id,
        address=address,
        at=now,
    )
    session.commit()
    session.refresh(user)
    return user, secret


def _store_password(
    session: Session, user: User, password: str, actor: Actor, now: datetime, address: str | None
) -> None:
    check_password(password, email=user.email)
    user.password_hash = hash_password(password)
    user.password_set_at = now
    user.set_password_token_hash = None
    user.set_password_expires_at = None
    _record_person_change(session, user, audit.AuditKind.PASSWORD_SET, actor, now, address)


def set_password(
    *, session: Session, user: User, password: str, actor: Actor, now: datetime
) -> None:
    """Set a person's password (the command line asking on the terminal)."""
    _store_password(session, user, password, actor, now, None)


def change_password(
    *,
    session: Session,
    user: User,
    current: str,
    password: str,
    actor: Actor,
    now: datetime,
    address: str | None = None,
) -> None:
    """A signed-in person changes their own password; every one of their sessions ends."""
    if not verify_password(user.password_hash, current):
        raise InvalidInputError("The current password is not right.", field="current_password")
    if current == password:
        raise InvalidInputError(
            "The new password must differ from the current one.", field="password"
        )
    _store_password(session, user, password, actor, now, address)


def set_password_with_link(
    *, session: Session, secret: str, password: str, now: datetime, address: str | None = None
) -> User:
    """Set a password through a one-time link; the link then stops working."""
    user = session.exec(select(User).where(User.set_password_token_hash == _digest(secret))).first()
    expires = user.set_password_expires_at if user else None
    if user is None or user.disabled_at is not None or expires is None or expires <= now:
        raise NotFoundError(
            "This set-password link is unknown, used or expired; ask for a new one."
        )
    party = session.get(Party, user.party_id)
    assert party is not None
    _store_password(session, user, password, person_actor(user, party), now, address)
    return user


def _record_person_change(
    session: Session,
    user: User,
    kind: audit.AuditKind,
    actor: Actor,
    now: datetime,
    address: str | None,
) -> None:
    """Store a change to `user` that ends every session of theirs, audited, and commit."""
    session.add(user)
    session.execute(
        update(UserSession)
        .where(col(UserSession.user_id) == user.id, col(UserSession.ended_at).is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session=session,
        kind=kind,
        actor=actor,
        subject=user.describe(),
        subject_party_id=user.party_id,
        address=address,
        at=now,
    )
    session.commit()


def disable_person(
    *, session: Session, user: User, disabled_by: Actor, now: datetime, address: str | None = None
) -> User:
    """Disable a person: every session ends, and no sign-in works, from the next request on."""
    if user.disabled_at is not None:
        raise ConflictError(f"{user.describe()} is already disabled.")
    user.disabled_at = now
    user.disabled_by = disabled_by.describe()[:300]
    user.set_password_token_hash = None
    _record_person_change(session, user, audit.AuditKind.PERSON_DISABLED, disabled_by, now, address)
    session.refresh(user)
    return user


def list_people(*, session: Session, party_id: int | None) -> list[User]:
    query = select(User)
    if party_id is not None:
        query = query.where(User.party_id == party_id)
    return list(session.exec(query.order_by(col(User.id))).all())


def get_person(*, session: Session, user_id: int, party_id: int | None) -> User:
    """A person by id; when `party_id` is given, only that party's (404 for another's)."""
    user = session.get(User, user_id)
    if user is None or (party_id is not None and user.party_id != party_id):
        raise NotFoundError(f"There is no person {user_id}.")
    return user


def get_person_by_email(*, session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        raise NotFoundError(f"There is nobody with the email {email.strip()!r}.")
    return user


# --- signing in -----------------------------------------------------------------------


def _throttle_keys(email: str, address: str | None) -> list[tuple[str, int]]:
    keys = [(f"account:{email.strip().lower()[:254]}", lockout.ACCOUNT_FREE_FAILURES)]
    if address:
        keys.append((f"address:{address[:100]}", lockout.ADDRESS_FREE_FAILURES))
    return keys


def _locked_for(session: Session, keys: list[tuple[str, int]], now: datetime) -> int:
    longest = 0
    for key, _ in keys:
        row = session.get(SignInThrottle, key)
        if row is not None:
            longest = max(longest, lockout.seconds_locked(row.locked_until, now=now))
    return longest


def _count_failure(session: Session, key: str, free: int, now: datetime) -> lockout.Throttle:
    """Add one failure to `key` atomically: concurrent failures are each counted."""
    counted = session.execute(
        update(SignInThrottle)
        .where(col(SignInThrottle.key) == key)
        .values(
            failures=case(
                (col(SignInThrottle.last_failure_at) < lockout.counting_since(now), 1),
                else_=col(SignInThrottle.failures) + 1,
            ),
            last_failure_at=now,
        )
        .returning(col(SignInThrottle.failures))
        .execution_options(synchronize_session=False)
    ).first()
    if counted is None:
        session.add(SignInThrottle(key=key, failures=1, last_failure_at=now))
        session.flush()
    failures = counted[0] if counted else 1
    delay = lockout.lock_delay(failures, free=free)
    if delay:
        session.execute(
            update(SignInThrottle)
            .where(col(SignInThrottle.key) == key)
            .values(locked_until=now + delay)
            .execution_options(synchronize_session=False)
        )
    return lockout.Throttle(failures=failures, locked_until=now + delay if delay else None)


def _record_failure(
    session: Session,
    keys: list[tuple[str, int]],
    attempted: str,
    party_id: int | None,
    detail: str,
    address: str | None,
    now: datetime,
) -> int:
    """Count a failed sign-in against every key, audit it, commit; seconds now locked."""
    locks = [_count_failure(session, key, free, now) for key, free in keys]
    audit.record(
        session=session,
        kind=audit.AuditKind.SIGN_IN_FAILED,
        actor=None,
        subject=attempted,
        subject_party_id=party_id,
        address=address,
        detail=detail,
        at=now,
    )
    waited = max(lockout.seconds_locked(s.locked_until, now=now) for s in locks)
    if waited:
        audit.record(
            session=session,
            kind=audit.AuditKind.SIGN_IN_LOCKED,
            actor=None,
            subject=attempted,
            subject_party_id=party_id,
            address=address,
            detail=f"locked for {waited} seconds after {max(s.failures for s in locks)} failures",
            at=now,
        )
    session.commit()
    return waited


def sign_in(
    *, session: Session, email: str, password: str, address: str | None, now: datetime
) -> tuple[User, Party]:
    """The person with this email and password; counts failures and locks after too many.

    Raises SignInLockedError while the account or the address is locked (saying for how
    long), SignInError for a wrong email or password or a disabled person.
    """
    keys = _throttle_keys(email, address)
    attempted = email.strip()[:254]
    waited = _locked_for(session, keys, now)
    if waited:
        audit.record(
            session=session,
            kind=audit.AuditKind.SIGN_IN_FAILED,
            actor=None,
            subject=attempted,
            address=address,
            detail="refused while locked",
            at=now,
        )
        session.commit()
        raise SignInLockedError(
            f"Too many failed sign-ins; try again in {waited} seconds.", retry_after=waited
        )
    try:
        lookup = normalise_email(attempted)
    except InvalidInputError:
        lookup = attempted.lower()  # no such person can exist; still fail the same way
    user = session.exec(select(User).where(User.email == lookup)).first()
    party = session.get(Party, user.party_id) if user else None
    good = verify_password(user.password_hash if user else None, password)
    if user is None or party is None or not good or user.disabled_at is not None:
        detail = "disabled person" if user and user.disabled_at else "wrong email or password"
        party_id = party.id if party else None
        try:
            waited = _record_failure(session, keys, attempted, party_id, detail, address, now)
        except IntegrityError:  # a concurrent failure counted the same key first: count again
            session.rollback()
            waited = _record_failure(session, keys, attempted, party_id, detail, address, now)
        if waited:
            raise SignInLockedError(
                f"{WRONG_CREDENTIALS} Too many failed sign-ins: locked for {waited} seconds.",
                retry_after=waited,
            )
        raise SignInError(WRONG_CREDENTIALS)
    account_key = keys[0][0]
    throttle = session.get(SignInThrottle, account_key)
    if throttle is not None:
        session.delete(throttle)
    assert user.password_hash is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    audit.record(
        session=session,
        kind=audit.AuditKind.SIGN_IN,
        actor=person_actor(user, party),
        subject=user.describe(),
        subject_party_id=party.id,
        address=address,
        at=now,
    )
    session.commit()
    return user, party
