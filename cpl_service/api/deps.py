"""Dependencies shared by every route: the session, the caller, role checks, the signer.

Authentication is one dependency, `get_current_party`, for every route. It remembers
which party a token belongs to for `PARTY_TTL_SECONDS` (in this process), so a polled
route such as `GET /extracts/latest` answers from memory as cheaply as the health check.
A token's party is looked up again after that, so a change to a party reaches every
server process within `PARTY_TTL_SECONDS`.

The dependencies on the hot path are `async def` and never block: FastAPI runs plain
`def` dependencies in its thread pool, which would cost the polled route its speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from cpl_service.config import Settings
from cpl_service.errors import PermissionDeniedError
from cpl_service.parties.models import Party, Role
from cpl_service.parties.service import hash_token, party_for_token
from cpl_service.signing.config import LoadedSigner
from cpl_service.startup import load_signer

PARTY_TTL_SECONDS = 30.0

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


def _look_up_party(engine: Engine, token: str) -> Party | None:
    with Session(engine, expire_on_commit=False) as session:
        return party_for_token(session=session, token=token)


async def get_current_party(request: Request, credentials: BearerCredentials) -> Party:
    """The party a bearer token belongs to; 401 otherwise.

    The party is shared, detached from any session, with the other requests bearing the
    same token while it is remembered: read it, never change it. The engine and the cache
    are read from the app rather than through further dependencies: each dependency costs
    FastAPI a resolution step on every request, and this one is on the polled route.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised()
    cache: HotCache = request.app.state.hot_cache
    key = ("party", hash_token(credentials.credentials))
    party: Party | None = cache.get(key)
    if party is None:
        engine: Engine = request.app.state.engine
        party = await run_in_threadpool(_look_up_party, engine, credentials.credentials)
        if party is None:
            raise _unauthorised()
        cache.put(key, party, PARTY_TTL_SECONDS)
    return party


CurrentParty = Annotated[Party, Depends(get_current_party)]


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
