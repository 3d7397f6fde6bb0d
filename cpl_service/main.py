"""create_app(): routers and exception handlers, nothing else."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from cpl_service import __version__, web
from cpl_service.api import errors, openapi
from cpl_service.api.deps import HotCache
from cpl_service.api.idempotency import IdempotencyKeys
from cpl_service.api.input_guard import InputGuard
from cpl_service.api.limits import BodySizeLimit
from cpl_service.api.routes import ROUTERS, health
from cpl_service.api.unexpected import UnexpectedErrors
from cpl_service.config import Settings, get_settings
from cpl_service.db import make_engine


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for `settings` (the environment's by default)."""
    settings = settings or get_settings()
    # Swagger UI and ReDoc from the package's own static files: no request leaves the server.
    app = FastAPIOffline(
        title="cpl_service",
        version=__version__,
        summary="The SEC Central Products List: submissions, review, signed extracts.",
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.hot_cache = HotCache()
    errors.install(app)
    openapi.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(IdempotencyKeys)
    app.add_middleware(InputGuard, max_json_bytes=settings.max_json_bytes)
    app.add_middleware(UnexpectedErrors)
    app.include_router(health.router)
    for router in ROUTERS:
        app.include_router(router, prefix="/api/v1")
    web.install(app)
    return app
