"""Accept-Encoding negotiation, as a pure function."""

from __future__ import annotations

import gzip

import pytest

from cpl_service.api.encoding import GZIP_MIN_BYTES, accepts_gzip, gzip_if_accepted


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZip", True),
        ("x-gzip", True),
        ("gzip, deflate, br", True),
        ("deflate, br", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("gzip;q=0.001", True),
        ("gzip;q=1.0, identity;q=0.5", True),
        ("*", True),
        ("*;q=0", False),
        ("br, *;q=0.1", True),
        ("gzip;q=0, *", False),  # an explicit refusal beats the wildcard
        ("gzip;q=zero", False),  # a weight that is not a number refuses
        (" , gzip ,", True),
        ("gzip;level=1;q=0.5", True),
    ],
)
def test_accepts_gzip(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_gzip_if_accepted_compresses_large_bodies_only() -> None:
    large = b'{"entries":[' + b'{"a":"b"},' * GZIP_MIN_BYTES + b"]}"
    body, headers = gzip_if_accepted(large, "gzip")
    assert headers == {"Vary": "Accept-Encoding", "Content-Encoding": "gzip"}
    assert gzip.decompress(body) == large
    assert gzip_if_accepted(large, "identity") == (large, {"Vary": "Accept-Encoding"})
    small = b"{}"
    assert gzip_if_accepted(small, "gzip") == (small, {"Vary": "Accept-Encoding"})
