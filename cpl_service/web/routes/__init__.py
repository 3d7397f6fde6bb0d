"""Every page router; `web.install` adds them to the app."""

from fastapi import APIRouter

from cpl_service.web.routes import (
    account,
    certificates,
    dashboard,
    extracts,
    home,
    public,
    review,
    submit,
)

PAGE_ROUTERS: list[APIRouter] = [
    home.router,
    account.router,
    dashboard.router,
    submit.router,
    review.router,
    certificates.router,
    public.router,
    extracts.router,
]
