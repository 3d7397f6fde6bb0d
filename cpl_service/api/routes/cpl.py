"""The public CPL: JSON listing, CSV and XLSX downloads (no token needed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel

from cpl_service.api.deps import EngineDep, SessionDep, SettingsDep
from cpl_service.api.encoding import gzip_if_accepted
from cpl_service.api.params import Offset
from cpl_service.clock import utcnow
from cpl_service.publication import exports, service

router = APIRouter(tags=["public CPL"])

_CHUNK = 64 * 1024


class CplPage(BaseModel):
    """One page of the public CPL; each item has the SPEC §6 fields and `removal_proposed`."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


@router.get("/cpl", response_model=CplPage)
def list_cpl(
    session: SessionDep,
    status: Annotated[
        str | None, Query(description="Active, Expired, Cancelled or Withdrawn")
    ] = None,
    device_type: Annotated[str | None, Query(description="Physical Device Type code")] = None,
    manufacturer_id: Annotated[str | None, Query(description="4 hex digits")] = None,
    q: Annotated[str | None, Query(max_length=200, description="free-text search")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = service.DEFAULT_LIMIT,
    offset: Offset = 0,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """Every entry ever made Active, with its current status, sorted by entry ID."""
    filters = service.make_filter(
        status=status, device_type=device_type, manufacturer_id=manufacturer_id, q=q
    )
    page = service.list_cpl(session=session, filters=filters, limit=limit, offset=offset)
    # A page of 1,000 entries is some 700 kB of JSON and a fifth of that gzipped.
    body, headers = gzip_if_accepted(CplPage(**page).model_dump_json().encode(), accept_encoding)
    return Response(body, media_type="application/json", headers=headers)


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _file_stream(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := handle.read(_CHUNK):
            yield chunk
    finally:
        handle.close()


@router.get("/cpl.csv", response_class=StreamingResponse)
def download_csv(engine: EngineDep) -> StreamingResponse:
    """The public CPL as CSV (UTF-8 with a byte-order mark, so Excel reads it right)."""
    return StreamingResponse(
        exports.stream_csv(engine),
        media_type=exports.CSV_MEDIA_TYPE,
        headers=_attachment("cpl.csv"),
    )


@router.get("/cpl.xlsx", response_class=FileResponse)
def download_xlsx(session: SessionDep, settings: SettingsDep) -> FileResponse:
    """The public CPL as a workbook: sheets CPL, Changes (since the last extract), About."""
    path = exports.cached_xlsx(session=session, cache_dir=settings.data_dir / "cache", now=utcnow())
    return FileResponse(path, media_type=exports.XLSX_MEDIA_TYPE, headers=_attachment("cpl.xlsx"))
