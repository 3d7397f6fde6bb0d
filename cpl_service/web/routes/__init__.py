"""Every page router; `web.install` adds them to the app."""

from fastapi import APIRouter

from cpl_service.web.routes import account, dashboard, home, submit

PAGE_ROUTERS: list[APIRouter] = [
    home.router,
    account.router,
    dashboard.router,
    submit.router,
]
