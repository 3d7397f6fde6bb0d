"""The public CPL pages (no sign-in): search and filter the list, and one entry's page.

They show what `GET /api/v1/cpl` shows and nothing more: the listing is the same
`publication.service.list_cpl`, an entry's facts are `listed_entry` (the SPEC §6 fields
and `removal_proposed`), and its history is `public_history` — dates, statuses, Panel
decision references and the acting party, never a person, an email or a token.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from cpl_service.api.deps import SessionDep
from cpl_service.api.params import EntryIdPath
from cpl_service.devices import BY_CODE, DEVICE_TYPES
from cpl_service.entries.service import history
from cpl_service.errors import InvalidInputError
from cpl_service.extracts.rows import STATUS_WORDS
from cpl_service.publication import service
from cpl_service.publication.rows import listed_entry, public_history
from cpl_service.web.deps import Viewer
from cpl_service.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 50
# Far more pages than any list has; keeps the offset a database integer.
MAX_PAGE = 100_000

Text = Annotated[str, Query(max_length=200)]


def page_link(query: dict[str, str], page: int) -> str:
    """`/cpl` with the same search and filters, at `page`."""
    kept = {key: value for key, value in query.items() if value}
    if page > 1:
        kept["page"] = str(page)
    return "/cpl" + (f"?{urlencode(kept)}" if kept else "")


@router.get("/cpl")
def cpl_page(
    request: Request,
    session: SessionDep,
    _viewer: Viewer,
    q: Text = "",
    device_type: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    manufacturer_id: Annotated[str, Query(max_length=4)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    query = {
        "q": q.strip(),
        "device_type": device_type.strip(),
        "status": status.strip(),
        "manufacturer_id": manufacturer_id.strip(),
    }
    context: dict[str, Any] = {
        "query": query,
        "device_types": DEVICE_TYPES,
        "device_names": {code: kind.name for code, kind in BY_CODE.items()},
        "statuses": list(STATUS_WORDS.values()),
    }
    try:
        filters = service.make_filter(**query)
    except InvalidInputError as exc:
        context.update(error=exc.detail, items=[], total=0, page=1, pages=0)
        return render(request, "cpl.html", context, status_code=422)
    found = service.list_cpl(
        session=session, filters=filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    total: int = found["total"]
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    context.update(
        items=found["items"],
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1,
        previous_link=page_link(query, page - 1) if page > 1 else None,
        next_link=page_link(query, page + 1) if page < pages else None,
        first_link=page_link(query, 1),
    )
    return render(request, "cpl.html", context)


@router.get("/cpl/entries/{entry_id}")
def cpl_entry_page(
    request: Request, session: SessionDep, _viewer: Viewer, entry_id: EntryIdPath
) -> Response:
    entry = service.listed_by_id(session=session, entry_id=entry_id)
    facts = listed_entry(entry)
    context = {
        "entry": facts,
        "device_name": BY_CODE[entry.physical_device_type].name
        if entry.physical_device_type in BY_CODE
        else entry.physical_device_type,
        "events": public_history(history(session=session, entry=entry)),
    }
    return render(request, "cpl_entry.html", context)
