"""The front page: where each kind of visitor starts."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from cpl_service.web.deps import Viewer
from cpl_service.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute)


@router.get("/")
def home(request: Request, viewer: Viewer) -> Response:
    return render(request, "home.html")
