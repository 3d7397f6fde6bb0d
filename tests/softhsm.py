"""A real SoftHSM2 token for the PKCS#11 tests, initialised in a temporary directory.

SoftHSM2, `softhsm2-util` and GnuTLS's `certtool` come from Debian (`.ci/run` installs
them when missing). A test that needs them fails, naming the install command, rather than
skipping: a missing HSM must not pass for a tested one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest

INSTALL = "apt-get update && apt-get install -y softhsm2 gnutls-bin"
MODULE_CANDIDATES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
)
PIN = "1234"
SO_PIN = "123456"
TOKEN = "cpl-test"


def require_tool(name: str) -> str:
    """The path of a command the tests need; fails the test when it is missing."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install it with: {INSTALL}", pytrace=False)
    return found


def softhsm_module() -> Path:
    """The SoftHSM2 PKCS#11 module; fails the test when it is not installed."""
    require_tool("softhsm2-util")
    for candidate in MODULE_CANDIDATES:
        if candidate.is_file():
            return candidate
    pytest.fail(f"libsofthsm2.so was not found; install it with: {INSTALL}", pytrace=False)


@dataclass(frozen=True)
class SoftHsm:
    """A SoftHSM2 configuration with its own token directory.

    Attributes:
        conf: The `SOFTHSM2_CONF` file.
        module: The PKCS#11 module.
    """

    conf: Path
    module: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment variables for a subprocess that should see these tokens."""
        return {"SOFTHSM2_CONF": str(self.conf)}

    def init_token(self, label: str, pin: str = PIN) -> None:
        """Initialise a new token (in the next free slot) and let this process see it."""
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                pin,
                "--so-pin",
                SO_PIN,
            ],
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.reload()

    def reload(self) -> None:
        """Re-initialise the module in this process, so it reads the config and tokens anew.

        SoftHSM2 reads `SOFTHSM2_CONF` and its token directory at C_Initialize; the
        module stays loaded for the whole test process, so each test reloads it.
        """
        pkcs11.lib(str(self.module)).reinitialize()


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    """A fresh SoftHSM2 with one initialised token `cpl-test` (user PIN `1234`)."""
    module = softhsm_module()
    tokens = tmp_path / "softhsm-tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    hsm = SoftHsm(conf=conf, module=module)
    hsm.init_token(TOKEN)
    return hsm
