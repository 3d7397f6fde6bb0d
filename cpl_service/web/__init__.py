"""Pages for people, served by the same app as the API and built on the same services.

`routes/` holds thin page routes (each a `pages.PageRoute`), `templates/` their Jinja2
templates, `static/` the one stylesheet and any script — all served by the app itself, so
the pages work on a network with no internet.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from cpl_service.api.errors import http_error
from cpl_service.web.pages import HERE, page_for_error, secure
from cpl_service.web.routes import PAGE_ROUTERS


class _Static(StaticFiles):
    """The app's own assets, never sniffed as another type."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-content-type-options", b"nosniff"),
                    (b"cache-control", b"public, max-age=3600"),
                ]
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


# Addresses that are never pages: an error there is always a problem document.
NOT_PAGES = ("/api/", "/static/", "/openapi.json", "/docs", "/redoc", "/healthz")


async def _http_error(request: Request, exc: Exception) -> Response:
    """An address with no route, asked for by a browser, gets a page; anything else a problem."""
    wants_page = "text/html" in request.headers.get("accept", "")
    if wants_page and not request.url.path.startswith(NOT_PAGES):
        return secure(page_for_error(request, exc))
    return await http_error(request, exc)


def install(app: FastAPI) -> None:
    """Add the pages and their static files to `app` (outside the OpenAPI description)."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.mount("/static", _Static(directory=HERE / "static"), name="static")
    for router in PAGE_ROUTERS:
        app.include_router(router, include_in_schema=False)
