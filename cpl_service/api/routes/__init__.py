"""Every API router; `main.create_app` mounts them under /api/v1."""

from fastapi import APIRouter

from cpl_service.api.routes import (
    audit,
    certificates,
    cpl,
    entries,
    extracts,
    notices,
    people,
    session,
    specifications,
    submissions,
    template,
    tokens,
)

ROUTERS: list[APIRouter] = [
    template.router,
    specifications.router,
    submissions.router,
    entries.router,
    certificates.router,
    extracts.router,
    notices.router,
    cpl.router,
    tokens.router,
    people.router,
    session.router,
    audit.router,
]
