"""Dependencies shared by every route: the session, the caller and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.errors import PermissionDeniedError
from cpl_service.parties.actors import Actor, Principal
from cpl_service.parties.models import Party, Role
from cpl_service.parties.sessions import (
    CSRF_HEADER,
    SESSION_COOKIE,
    SessionTimeouts,
    csrf_ok,
    principal_for_session,
)
from cpl_service.parties.tokens import principal_for_token

_bearer = HTTPBearer(auto_error=False)


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unauthorised() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="A valid bearer token (Authorization: Bearer <token>) or sign-in is required.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def session_timeouts(settings: Settings) -> SessionTimeouts:
    return SessionTimeouts(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
    )


def authenticate_principal(
    session: Session, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The caller behind a bearer token (unrevoked, unexpired); 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised()
    principal = principal_for_token(session=session, secret=credentials.credentials, now=utcnow())
    if principal is None:
        raise _unauthorised()
    return principal


def authenticate(session: Session, credentials: HTTPAuthorizationCredentials | None) -> Party:
    """The party a bearer token belongs to; 401 otherwise."""
    return authenticate_principal(session, credentials).party


def check_role_name(role: str, roles: tuple[Role, ...]) -> None:
    """403 unless `role` is one of `roles`."""
    allowed = {r.value for r in roles}
    if role not in allowed:
        names = ", ".join(sorted(allowed))
        raise PermissionDeniedError(f"Only {names} may do this; you are {role}.")


def check_role(party: Party, roles: tuple[Role, ...]) -> Party:
    """`party` if its role is one of `roles`; 403 otherwise."""
    check_role_name(party.role, roles)
    return party


def get_principal(
    request: Request, session: SessionDep, settings: SettingsDep, credentials: BearerCredentials
) -> Principal:
    """The one authentication dependency: a bearer token, or a signed-in person's cookie.

    A state-changing request made with the cookie must carry the session's CSRF token.
    """
    secret = request.cookies.get(SESSION_COOKIE)
    if credentials is not None or not secret:
        return authenticate_principal(session, credentials)
    principal = principal_for_session(
        session=session, secret=secret, now=utcnow(), timeouts=session_timeouts(settings)
    )
    if principal is None:
        raise _unauthorised()
    if request.method not in SAFE_METHODS and not csrf_ok(secret, request.headers.get(CSRF_HEADER)):
        raise PermissionDeniedError(
            f"A signed-in change needs the session's CSRF token in the {CSRF_HEADER} header."
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_current_party(principal: CurrentPrincipal) -> Party:
    return principal.party


CurrentParty = Annotated[Party, Depends(get_current_party)]


def get_actor(principal: CurrentPrincipal) -> Actor:
    return principal.actor


CurrentActor = Annotated[Actor, Depends(get_actor)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]


def require_roles(*roles: Role) -> Callable[[Party], Party]:
    """A dependency that admits only callers with one of `roles` (403 otherwise)."""

    def check(party: CurrentParty) -> Party:
        return check_role(party, roles)

    return check


SecasParty = Annotated[Party, Depends(require_roles(Role.SECAS))]
DccOrSecasParty = Annotated[Party, Depends(require_roles(Role.DCC, Role.SECAS))]
DccParty = Annotated[Party, Depends(require_roles(Role.DCC))]
SupplierParty = Annotated[Party, Depends(require_roles(Role.SUPPLIER))]
