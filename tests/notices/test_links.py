"""Links in emails: absolute under CPL_PUBLIC_URL, or words; never a bare path."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cpl_service.config import DEVELOPMENT_URL, Settings
from cpl_service.notices import links

PLACES = [
    (links.submission_page(42), "/submissions/42"),
    (links.firmware_updates_page(), "/firmware-updates"),
    (links.cpl_search_page(), "/cpl"),
    (links.cpl_entry_page("CPL-000007"), "/cpl/entries/CPL-000007"),
    (links.review_queue_page(), "/review"),
    (links.extracts_page(), "/extracts"),
    (links.cpl_download("csv"), "/api/v1/cpl.csv"),
    (links.cpl_download("xlsx"), "/api/v1/cpl.xlsx"),
]


@pytest.mark.parametrize(("place", "path"), PLACES)
def test_every_page_has_the_agreed_path(place: links.Place, path: str) -> None:
    assert place.path == path


@pytest.mark.parametrize(("place", "path"), PLACES)
@pytest.mark.parametrize(
    ("public_url", "base"),
    [
        ("https://cpl.secas.example", "https://cpl.secas.example"),
        ("https://cpl.secas.example/", "https://cpl.secas.example"),
        ("  http://10.0.0.5:8000//  ", "http://10.0.0.5:8000"),
        ("https://secas.example/cpl-service", "https://secas.example/cpl-service"),
    ],
)
def test_with_a_public_url_a_link_is_absolute(
    place: links.Place, path: str, public_url: str, base: str
) -> None:
    url = links.link(place, public_url=public_url)
    assert url == base + path
    assert links.is_url(url)


@pytest.mark.parametrize(("place", "path"), PLACES)
@pytest.mark.parametrize("public_url", [None, "", "   "])
def test_without_a_public_url_a_link_is_words_never_a_path(
    place: links.Place, path: str, public_url: str | None
) -> None:
    words = links.link(place, public_url=public_url)
    assert words == place.words
    assert not links.is_url(words)
    assert path not in words and "/" not in words
    assert "CPL service" in words


def test_the_words_name_what_they_point_at() -> None:
    assert "submission 42" in links.link(links.submission_page(42), public_url=None)
    assert "CPL-000007" in links.link(links.cpl_entry_page("CPL-000007"), public_url=None)
    assert "CSV" in links.link(links.cpl_download("csv"), public_url=None)
    assert "Excel" in links.link(links.cpl_download("xlsx"), public_url=None)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("https://cpl.secas.example/", "https://cpl.secas.example"),
        (" HTTPS://cpl.secas.example ", "HTTPS://cpl.secas.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("", None),
        ("  ", None),
    ],
)
def test_the_setting_keeps_an_absolute_url(value: str, stored: str | None) -> None:
    assert Settings(public_url=value).public_url == stored


@pytest.mark.parametrize(
    "value", ["cpl.secas.example", "/cpl", "ftp://cpl.secas.example", "https://", "https:///"]
)
def test_the_setting_refuses_anything_but_an_absolute_http_url(value: str) -> None:
    with pytest.raises(ValidationError, match="CPL_PUBLIC_URL"):
        Settings(public_url=value)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPL_PUBLIC_URL", "https://cpl.secas.example/")
    assert Settings().public_url == "https://cpl.secas.example"
    monkeypatch.delenv("CPL_PUBLIC_URL")
    unset = Settings()
    # Unset: emails use words; set-password links and cookies assume the development server.
    assert unset.public_url is None and unset.site_url == DEVELOPMENT_URL
