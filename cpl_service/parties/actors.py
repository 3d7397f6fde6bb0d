"""Who is acting: the party and the person or named token behind a request."""

from __future__ import annotations

from dataclasses import dataclass

from cpl_service.errors import NotFoundError, PermissionDeniedError
from cpl_service.parties.models import ApiToken, Party, Role, User, UserSession


@dataclass(frozen=True)
class Actor:
    """Who made a change, as recorded in histories and the audit log.

    `name` is the party's name (or a system name such as the importer's); `person` or
    `token` says which of the party's people or named tokens acted, when known.
    """

    party_id: int | None
    name: str
    person: str | None = None
    token: str | None = None
    user_id: int | None = None
    token_id: int | None = None

    @classmethod
    def of(cls, party: Party) -> Actor:
        return cls(party_id=party.id, name=party.name)

    def describe(self) -> str:
        """`Jane Smith (SECAS)`, `token "CI upload" (Acme)`, or the party's name alone."""
        return describe_actor(self.name, self.person, self.token)


def describe_actor(party: str, person: str | None, token: str | None) -> str:
    if person:
        return f"{person} ({party})"
    if token:
        return f'token "{token}" ({party})'
    return party


COMMAND_LINE = Actor(party_id=None, name="command line")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a party, through either one of its tokens or a person."""

    party: Party
    token: ApiToken | None = None
    user: User | None = None
    session: UserSession | None = None

    @property
    def role(self) -> str:
        return self.party.role

    @property
    def actor(self) -> Actor:
        return Actor(
            party_id=self.party.id,
            name=self.party.name,
            person=self.user.name if self.user else None,
            token=self.token.name if self.token else None,
            user_id=self.user.id if self.user else None,
            token_id=self.token.id if self.token else None,
        )


def managed_party_id(principal: Principal, requested: int | None) -> int:
    """The party whose people and tokens `principal` asks to manage, if it may.

    SECAS (a person or a token) manages every party; a party's admin person manages their
    own party; nobody else manages any. Another party's ID is "not found", never confirmed.
    """
    own = principal.party.id
    assert own is not None
    target = own if requested is None else requested
    if principal.role == Role.SECAS:
        return target
    if principal.user is None or not principal.user.is_admin:
        raise PermissionDeniedError(
            "Only SECAS or an admin person of the party may manage its people and tokens."
        )
    if target != own:
        raise NotFoundError(f"There is no party {target}.")
    return own
