"""A party's people: SECAS manages everyone's, a party's admin person their own party's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cpl_service.api.deps import ClientAddress, CurrentPrincipal, SessionDep, SettingsDep
from cpl_service.api.routes.session import PersonPublic
from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.parties import people
from cpl_service.parties import service as parties
from cpl_service.parties.actors import managed_party_id
from cpl_service.parties.models import Role

router = APIRouter(tags=["people and tokens"])


class PersonIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    party_id: int | None = Field(default=None, description="Default: your own party.")
    is_admin: bool = Field(default=False, description="May manage the party's people and tokens.")


class PersonCreated(PersonPublic):
    set_password_url: str = Field(description="One-time link to choose a password (7 days).")


class PersonList(BaseModel):
    items: list[PersonPublic]


def set_password_url(settings: Settings, secret: str) -> str:
    return f"{settings.site_url}/set-password?token={secret}"


@router.get("/people", response_model=PersonList)
def list_people(
    session: SessionDep,
    principal: CurrentPrincipal,
    party_id: Annotated[int | None, Query()] = None,
) -> PersonList:
    """A party's people (SECAS: any party, or everyone; an admin person: their own)."""
    if party_id is None and principal.role == Role.SECAS:
        target = None
    else:
        target = managed_party_id(principal, party_id)
    return PersonList(
        items=[PersonPublic.of(u) for u in people.list_people(session=session, party_id=target)]
    )


@router.post("/people", status_code=201, response_model=PersonCreated)
def add_person(
    body: PersonIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    address: ClientAddress,
) -> PersonCreated:
    """Add a person; the answer carries their one-time set-password link."""
    party = parties.get_party(session=session, party_id=managed_party_id(principal, body.party_id))
    user, secret = people.add_person(
        session=session,
        party=party,
        name=body.name,
        email=body.email,
        is_admin=body.is_admin,
        created_by=principal.actor,
        now=utcnow(),
        address=address,
    )
    return PersonCreated(
        **PersonPublic.of(user).model_dump(), set_password_url=set_password_url(settings, secret)
    )


@router.post("/people/{person_id}/disable", response_model=PersonPublic)
def disable_person(
    person_id: int, session: SessionDep, principal: CurrentPrincipal, address: ClientAddress
) -> PersonPublic:
    """Disable a person: refused from their next request on."""
    scope = None if principal.role == Role.SECAS else managed_party_id(principal, None)
    user = people.get_person(session=session, user_id=person_id, party_id=scope)
    people.disable_person(
        session=session, user=user, disabled_by=principal.actor, now=utcnow(), address=address
    )
    return PersonPublic.of(user)
