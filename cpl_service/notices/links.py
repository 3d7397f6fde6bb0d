"""Where a notice sends its reader: an absolute link under `CPL_PUBLIC_URL`, or words.

Every email names pages and downloads through `link()`, so none carries a bare path such as
`/cpl`, which a mail reader cannot open. Without a public URL (`CPL_PUBLIC_URL` unset) the
service does not know its own address, so the email says in words where to look instead.
The page paths are those the web pages serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Place:
    """A page or download of the service: its path, and how to find it without a link."""

    path: str
    words: str


def link(place: Place, *, public_url: str | None) -> str:
    """The absolute URL of `place` under `public_url`, or, with none, words saying where it is.

    `public_url` may carry a path prefix (`https://example.org/cpl-service`); it is kept.
    """
    if not public_url or not public_url.strip():
        return place.words
    return public_url.strip().rstrip("/") + place.path


def is_url(text: str) -> bool:
    """True when `link()` gave a URL rather than words."""
    return text.startswith(("https://", "http://"))


def submission_page(submission_id: int) -> Place:
    """A submitter's page of one submission, with its entries and their outcome."""
    return Place(
        f"/submissions/{submission_id}",
        f"submission {submission_id} under Submissions, when you sign in to the CPL service",
    )


def firmware_updates_page() -> Place:
    """The supplier's list of manufacturers' firmware updates awaiting its confirmation."""
    return Place(
        "/firmware-updates",
        "Firmware updates awaiting confirmation, when you sign in to the CPL service",
    )


def cpl_search_page() -> Place:
    """The public CPL, searchable, with its CSV and Excel downloads."""
    return Place("/cpl", "the public CPL page of the CPL service (no sign-in needed)")


def cpl_entry_page(entry_id: str) -> Place:
    """One entry's public page, by the entry ID `GET /api/v1/entries/{entry_id}` takes."""
    return Place(
        f"/cpl/entries/{entry_id}",
        f"search for {entry_id} on the public CPL page of the CPL service",
    )


def review_queue_page() -> Place:
    """SECAS's review queue."""
    return Place("/review", "the review queue, when you sign in to the CPL service")


def extracts_page() -> Place:
    """The DCC's and SECAS's list of published extracts."""
    return Place("/extracts", "Extracts, when you sign in to the CPL service")


def cpl_download(extension: Literal["csv", "xlsx"]) -> Place:
    """The public CPL as a file: CSV or Excel."""
    name = "CSV" if extension == "csv" else "Excel"
    return Place(
        f"/api/v1/cpl.{extension}",
        f"the {name} download on the public CPL page of the CPL service",
    )
