"""Dependencies shared by every route: the session, the caller, role checks, the signer.

Authentication is one dependency, `get_principal`, for every route: a bearer token (one of
a party's named API tokens) or a signed-in person's session cookie. It remembers which
caller a token stands for for `TOKEN_TTL_SECONDS` (in this process), so a polled route such
as `GET /extracts/latest` answers from memory as cheaply as the health check. A token is
looked up again after that, so a revoked or expired token (or a disabled person) is refused
by every server process within `TOKEN_TTL_SECONDS` — the documented bound — and by the
process that revoked it at once. Session cookies are checked on every request.

The dependencies on the hot path are `async def` and never block: FastAPI runs plain
`def` dependencies in its thread pool, which would cost the polled route its speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.entries.service import DecisionNotice
from cpl_service.errors import PermissionDeniedError
from cpl_service.extracts.service import ExtractNotice
from cpl_service.notices.decisions import (
    queue_decision_notices,
    queue_firmware_confirmation_requests,
)
from cpl_service.notices.service import queue_acknowledgement_notice
from cpl_service.parties.actors import Actor, Principal
from cpl_service.parties.models import Party, Role
from cpl_service.parties.sessions import (
    CSRF_HEADER,
    SESSION_COOKIE,
    SessionTimeouts,
    csrf_ok,
    principal_for_session,
)
from cpl_service.parties.tokens import hash_token, principal_for_token, token_refusal
from cpl_service.signing.config import LoadedSigner
from cpl_service.startup import load_signer
from cpl_service.submissions.service import SubmissionNotice

# The longest a revoked or expired token is still accepted by another server process.
TOKEN_TTL_SECONDS = 5.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False)
_signer_lock = threading.Lock()


class HotCache:
    """A tiny thread-safe map whose entries expire; one per app (`app.state.hot_cache`)."""

    def __init__(self) -> None:
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._items[key]
                return None
            return value

    def put(self, key: Any, value: Any, ttl: float) -> None:
        with self._lock:
            if len(self._items) > 10_000:  # bounded: stale tokens cannot pile up
                self._items.clear()
            self._items[key] = (time.monotonic() + ttl, value)

    def forget(self, key: Any) -> None:
        with self._lock:
            self._items.pop(key, None)


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_hot_cache(request: Request) -> HotCache:
    cache: HotCache = request.app.state.hot_cache
    return cache


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
HotCacheDep = Annotated[HotCache, Depends(get_hot_cache)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorised() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="A valid bearer token is required (Authorization: Bearer <token>).",
        headers={"WWW-Authenticate": "Bearer"},
    )


def token_cache_key(token_hash: str) -> tuple[str, str]:
    """The hot-cache key of the caller a token stands for (revoking a token forgets it)."""
    return ("principal", token_hash)


def session_timeouts(settings: Settings) -> SessionTimeouts:
    return SessionTimeouts(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
    )


def _principal_for_token(engine: Engine, token: str) -> Principal | None:
    with Session(engine, expire_on_commit=False) as session:
        return principal_for_token(session=session, secret=token, now=utcnow())


def principal_for_cookie(request: Request, secret: str) -> Principal | None:
    """The signed-in person behind a session cookie's secret (None when over)."""
    settings: Settings = request.app.state.settings
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        return principal_for_session(
            session=session, secret=secret, now=utcnow(), timeouts=session_timeouts(settings)
        )


async def get_principal(request: Request, credentials: BearerCredentials) -> Principal:
    """The caller: a bearer token's, or a signed-in person's (cookie); 401 otherwise.

    A token's caller is shared, detached from any session, with the other requests bearing
    the same token while it is remembered: read it, never change it. A state-changing request
    made with the session cookie must carry the session's CSRF token. The engine and the cache
    are read from the app rather than through further dependencies: each dependency costs
    FastAPI a resolution step on every request, and this one is on the polled route.
    """
    secret = request.cookies.get(SESSION_COOKIE)
    if credentials is None and secret:
        principal = await run_in_threadpool(principal_for_cookie, request, secret)
        if principal is None:
            raise _unauthorised()
        if request.method not in SAFE_METHODS and not csrf_ok(
            secret, request.headers.get(CSRF_HEADER)
        ):
            raise PermissionDeniedError(
                f"A signed-in change needs the session's CSRF token in the {CSRF_HEADER} header."
            )
        return principal
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised()
    cache: HotCache = request.app.state.hot_cache
    key = token_cache_key(hash_token(credentials.credentials))
    cached: Principal | None = cache.get(key)
    if cached is not None and cached.token is not None:
        # A token that expires while remembered is refused on time, not up to the TTL late.
        expired = token_refusal(revoked_at=None, expires_at=cached.token.expires_at, now=utcnow())
        if expired:
            cache.forget(key)
            raise _unauthorised()
    if cached is None:
        engine: Engine = request.app.state.engine
        cached = await run_in_threadpool(_principal_for_token, engine, credentials.credentials)
        if cached is None:
            raise _unauthorised()
        cache.put(key, cached, TOKEN_TTL_SECONDS)
    return cached


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_current_party(principal: CurrentPrincipal) -> Party:
    return principal.party


CurrentParty = Annotated[Party, Depends(get_current_party)]


async def get_actor(principal: CurrentPrincipal) -> Actor:
    return principal.actor


CurrentActor = Annotated[Actor, Depends(get_actor)]


async def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]


def check_role(party: Party, roles: tuple[Role, ...]) -> Party:
    """`party` if its role is one of `roles`; 403 otherwise."""
    allowed = {r.value for r in roles}
    if party.role not in allowed:
        names = ", ".join(sorted(allowed))
        raise PermissionDeniedError(f"Only {names} may do this; you are {party.role}.")
    return party


def require_roles(*roles: Role) -> Callable[[Party], Awaitable[Party]]:
    """A dependency that admits only callers with one of `roles` (403 otherwise)."""

    async def check(party: CurrentParty) -> Party:
        return check_role(party, roles)

    return check


SecasParty = Annotated[Party, Depends(require_roles(Role.SECAS))]
DccOrSecasParty = Annotated[Party, Depends(require_roles(Role.DCC, Role.SECAS))]
DccParty = Annotated[Party, Depends(require_roles(Role.DCC))]
SupplierParty = Annotated[Party, Depends(require_roles(Role.SUPPLIER))]


def get_signer(request: Request) -> LoadedSigner:
    """The app's extract signer, loaded on first use (`serve` loads it before listening)."""
    with _signer_lock:
        signer: LoadedSigner | None = getattr(request.app.state, "signer", None)
        if signer is None:
            signer = load_signer(request.app.state.settings)
            request.app.state.signer = signer
        return signer


SignerDep = Annotated[LoadedSigner, Depends(get_signer)]


# The emails a change queues in its own transaction (the outbox), bound to the app's
# settings: which queuing goes with which kind of change is stated here, once, for the API
# routes and the pages alike.


async def get_decision_notices(settings: SettingsDep) -> DecisionNotice:
    return partial(queue_decision_notices, settings=settings)


async def get_firmware_requests(settings: SettingsDep) -> SubmissionNotice:
    return partial(queue_firmware_confirmation_requests, settings=settings)


async def get_acknowledgement_notice(settings: SettingsDep) -> ExtractNotice:
    return partial(queue_acknowledgement_notice, settings=settings)


DecisionNotices = Annotated[DecisionNotice, Depends(get_decision_notices)]
FirmwareRequests = Annotated[SubmissionNotice, Depends(get_firmware_requests)]
AcknowledgementNotice = Annotated[ExtractNotice, Depends(get_acknowledgement_notice)]
