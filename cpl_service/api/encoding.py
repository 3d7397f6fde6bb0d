"""Content negotiation of the response encoding (RFC 9110 §12.5.3, Accept-Encoding)."""

from __future__ import annotations

import gzip
from functools import lru_cache

GZIP = "gzip"


@lru_cache(maxsize=256)  # polling clients send the same few header values again and again
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether a client sending this `Accept-Encoding` header may be answered with gzip.

    `gzip` (or its alias `x-gzip`) with a non-zero weight says yes; otherwise `*` with a
    non-zero weight does; `q=0` refuses. A weight that is not a number refuses too:
    identity is always a safe answer.
    """
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        weight = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if coding == "x-gzip":
            coding = GZIP
        weights[coding] = max(weight, weights.get(coding, 0.0))
    if GZIP in weights:
        return weights[GZIP] > 0
    return weights.get("*", 0.0) > 0


# Below this a gzip body saves too little to be worth the work.
GZIP_MIN_BYTES = 1024


def gzip_if_accepted(body: bytes, accept_encoding: str | None) -> tuple[bytes, dict[str, str]]:
    """`body` and the headers to send it with: gzipped (level 6) when the client accepts
    gzip and the body is large enough, otherwise as it is; `Vary` either way."""
    headers = {"Vary": "Accept-Encoding"}
    if len(body) < GZIP_MIN_BYTES or not accepts_gzip(accept_encoding):
        return body, headers
    headers["Content-Encoding"] = GZIP
    return gzip.compress(body, compresslevel=6, mtime=0), headers
