"""A small tampering HTTP proxy in front of a real `cpl-service serve`, for attack tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

FORWARDED_REQUEST_HEADERS = ("authorization", "if-none-match", "content-type", "accept")
FORWARDED_RESPONSE_HEADERS = ("content-type", "etag", "x-cpl-sequence")


@dataclass
class Reply:
    """An HTTP answer the proxy sends (or `drop`: close the connection without one)."""

    status: int
    headers: dict[str, str]
    body: bytes
    drop: bool = False


Rule = Callable[[str, str, Reply], Reply]


@dataclass
class Proxy:
    """Forwards to `upstream`; `rule(method, path, reply)` may change or drop each reply.

    Attributes:
        upstream: The real server's base URL.
        url: The proxy's base URL.
        rule: The tampering, or None to pass everything through.
        seen: Every request, as "METHOD PATH".
    """

    upstream: str
    url: str = ""
    rule: Rule | None = None
    seen: list[str] = field(default_factory=list)

    def fetch(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Reply:
        answer = httpx.request(
            method, self.upstream + path, headers=headers, content=body, timeout=30
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() in FORWARDED_RESPONSE_HEADERS}
        return Reply(answer.status_code, kept, answer.content)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")

    def _forward(self, method: str) -> None:
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
        proxy.seen.append(f"{method} {self.path}")
        reply = proxy.fetch(method, self.path, headers, body)
        if proxy.rule is not None:
            reply = proxy.rule(method, self.path, reply)
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    proxy: Proxy


@contextmanager
def tampering_proxy(upstream: str) -> Iterator[Proxy]:
    """A proxy to `upstream` on a free local port; set `.rule` to tamper."""
    server = _Server(("127.0.0.1", 0), _Handler)
    proxy = Proxy(upstream=upstream, url=f"http://127.0.0.1:{server.server_address[1]}")
    server.proxy = proxy
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
