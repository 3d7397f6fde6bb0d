"""LibreOffice Calc, headless, for the tests that need a real spreadsheet program.

`soffice` comes from Debian's `libreoffice-calc-nogui` (`scripts/test` installs it when
missing). A test that needs it fails, naming the install command, rather than skipping: a
spreadsheet check nobody evaluated must not pass for an evaluated one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL = "apt-get update && apt-get install -y --no-install-recommends libreoffice-calc-nogui"
# Starting LibreOffice takes seconds, more on a busy machine.
TIMEOUT_SECONDS = 300


def soffice() -> str:
    """The `soffice` command; fails the test when LibreOffice is not installed."""
    found = shutil.which("soffice")
    if found is None:
        pytest.fail(f"soffice is not installed; install it with: {INSTALL}", pytrace=False)
    return found


def convert(workbook: bytes, directory: Path, *, to: str = "xlsx") -> bytes:
    """The workbook opened and saved again by LibreOffice Calc, as a `to` file.

    Opening computes every formula that has no stored result (openpyxl stores none), so the
    saved file holds the values LibreOffice calculated. Each call runs its own LibreOffice
    with its own profile in `directory`, so tests may run at the same time.

    Args:
        workbook: the .xlsx bytes.
        directory: an empty directory for the profile, the input and the output.
        to: the format to save in (`xlsx`, `ods`, `csv`).

    Returns:
        The saved file's bytes.
    """
    source = directory / "book.xlsx"
    source.write_bytes(workbook)
    out = directory / "out"
    command = [
        soffice(),
        f"-env:UserInstallation={(directory / 'profile').as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        to,
        "--outdir",
        str(out),
        str(source),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    result = out / f"book.{to}"
    assert done.returncode == 0 and result.is_file(), (
        f"soffice failed ({done.returncode}): {done.stdout} {done.stderr}"
    )
    return result.read_bytes()
