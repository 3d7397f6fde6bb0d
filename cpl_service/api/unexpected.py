"""The answer to a bug: a logged 500 problem, on a connection that stays usable.

Starlette's own last-resort handler answers and then re-raises, and the server then drops
the connection without saying `Connection: close`, so a client's next pooled request fails.
Answering here, without re-raising, keeps the connection open and its state truthful.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpl_service.api.errors import problem

log = logging.getLogger(__name__)


class UnexpectedErrors:
    """ASGI middleware: an unhandled exception becomes a 500 problem if nothing was sent yet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error")
            if started:
                raise  # half a response was sent: only closing the connection is honest
            response = problem(500, "An unexpected error occurred; it has been logged.")
            await response(scope, receive, send)
