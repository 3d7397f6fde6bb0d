"""The DCC's extract pages: the list with downloads, one extract, and its acknowledgement.

The same roles as the API: DCC and SECAS people see extracts (`GET /api/v1/extracts`),
only DCC people acknowledge one (`POST /api/v1/extracts/{n}/acknowledgement`), through
the same `extracts.service` functions; *overdue* is `service.dcc_status` with the
configured acknowledgement window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response

from cpl_service.api.deps import AcknowledgementNotice, SessionDep, SettingsDep
from cpl_service.api.params import SequencePath
from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.errors import InvalidInputError
from cpl_service.extracts import service
from cpl_service.extracts.models import DccStatus, Extract
from cpl_service.parties.models import Role
from cpl_service.web.deps import CheckedForm, DccOrSecasPerson, DccPerson
from cpl_service.web.pages import PageRoute, redirect, render

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 25
MAX_PAGE = 100_000


def _row(extract: Extract, *, now: datetime, settings: Settings, by: str | None) -> dict[str, Any]:
    return {
        "extract": extract,
        "status": service.dcc_status(extract, now=now, ack_hours=settings.extract_ack_hours),
        "by": by,
    }


@router.get("/extracts")
def extracts_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _person: DccOrSecasPerson,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    extracts, total = service.list_extracts(
        session=session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    by = service.acknowledged_by(session=session, sequences=[e.sequence for e in extracts])
    now = utcnow()
    rows = [_row(e, now=now, settings=settings, by=by.get(e.sequence)) for e in extracts]
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    context = {
        "rows": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "overdue": [r for r in rows if r["status"] == DccStatus.OVERDUE],
        "ack_hours": settings.extract_ack_hours,
        "previous_link": f"/extracts?page={page - 1}" if page > 1 else None,
        "next_link": f"/extracts?page={page + 1}" if page < pages else None,
    }
    return render(request, "extracts.html", context)


def _detail(
    request: Request,
    session: SessionDep,
    settings: Settings,
    person: DccOrSecasPerson,
    sequence: int,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    acknowledged: str | None = None,
) -> Response:
    extract = service.get_extract(session=session, sequence=sequence)
    by = service.acknowledged_by(session=session, sequences=[sequence]).get(sequence)
    row = _row(extract, now=utcnow(), settings=settings, by=by)
    context = {
        **row,
        "ack_hours": settings.extract_ack_hours,
        "may_acknowledge": person.role == Role.DCC,
        "pending": extract.dcc_status == DccStatus.PENDING,
        "error": error,
        "form": form or {},
        "acknowledged": acknowledged,
    }
    return render(request, "extract.html", context, status_code=422 if error else 200)


@router.get("/extracts/{sequence}")
def extract_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    person: DccOrSecasPerson,
    sequence: SequencePath,
    acknowledged: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    shown = acknowledged if acknowledged in ("loaded", "rejected") else None
    return _detail(request, session, settings, person, sequence, acknowledged=shown)


@router.post("/extracts/{sequence}/acknowledgement")
def acknowledge_extract(
    request: Request,
    _form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
    notify: AcknowledgementNotice,
    person: DccPerson,
    sequence: SequencePath,
    status: Annotated[str, Form(max_length=20)] = "",
    detail: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        service.acknowledge(
            session=session,
            sequence=sequence,
            status=status,
            detail=detail.strip() or None,
            now=utcnow(),
            notify=notify,
            actor=person.actor,
        )
    except InvalidInputError as exc:
        form = {"status": status, "detail": detail}
        return _detail(request, session, settings, person, sequence, error=exc.detail, form=form)
    return redirect(f"/extracts/{sequence}?acknowledged={status}")
