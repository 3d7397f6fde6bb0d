"""Settings, read from `CPL_` environment variables through `get_settings()`."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where `cpl-service serve` listens by default.
DEVELOPMENT_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    """Every setting of the service; each maps to a `CPL_` environment variable."""

    model_config = SettingsConfigDict(env_prefix="CPL_", env_file=None, extra="ignore")

    data_dir: Path = Path("./cpl-data")
    database_url: str | None = None

    # A key file, or a `pkcs11:` URI (kept as text: a URI is not a path).
    signing_key: Path | str | None = None
    signing_key_password: SecretStr | None = None
    signing_chain: Path | None = None
    pkcs11_module: Path | None = None
    # Earlier signers' chain files, separated like PATH (os.pathsep), during a rotation.
    signing_previous_chains: str | None = None

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "cpl@secas.example"
    secas_email: str = "secas@secas.example"

    extract_validity_days: int = 30
    extract_ack_hours: int = 24

    max_upload_bytes: int = 10 * 1024 * 1024
    max_rows: int = 20_000
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_document_bytes: int = 10 * 1024 * 1024
    max_request_bytes: int = 120 * 1024 * 1024
    max_json_bytes: int = 64 * 1024

    # Where people reach the service, e.g. https://cpl.secas.example: every link in an email
    # is built from it. Unset, emails say in words where to look.
    public_url: str | None = None
    session_idle_minutes: int = 30
    session_max_hours: int = 12

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        text = (value or "").strip()
        if not text:
            return None
        scheme, _, rest = text.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.strip("/"):
            raise ValueError(
                f"CPL_PUBLIC_URL must be an absolute http(s) URL such as "
                f"https://cpl.secas.example, not {text!r}"
            )
        return text.rstrip("/")

    @property
    def site_url(self) -> str:
        """`public_url`, or the development server's address when it is not set."""
        return self.public_url or DEVELOPMENT_URL

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cpl.sqlite3').resolve()}"

    @property
    def signing_previous_chain_paths(self) -> tuple[Path, ...]:
        text = self.signing_previous_chains or ""
        return tuple(Path(p) for p in text.split(os.pathsep) if p.strip())

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def dev_pki_dir(self) -> Path:
        return self.data_dir / "dev-pki"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
