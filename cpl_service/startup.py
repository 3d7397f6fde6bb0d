"""What `serve` does before it listens: migrate, and make sure a signer is ready."""

from __future__ import annotations

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.db import make_engine, upgrade
from cpl_service.signing.config import LoadedSigner, signer_from_settings


def load_signer(settings: Settings) -> LoadedSigner:
    """The configured signer, or a development one under the data directory."""
    return signer_from_settings(settings, now=utcnow())


def prepare(settings: Settings) -> LoadedSigner:
    """Apply migrations and check the signing key (creating a development one if unset).

    Raises the signing package's configuration error when the key is unusable, so `serve`
    refuses to start rather than publishing extracts nobody can verify.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(make_engine(settings))
    return load_signer(settings)
