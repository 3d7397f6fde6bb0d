"""Path and query parameters every route shares, bounded to what the database can hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# Every id and sequence column is a 32-bit integer on PostgreSQL; larger numbers never
# reach the database, they are a 422 like any other invalid parameter.
MAX_DB_INTEGER = 2**31 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INTEGER, description="A numeric ID (1 to 2^31-1)")]
SequencePath = Annotated[
    int, Path(ge=1, le=MAX_DB_INTEGER, description="An extract's sequence number")
]
EntryIdPath = Annotated[
    str, Path(min_length=1, max_length=20, description="A CPL entry ID, e.g. CPL-000123")
]
Offset = Annotated[
    int, Query(ge=0, le=MAX_DB_INTEGER, description="How many items to skip (0 to 2^31-1)")
]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_INTEGER)]
