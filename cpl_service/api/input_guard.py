"""Limits on what a request may carry, checked before any route or database sees it.

One place for the rules every input shares: the size of the headers, of the query string and
of a JSON body, and the characters no database column can store (NUL, lone surrogates) in the
path, the query string or any JSON string. Each breach is a 4xx problem, never a 500.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpl_service.api.errors import problem
from cpl_service.storable import describe, unstorable_character

MAX_HEADER_BYTES = 16 * 1024
MAX_QUERY_BYTES = 4096
# What uvicorn reads of a request head at most; beyond it the server itself answers 4xx.
MAX_REQUEST_HEAD_BYTES = 32 * 1024


def _unstorable_in_json(document: Any) -> str | None:
    # Iterative: a deeply nested body must not exhaust the interpreter's stack.
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found = unstorable_character(value)
            if found:
                return found
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None


def _is_json(content_type: str) -> bool:
    # FastAPI parses a body without a content type as JSON too.
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "" or media == "application/json" or media.endswith("+json")


class InputGuard:
    """ASGI middleware: 431 for oversized headers, 414 for a long query string, 413 for a
    JSON body over `max_json_bytes`, 422 for text no database can store."""

    def __init__(self, app: ASGIApp, *, max_json_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if sum(len(name) + len(value) + 4 for name, value in headers) > MAX_HEADER_BYTES:
            await self._refuse(
                scope,
                receive,
                send,
                431,
                f"The request headers are larger than {MAX_HEADER_BYTES // 1024} KB.",
                "headers-too-large",
            )
            return
        query: bytes = scope.get("query_string", b"")
        if len(query) > MAX_QUERY_BYTES:
            await self._refuse(
                scope,
                receive,
                send,
                414,
                f"The query string is longer than {MAX_QUERY_BYTES} bytes.",
                "query-too-long",
            )
            return
        for where, text in (
            ("path", scope["path"]),
            ("query string", unquote(query.decode("latin-1"), errors="replace")),
        ):
            found = unstorable_character(text)
            if found:
                await self._unstorable(scope, receive, send, where, found)
                return
        content_type = dict(headers).get(b"content-type", b"").decode("latin-1")
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or content_type.lower().startswith(
            "multipart/form-data"
        ):
            await self.app(scope, receive, send)
            return
        body, too_large = await self._read_body(receive)
        if too_large:
            await self._refuse(
                scope,
                receive,
                send,
                413,
                f"The request body is larger than {self.max_json_bytes} bytes, the most a "
                "JSON request may carry.",
                "request-too-large",
            )
            return
        if body and _is_json(content_type):
            try:
                found = _unstorable_in_json(json.loads(body))
            except RecursionError:
                await self._refuse(
                    scope, receive, send, 422, "The JSON body is nested too deeply.", "bad-json"
                )
                return
            except ValueError:
                found = None  # not JSON: the route's own validation answers
            if found:
                await self._unstorable(scope, receive, send, "JSON body", found)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_json_bytes:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _unstorable(
        self, scope: Scope, receive: Receive, send: Send, where: str, character: str
    ) -> None:
        await self._refuse(
            scope,
            receive,
            send,
            422,
            f"The request's {where} contains {describe(character)}, which cannot be stored; "
            "remove it and send the request again.",
            "invalid-request",
        )

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, detail: str, slug: str
    ) -> None:
        await problem(status, detail, slug=slug)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
