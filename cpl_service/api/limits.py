"""Refuse request bodies larger than the service accepts, before anything reads them.

FastAPI parses (and spools to disk) a multipart body before any route or dependency runs,
so the size cap must sit in front of the app.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpl_service.api.errors import problem


class BodySizeLimit:
    """ASGI middleware: 413 for a declared or actual body larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request" and not too_large:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # End the body here; whatever the app answers is replaced below.
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._too_large(scope, receive, send)

        await self.app(scope, counting_receive, guarded_send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            f"The request is larger than {self.max_bytes // (1024 * 1024)} MB, the most this "
            "service accepts (a workbook of at most 10 MB and its certificate PDFs).",
            slug="request-too-large",
            title="Request too large",
        )
        await response(scope, receive, send)
