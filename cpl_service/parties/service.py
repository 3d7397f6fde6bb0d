"""Creating parties, issuing their first token and registering signing certificates."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from cpl_service.clock import utcnow
from cpl_service.errors import ConflictError, InvalidInputError, NotFoundError
from cpl_service.parties import audit
from cpl_service.parties.actors import COMMAND_LINE, Actor
from cpl_service.parties.models import Party, PartyCertificate, Role
from cpl_service.parties.tokens import hash_token as hash_token  # re-exported for callers
from cpl_service.parties.tokens import issue_token, principal_for_token
from cpl_service.signing.certificates import describe_certificate

FIRST_TOKEN_NAME = "initial token"  # noqa: S105 (a name, not a secret)


def create_party(
    *,
    session: Session,
    name: str,
    role: str,
    emails: list[str],
    created_by: Actor = COMMAND_LINE,
) -> tuple[Party, str]:
    """Create a party with a first named token; returns both (the token only here, once)."""
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
    now = utcnow()
    party = Party(name=name, role=role_value, emails=normalised, created_at=now)
    session.add(party)
    session.flush()
    audit.record(
        session=session,
        kind=audit.AuditKind.PARTY_ADDED,
        actor=created_by,
        subject=f"party {name} ({role_value})",
        subject_party_id=party.id,
        at=now,
    )
    _, token = issue_token(
        session=session, party=party, name=FIRST_TOKEN_NAME, created_by=created_by, now=now
    )
    session.commit()
    session.refresh(party)
    return party, token


def party_for_token(*, session: Session, token: str) -> Party | None:
    principal = principal_for_token(session=session, secret=token, now=utcnow())
    return principal.party if principal else None


def list_parties(*, session: Session) -> list[Party]:
    return list(session.exec(select(Party).order_by(Party.name)).all())


def get_party(*, session: Session, party_id: int) -> Party:
    party = session.get(Party, party_id)
    if party is None:
        raise NotFoundError(f"There is no party {party_id}.")
    return party


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
