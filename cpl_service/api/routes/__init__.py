"""Every API router; `main.create_app` mounts them under /api/v1."""

from fastapi import APIRouter

from cpl_service.api.routes import specifications

ROUTERS: list[APIRouter] = [specifications.router]
