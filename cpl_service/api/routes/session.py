"""Signing in and out (a session cookie for the pages), and setting a password by link."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from cpl_service.api.deps import ClientAddress, CurrentPrincipal, SessionDep, SettingsDep
from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.parties import people, sessions
from cpl_service.parties.models import User

router = APIRouter(tags=["people and tokens"])


class PersonPublic(BaseModel):
    id: int
    party_id: int
    name: str
    email: str
    is_admin: bool
    password_set: bool
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    disabled_by: str | None

    @classmethod
    def of(cls, user: User) -> PersonPublic:
        data = user.model_dump(include=set(cls.model_fields) - {"password_set"})
        return cls(**data, password_set=user.password_hash is not None)


class SignInIn(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=4096)


class WhoAmI(BaseModel):
    party_id: int
    party: str
    role: str
    person: PersonPublic | None = None
    token: str | None = None
    csrf_token: str | None = Field(
        default=None, description="Send as X-CSRF-Token with every signed-in change."
    )


class SetPasswordIn(BaseModel):
    token: str = Field(min_length=1, max_length=200, description="From the one-time link.")
    password: str = Field(min_length=1, max_length=4096)


def set_session_cookie(response: Response, secret: str, settings: Settings) -> None:
    response.set_cookie(
        sessions.SESSION_COOKIE,
        secret,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.site_url.lower().startswith("https://"),
        path="/",
    )


@router.post("/session", response_model=WhoAmI)
def sign_in(
    body: SignInIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> WhoAmI:
    """Sign in with email and password; sets the session cookie (a new one each time)."""
    now = utcnow()
    user, party = people.sign_in(
        session=session, email=body.email, password=body.password, address=address, now=now
    )
    secret = sessions.start_session(
        session=session,
        user=user,
        now=now,
        address=address,
        replacing=request.cookies.get(sessions.SESSION_COOKIE),
    )
    set_session_cookie(response, secret, settings)
    assert party.id is not None
    return WhoAmI(
        party_id=party.id,
        party=party.name,
        role=party.role,
        person=PersonPublic.of(user),
        csrf_token=sessions.csrf_token_for(secret),
    )


@router.get("/session", response_model=WhoAmI)
def who_am_i(request: Request, principal: CurrentPrincipal) -> WhoAmI:
    """Who the credentials in this request stand for."""
    secret = request.cookies.get(sessions.SESSION_COOKIE)
    assert principal.party.id is not None
    return WhoAmI(
        party_id=principal.party.id,
        party=principal.party.name,
        role=principal.role,
        person=PersonPublic.of(principal.user) if principal.user else None,
        token=principal.token.name if principal.token else None,
        csrf_token=sessions.csrf_token_for(secret) if principal.session and secret else None,
    )


@router.delete("/session", status_code=204)
def sign_out(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    address: ClientAddress,
) -> Response:
    """Sign out: the session ends for every server process at once."""
    secret = request.cookies.get(sessions.SESSION_COOKIE)
    if principal.session is not None and secret:
        sessions.end_session(session=session, secret=secret, now=utcnow(), address=address)
    response = Response(status_code=204)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


@router.post("/session/password", status_code=204)
def set_password(body: SetPasswordIn, session: SessionDep, address: ClientAddress) -> Response:
    """Choose a password with the one-time link a new person was given."""
    people.set_password_with_link(
        session=session, secret=body.token, password=body.password, now=utcnow(), address=address
    )
    return Response(status_code=204)
