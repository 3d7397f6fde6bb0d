"""The SECAS dashboard: CPA end dates ahead, certificates in their notice windows, the
notices outbox, the last extracts and their DCC state, and a button to publish the next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from markupsafe import Markup

from cpl_service.api.deps import (
    EngineDep,
    HotCacheDep,
    SessionDep,
    SettingsDep,
    SignerDep,
)
from cpl_service.api.routes import extracts as extracts_api
from cpl_service.clock import utcnow
from cpl_service.devices import BY_CODE, DEVICE_TYPES
from cpl_service.entries.cpa_calendar import CpaEndCalendar, listed_cpa_ends
from cpl_service.extracts import service as extracts
from cpl_service.extracts.models import DccStatus
from cpl_service.extracts.overview import recent_extracts
from cpl_service.notices import service as notices
from cpl_service.notices.models import NoticeStatus
from cpl_service.notices.windows import certificates_in_windows
from cpl_service.web.charts import Series, stacked_bars_svg
from cpl_service.web.deps import CheckedForm, SecasPerson
from cpl_service.web.pages import PageRoute, redirect, render

router = APIRouter(route_class=PageRoute)

LAST_EXTRACTS = 5
LAST_FAILURES = 5
CHART_ID = "cpa-ends"
# Each device type keeps its colour and pattern whichever others are on the chart.
LOOKS = {t.code: i for i, t in enumerate(DEVICE_TYPES)}


def device_type_label(code: str) -> str:
    known = BY_CODE.get(code)
    return f"{known.name} ({code})" if known else code


def month_label(month: date) -> str:
    return month.strftime("%b %Y")


@dataclass(frozen=True)
class EndsChart:
    """The CPA end-date calendar as the page shows it: a chart and the same figures."""

    calendar: CpaEndCalendar
    svg: Markup
    labels: dict[str, str]


def ends_chart(calendar: CpaEndCalendar) -> EndsChart:
    labels = {t: device_type_label(t) for t in calendar.device_types}
    first, last = calendar.months[0], calendar.months[-1]
    span = f"{month_label(first)} to {month_label(last)}"
    description = (
        f"Stacked bars, one per month from {span}: how many listed Device Models' CPA "
        f"certificates end that month, split by Physical Device Type. "
        f"{calendar.in_horizon} in all; the table below gives every figure."
    )
    svg = stacked_bars_svg(
        chart_id=CHART_ID,
        title=f"CPA end dates of listed Device Models, {span}",
        description=description,
        categories=[month_label(m) for m in calendar.months],
        series=[
            Series(
                labels[t],
                [calendar.counts[m][t] for m in calendar.months],
                look=LOOKS.get(t),
            )
            for t in calendar.device_types
        ],
    )
    return EndsChart(calendar=calendar, svg=svg, labels=labels)


@router.get("/dashboard")
def dashboard(
    request: Request,
    _person: SecasPerson,
    session: SessionDep,
    settings: SettingsDep,
    published: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    now = utcnow()
    today = now.date()
    outbox = notices.list_notices(
        session=session, status=NoticeStatus.FAILED, kind=None, limit=LAST_FAILURES, offset=0
    )
    recent = recent_extracts(session=session, limit=LAST_EXTRACTS)
    states = {
        e.sequence: extracts.dcc_status(e, now=now, ack_hours=settings.extract_ack_hours)
        for e in recent
    }
    context = {
        "chart": ends_chart(listed_cpa_ends(session=session, today=today)),
        "windows": certificates_in_windows(session=session, today=today),
        "counts": outbox.counts,
        "failures": outbox.notices,
        "extracts": recent,
        "states": states,
        "overdue": [s for s, state in states.items() if state is DccStatus.OVERDUE],
        "ack_hours": settings.extract_ack_hours,
        "published": published,
        "month_label": month_label,
    }
    return render(request, "dashboard.html", context)


@router.post("/dashboard/publish")
def publish(
    _form: CheckedForm,
    person: SecasPerson,
    background: BackgroundTasks,
    engine: EngineDep,
    settings: SettingsDep,
    cache: HotCacheDep,
    signer: SignerDep,
) -> Response:
    # The API's own publishing route, called as a function: the same signer, notice hook,
    # cache invalidation and compression as `POST /api/v1/extracts`, written once.
    extract = extracts_api.publish_extract(
        background=background,
        engine=engine,
        settings=settings,
        cache=cache,
        secas=person.party,
        actor=person.actor,
        signer=signer,
    )
    # FastAPI runs `background` (the compression) after this answer is sent.
    return redirect(f"/dashboard?published={extract.sequence}")
