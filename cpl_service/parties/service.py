"""Creating parties, issuing tokens and registering signing certificates."""

from __future__ import annotations

import hashlib
import secrets

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from cpl_service.errors import ConflictError, InvalidInputError, NotFoundError
from cpl_service.parties.models import Party, PartyCertificate, Role
from cpl_service.signing.certificates import describe_certificate

TOKEN_PREFIX = "cpl_"  # noqa: S105 (a prefix, not a secret)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_party(*, session: Session, name: str, role: str, emails: list[str]) -> tuple[Party, str]:
    """Create a party; returns it with its token, which is never stored in clear."""
    name = name.strip()
    if not name:
        raise InvalidInputError("A party needs a name.")
    try:
        role_value = Role(role).value
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInputError(f"Unknown role {role!r}; use one of {allowed}.") from None
    if not emails:
        raise InvalidInputError("A party needs at least one contact email.")
    normalised = []
    for email in emails:
        try:
            normalised.append(validate_email(email, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise InvalidInputError(f"{email!r} is not a valid email address: {exc}") from None
    if session.exec(select(Party).where(Party.name == name)).first():
        raise ConflictError(f"A party named {name!r} already exists.")
    token = new_token()
    party = Party(name=name, role=role_value, emails=normalised, token_hash=hash_token(token))
    session.add(party)
    session.commit()
    session.refresh(party)
    return party, token


def party_for_token(*, session: Session, token: str) -> Party | None:
    return session.exec(select(Party).where(Party.token_hash == hash_token(token))).first()


def get_party_by_name(*, session: Session, name: str) -> Party:
    party = session.exec(select(Party).where(Party.name == name)).first()
    if party is None:
        raise NotFoundError(f"There is no party named {name!r}.")
    return party


def add_certificate(*, session: Session, party: Party, pem: bytes) -> PartyCertificate:
    """Register a signing certificate (PEM) for the party's signed submissions."""
    info = describe_certificate(pem)
    assert party.id is not None
    existing = session.exec(
        select(PartyCertificate).where(
            PartyCertificate.party_id == party.id,
            PartyCertificate.fingerprint_sha256 == info.fingerprint_sha256,
        )
    ).first()
    if existing:
        return existing
    record = PartyCertificate(
        party_id=party.id,
        fingerprint_sha256=info.fingerprint_sha256,
        subject=info.subject,
        not_valid_after=info.not_valid_after,
        pem=info.pem,
    )
    session.add(record)
    session.commit()
    session.refresh(record)
    return record


def all_contact_emails(*, session: Session) -> list[str]:
    emails: set[str] = set()
    for party in session.exec(select(Party)).all():
        emails.update(party.emails)
    return sorted(emails)
