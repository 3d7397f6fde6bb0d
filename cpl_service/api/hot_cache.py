"""A few seconds of memory for the DCC's polling route.

`GET /extracts/latest` is polled: answering it from memory keeps it as cheap as the health
check. Only two facts are kept, each briefly: which role a token hash belongs to, and which
extract is the newest. Payload bytes never change once published, so serving a cached
payload is always right; a newly published extract shows up in this process at once
(publishing clears the cache) and in other server processes within `LATEST_TTL_SECONDS`.
A revoked or expired token is refused by this process at once (revoking clears its entry)
and by other server processes within `ROLE_TTL_SECONDS`: that is the documented bound.
"""

from __future__ import annotations

import threading
import time
from typing import Any

ROLE_TTL_SECONDS = 5.0  # the longest a revoked token still reads the latest extract
LATEST_TTL_SECONDS = 1.0


class HotCache:
    """A tiny thread-safe map whose entries expire."""

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
