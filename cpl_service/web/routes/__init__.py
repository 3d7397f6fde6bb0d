"""Every page router; `web.install` adds them to the app."""

from fastapi import APIRouter

from cpl_service.web.routes import account, certificates, home, review

PAGE_ROUTERS: list[APIRouter] = [
    home.router,
    account.router,
    review.router,
    certificates.router,
]
