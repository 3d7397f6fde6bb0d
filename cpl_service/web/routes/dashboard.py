"""The SECAS dashboard: CPA end dates ahead, certificates in their notice windows, the
notices outbox, the last extracts and their DCC state, and a button to publish the next."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request, Response
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
from cpl_service.errors import ConflictError
from cpl_service.extracts import service as extracts
from cpl_service.extracts.models import DccStatus
from cpl_service.extracts.overview import recent_extracts
from cpl_service.idempotency import service as idempotency
from cpl_service.notices import service as notices
from cpl_service.notices.models import NoticeStatus
from cpl_service.notices.windows import certificates_in_windows
from cpl_service.web.charts import Series, stacked_bars_svg
from cpl_service.web.deps import CheckedForm, SecasPerson
from cpl_service.web.pages import PageRoute, error_page, redirect, render

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
        "publish_key": publish_key(),
        "month_label": month_label,
    }
    return render(request, "dashboard.html", context)


# What makes two clicks of one publish button "the same request" for the idempotency keys.
PUBLISH_FINGERPRINT = idempotency.fingerprint("POST", "/dashboard/publish", b"")


def publish_key() -> str:
    """A fresh key for one rendering of the publish button (the form sends it back)."""
    return secrets.token_urlsafe(18)


@router.post("/dashboard/publish")
def publish(
    request: Request,
    _form: CheckedForm,
    person: SecasPerson,
    background: BackgroundTasks,
    engine: EngineDep,
    session: SessionDep,
    settings: SettingsDep,
    cache: HotCacheDep,
    signer: SignerDep,
    key: Annotated[str, Form(min_length=1, max_length=100)],
) -> Response:
    """Publish once per rendering of the button: a second click (or a resent form) shows the
    extract the first one published, and never publishes another; while the first is still
    running, the second gets a 409 page saying so."""
    assert person.party.id is not None
    try:
        claim = idempotency.claim(
            session=session,
            party_id=person.party.id,
            key=f"page:dashboard-publish:{key}",
            request_sha256=PUBLISH_FINGERPRINT,
        )
    except ConflictError:
        return error_page(
            request,
            409,
            "This publish button was already pressed and its extract is still being "
            "published; nothing more was published. Reload the dashboard to see it.",
        )
    record_id = claim.record.id
    assert record_id is not None
    if claim.outcome is idempotency.Outcome.REPLAY:
        return redirect(f"/dashboard?published={int(claim.record.body or b'0')}")
    try:
        # The API's own publishing route, called as a function: the same signer, notice
        # hook, cache invalidation and compression as `POST /api/v1/extracts`, written once.
        extract = extracts_api.publish_extract(
            background=background,
            engine=engine,
            settings=settings,
            cache=cache,
            secas=person.party,
            actor=person.actor,
            signer=signer,
        )
    except BaseException:
        idempotency.release(session=session, record_id=record_id)
        raise
    idempotency.complete(
        session=session,
        record_id=record_id,
        status_code=303,
        content_type="text/plain",
        body=str(extract.sequence).encode(),
    )
    # FastAPI runs `background` (the compression) after this answer is sent.
    return redirect(f"/dashboard?published={extract.sequence}")
