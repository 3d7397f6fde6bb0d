"""Named API tokens of a party: create (the secret shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cpl_service.api.deps import (
    ClientAddress,
    CurrentPrincipal,
    SecasParty,
    SessionDep,
    token_cache_key,
)
from cpl_service.clock import utcnow
from cpl_service.parties import service as parties
from cpl_service.parties import tokens
from cpl_service.parties.actors import managed_party_id
from cpl_service.parties.models import ApiToken, PartyPublic, Role

router = APIRouter(tags=["people and tokens"])


class TokenPublic(BaseModel):
    id: int
    party_id: int
    name: str
    status: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, token: ApiToken, now: datetime) -> TokenPublic:
        data = token.model_dump(exclude={"token_hash"})
        return cls(**data, status=tokens.token_status(token, now=now))


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret: shown this once, stored only as a hash.")


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    party_id: int | None = Field(default=None, description="Default: your own party.")
    expires_at: datetime | None = None


class TokenList(BaseModel):
    items: list[TokenPublic]


class PartyList(BaseModel):
    items: list[PartyPublic]


@router.get("/parties", response_model=PartyList)
def list_parties(session: SessionDep, _secas: SecasParty) -> PartyList:
    """Every party (SECAS)."""
    return PartyList(
        items=[PartyPublic.model_validate(p) for p in parties.list_parties(session=session)]
    )


@router.get("/tokens", response_model=TokenList)
def list_tokens(
    session: SessionDep,
    principal: CurrentPrincipal,
    party_id: Annotated[int | None, Query()] = None,
) -> TokenList:
    """A party's tokens (SECAS: any party, or all when no party is given; admins: their own)."""
    if party_id is None and principal.role == Role.SECAS:
        target = None
    else:
        target = managed_party_id(principal, party_id)
    now = utcnow()
    return TokenList(
        items=[TokenPublic.of(t, now) for t in tokens.list_tokens(session=session, party_id=target)]
    )


@router.post("/tokens", status_code=201, response_model=TokenCreated)
def create_token(
    body: TokenIn, session: SessionDep, principal: CurrentPrincipal, address: ClientAddress
) -> TokenCreated:
    """Create a named token; the answer carries its secret, shown this once."""
    party = parties.get_party(session=session, party_id=managed_party_id(principal, body.party_id))
    now = utcnow()
    token, secret = tokens.create_token(
        session=session,
        party=party,
        name=body.name,
        created_by=principal.actor,
        now=now,
        expires_at=body.expires_at,
        address=address,
    )
    return TokenCreated(**TokenPublic.of(token, now).model_dump(), token=secret)


@router.post("/tokens/{token_id}/revoke", response_model=TokenPublic)
def revoke_token(
    token_id: int,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    address: ClientAddress,
) -> TokenPublic:
    """Revoke a token: refused (401) from the next request on."""
    scope = None if principal.role == Role.SECAS else managed_party_id(principal, None)
    token = tokens.get_token(session=session, token_id=token_id, party_id=scope)
    now = utcnow()
    tokens.revoke_token(
        session=session, token=token, revoked_by=principal.actor, now=now, address=address
    )
    request.app.state.hot_cache.forget(token_cache_key(token.token_hash))
    return TokenPublic.of(token, now)
