"""Every page router; `web.install` adds them to the app."""

from fastapi import APIRouter

from cpl_service.web.routes import account, certificates, dashboard, home, review, submit

PAGE_ROUTERS: list[APIRouter] = [
    home.router,
    account.router,
    dashboard.router,
    submit.router,
    review.router,
    certificates.router,
]
