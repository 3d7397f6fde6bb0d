"""The pages in a real browser: Debian's Chromium driven by Playwright, axe-core on every page.

One flow, as the people who use the service would go through it, against a real
`cpl-service serve` on a fresh SQLite database set up with the README's commands. Every page
visited is saved as a full-page screenshot under `test-artifacts/browser/` (ignored by git) and
measured with axe-core: no violation of impact *serious* or *critical* is allowed.

Chromium is `/usr/bin/chromium` (Debian's package; `scripts/test` installs it), never a browser
downloaded by `playwright install`. axe-core is the npm package pinned in
`tests/web/browser/package-lock.json` (`scripts/test` runs `npm ci` there).

axe-core is injected with `page.evaluate(<its source>)`: the pages' Content-Security-Policy
forbids inline scripts, so `add_script_tag` (an inline `<script>`) would be blocked, and
`bypass_csp=True` would measure a page with its CSP off. An evaluated script runs like
DevTools' console — outside the page's CSP — so the page is measured exactly as served.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from cpl_service import cli
from cpl_service.clock import today
from cpl_service.config import Settings
from cpl_service.web.pages import CONTENT_SECURITY_POLICY
from tests.conftest import PASSWORD
from tests.server import running_server
from tests.workbooks import build_workbook, valid_row

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
BLOCKING = ("serious", "critical")
LAPTOP = ViewportSize(width=1280, height=800)

SECAS_EMAIL = "jane@secas.example"
MAKER_EMAIL = "mo@acme.example"
DCC_EMAIL = "dev@dcc.example"
DCC_PASSWORD = "the dcc operator's own secret"
FIRMWARE = "00C0FFEE"  # the new Device Model's firmware version, found on the public page


def run_cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = ""
) -> str:
    """Run `cpl-service ARGV` in this process on `settings`' database; returns what it printed."""
    out = io.StringIO()
    with monkeypatch.context() as m:
        m.setattr(cli, "get_settings", lambda: settings)
        m.setattr(sys, "stdin", io.StringIO(stdin))
        m.setattr(sys, "stdout", out)
        code = cli.main(list(argv))
    assert code == 0, out.getvalue()
    return out.getvalue()


def install_people(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """The parties and people of the flow, made with the README's commands.

    Returns the one-time set-password link `user add` printed for the DCC person.
    """
    for name, role, email in (
        ("SECAS", "secas", "cpl@secas.example"),
        ("Acme Meters", "manufacturer", "cpl@acme.example"),
        ("DCC", "dcc", "smi@dcc.example"),
    ):
        run_cli(settings, monkeypatch, "party", "add", "--name", name, "--role", role,
                "--email", email)  # fmt: skip
    run_cli(settings, monkeypatch, "user", "add", "--party", "SECAS", "--name", "Jane Smith",
            "--email", SECAS_EMAIL, "--admin", "--password-stdin", stdin=PASSWORD)  # fmt: skip
    run_cli(settings, monkeypatch, "user", "add", "--party", "Acme Meters", "--name",
            "Mo Khan", "--email", MAKER_EMAIL, "--password-stdin", stdin=PASSWORD)  # fmt: skip
    printed = run_cli(settings, monkeypatch, "user", "add", "--party", "DCC", "--name",
                      "Dev Patel", "--email", DCC_EMAIL)  # fmt: skip
    link = printed.strip().splitlines()[-1]
    assert "/set-password?token=" in link, printed
    return link[link.index("/set-password") :]


def workbook_rows() -> list[dict[str, Any]]:
    """The manufacturer's Device Models: the first is the one the public looks for; the others
    have CPA certificates ending within 24 months, for the dashboard's chart."""
    rows = [valid_row(**{"Firmware Version": FIRMWARE})]
    for n, (model, device_type, days) in enumerate(
        (
            ("Acme E2", "ESME_SINGLE", 150),
            ("Acme G1", "GSME", 150),
            ("Acme T1", "ESME_TWIN", 280),
            ("Acme G2", "GSME", 400),
            ("Acme P1", "ESME_POLY", 600),
        ),
        start=2,
    ):
        rows.append(
            valid_row(
                **{
                    "Model Name": model,
                    "Model ID": f"{n:04d}",
                    "Physical Device Type": device_type,
                    "DLMS Certificate Number": None if device_type == "GSME" else "DLMS-100",
                    "CPA Certificate Number": f"CPA-{n}00",
                    "CPA Expiry Date": today() + timedelta(days=days),
                }
            )
        )
    return rows


@dataclass
class Tour:
    """A browser page that photographs and measures every page it arrives at."""

    page: Page
    base: str
    axe_source: str
    visited: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    lesser: list[str] = field(default_factory=list)  # moderate or minor: reported, allowed

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def path(self) -> str:
        return self.page.url.removeprefix(self.base)

    def look(self, name: str, *, docs: str | None = None) -> None:
        """Screenshot the page as it is and run axe-core on it.

        `docs` names the README's picture of this page: with `DOCS_SCREENSHOTS` set (see
        `scripts/screenshots`), the laptop-sized view is also saved as `docs/<docs>.png`.
        """
        number = len(self.visited) + 1
        self.visited.append(f"{number:02d} {name}: {self.path()}")
        self.page.screenshot(path=ARTIFACTS / f"{number:02d}-{name}.png", full_page=True)
        if docs and os.environ.get("DOCS_SCREENSHOTS"):
            self.page.screenshot(path=ROOT / "docs" / f"{docs}.png")
        self.page.evaluate(self.axe_source)
        result: dict[str, Any] = self.page.evaluate(
            "axe.run(document, {resultTypes: ['violations']})"
        )
        for violation in result["violations"]:
            if violation["impact"] not in BLOCKING:
                self.lesser.append(f"{name}: {violation['id']} [{violation['impact']}]")
                continue
            nodes = "\n".join(
                f"      {node['target']}: {node.get('failureSummary', '').strip()}"
                f"\n        {node['html'][:300]}"
                for node in violation["nodes"]
            )
            self.violations.append(
                f"{name} ({self.path()}): {violation['id']} [{violation['impact']}] "
                f"{violation['help']}\n{nodes}"
            )

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        expect(self.page.get_by_role("status")).to_contain_text("You are signed out")


def focus_ring(page: Page) -> dict[str, Any]:
    """The focused element's id and its outline as drawn (style, width in px)."""
    ring: dict[str, Any] = page.evaluate(
        """() => {
            const el = document.activeElement;
            const s = getComputedStyle(el);
            const box = el.getBoundingClientRect();
            return {id: el.id, tag: el.tagName, text: el.textContent.trim(),
                    style: s.outlineStyle, width: parseFloat(s.outlineWidth),
                    visible: box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0};
        }"""
    )
    return ring


def assert_focus_visible(page: Page) -> dict[str, Any]:
    ring = focus_ring(page)
    assert ring["visible"], f"the focused element is off screen: {ring}"
    assert ring["style"] != "none" and ring["width"] >= 2, f"no visible focus ring: {ring}"
    return ring


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), (
        "Chromium is missing; scripts/test installs it, or: apt-get install -y chromium"
    )
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield launched
        launched.close()


@pytest.fixture
def axe_source() -> str:
    assert AXE.exists(), (
        "axe-core is missing; scripts/test installs it, or: (cd tests/web/browser && npm ci)"
    )
    return AXE.read_text()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_flow_in_a_real_browser(
    settings: Settings,
    browser: Browser,
    axe_source: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    dcc_link = install_people(settings, monkeypatch)
    rows = workbook_rows()

    with running_server(settings, tmp_path / "serve.log") as base:
        context = browser.new_context(viewport=LAPTOP, locale="en-GB")
        context.set_default_timeout(20_000)
        expect.set_options(timeout=20_000)  # the machine is shared: allow for a slow answer
        tour = Tour(context.new_page(), base, axe_source)
        page = tour.page

        # The public front page, signed out.
        tour.go("/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Central Products List")
        tour.look("home")

        # A manufacturer asks for a private page, is sent to sign in, and signs in with the
        # keyboard alone: Tab reaches the skip link first, then the fields, each with a visible
        # focus ring; Enter submits; the browser comes back to the page it asked for.
        tour.go("/me")
        expect(page).to_have_url(re.compile(r"/sign-in\?next=/me$"))
        tour.look("sign-in")
        page.keyboard.press("Tab")
        skip = assert_focus_visible(page)
        assert skip["text"] == "Skip to content", skip
        tour.look("sign-in-skip-link-focused")
        stops = []
        for _ in range(12):  # the header's links, then the form: each stop shows its focus
            page.keyboard.press("Tab")
            stops.append(assert_focus_visible(page))
            if stops[-1]["id"] == "email":
                break
        assert stops[-1]["id"] == "email", f"Tab never reached the email field: {stops}"
        page.keyboard.type(MAKER_EMAIL)
        page.keyboard.press("Tab")
        assert assert_focus_visible(page)["id"] == "password"
        page.keyboard.type("not the password")
        page.keyboard.press("Enter")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("wrong email or password", ignore_case=True)
        tour.look("sign-in-refused")
        page.get_by_label("Password").focus()
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page).to_have_url(base + "/me")
        expect(page.get_by_text("Acme Meters").first).to_be_visible()
        tour.look("me-manufacturer")

        # A page of another role answers with the 403 page, not a stack trace.
        tour.go("/review")
        expect(page.get_by_text("Error 403")).to_be_visible()
        tour.look("forbidden-review-as-manufacturer")

        # The manufacturer uploads a workbook (built in the template's layout) with an error in
        # row 3 through the file chooser: the report shows it at that row and heading. Then the
        # corrected workbook is accepted, and its submission is listed.
        tour.go("/submit")
        expect(page.get_by_role("heading", level=1)).to_have_text("Submit a workbook")
        tour.look("submit")
        wrong = tmp_path / "acme-e1.xlsx"
        wrong.write_bytes(
            build_workbook([rows[0], {**rows[1], "Manufacturer ID": "ZZ"}, *rows[2:]])
        )
        with page.expect_file_chooser() as chooser:
            page.get_by_label("Workbook", exact=True).click()
        chooser.value.set_files(wrong)
        page.get_by_role("button", name="Upload and check the workbook").click()
        expect(page.get_by_role("alert")).to_contain_text("acme-e1.xlsx was not accepted")
        report = page.get_by_role("table", name=re.compile(r"^Problems in acme-e1\.xlsx"))
        problem = report.get_by_role("row").filter(has_text="Manufacturer ID")
        expect(problem).to_have_count(1)
        expect(problem.get_by_role("cell").nth(0)).to_have_text("3")  # the sheet's row 3
        expect(problem.get_by_role("cell").nth(1)).to_have_text("Manufacturer ID")
        tour.look("submit-report")
        corrected = tmp_path / "acme-e1-corrected.xlsx"
        corrected.write_bytes(build_workbook(rows))
        page.get_by_label("Workbook", exact=True).set_input_files(corrected)
        page.get_by_role("button", name="Upload and check the workbook").click()
        expect(page.get_by_role("status")).to_contain_text("Your workbook was accepted")
        expect(page.get_by_text(FIRMWARE).first).to_be_visible()
        tour.look("submission-accepted")
        page.get_by_role("navigation").get_by_role("link", name="Submissions").click()
        expect(page.get_by_text("acme-e1-corrected.xlsx").first).to_be_visible()
        tour.look("submissions")
        tour.sign_out()
        tour.look("signed-out")

        # SECAS signs in, finds the submission in the review queue, and approves it.
        tour.sign_in(SECAS_EMAIL)
        expect(
            page.get_by_role("navigation").get_by_role("link", name="Review queue")
        ).to_be_visible()
        tour.look("home-secas")
        page.get_by_role("navigation").get_by_role("link", name="Review queue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
        expect(page.get_by_text(FIRMWARE)).to_be_visible()
        tour.look("review-queue", docs="review-queue")
        page.get_by_role(
            "button", name=re.compile(rf"^Approve all {len(rows)} pending entries")
        ).click()
        expect(page.get_by_role("status")).to_contain_text("pprove")
        tour.look("review-queue-approved")

        # The approved entry's review page, and the certificate register with one certificate
        # (read only: what SECAS would look at before a removal or a revocation).
        tour.go("/review/entries/CPL-000001")
        expect(page.get_by_role("heading", level=1)).to_contain_text("CPL-000001")
        tour.look("review-entry")
        page.get_by_role("navigation").get_by_role("link", name="Certificates").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("The certificate register")
        tour.look("certificates")
        page.get_by_role("link", name="CPA-100", exact=True).first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("CPA-100")
        tour.look("certificate")

        # SECAS publishes an extract from the dashboard, which says which sequence it made.
        page.get_by_role("navigation").get_by_role("link", name="Dashboard").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
        tour.look("dashboard")
        page.get_by_role("button", name="Publish the next extract").click()
        published = page.get_by_role("status")
        expect(published).to_contain_text("is signed and published")
        found = re.search(r"Extract (\d+) is signed", published.inner_text())
        assert found, published.inner_text()
        sequence = int(found.group(1))
        tour.look("dashboard-published", docs="dashboard")
        page.get_by_role("navigation").get_by_role("link", name="Extracts").click()
        expect(page.get_by_role("link", name=f"Extract {sequence}", exact=True)).to_be_visible()
        tour.look("extracts-secas")
        tour.sign_out()

        # The DCC person chooses a password through the one-time link `user add` printed,
        # signs in, and acknowledges the extract as loaded.
        tour.go(dcc_link)
        tour.look("set-password")
        page.get_by_label("Password", exact=True).fill(DCC_PASSWORD)
        page.get_by_label("Password again").fill(DCC_PASSWORD)
        page.get_by_role("button", name="Set password").click()
        expect(page.get_by_role("status")).to_contain_text("Your password is set")
        tour.sign_in(DCC_EMAIL, DCC_PASSWORD)
        expect(page).to_have_url(base + "/")
        page.get_by_role("navigation").get_by_role("link", name="Extracts").click()
        tour.look("extracts-dcc")
        page.get_by_role("link", name=f"Extract {sequence}", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Extract {sequence}")
        tour.look("extract-dcc")
        page.get_by_label("Loaded").check()
        page.get_by_role("button", name="Record the acknowledgement").click()
        expect(page.get_by_role("status")).to_contain_text("recorded as loaded")
        tour.look("extract-acknowledged")
        tour.sign_out()

        # The public finds the new entry by its firmware version, and opens its page.
        tour.go("/cpl")
        tour.look("cpl")
        page.get_by_label("Search", exact=True).fill(FIRMWARE)
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("heading", name="1 entry")).to_be_visible()
        tour.look("cpl-search-firmware", docs="public-search")
        page.get_by_role("table").get_by_role("link").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Acme E1")
        expect(page.get_by_text(FIRMWARE)).to_be_visible()
        tour.look("cpl-entry")
        tour.go("/cpl/entries/CPL-999999")  # an error page, as a visitor meets it
        expect(page.get_by_text("Error 404")).to_be_visible()
        tour.look("not-found")
        context.close()

    took = time.monotonic() - started
    print(f"\nbrowser flow: {len(tour.visited)} pages in {took:.1f} s")
    print("\n".join(tour.visited))
    print("axe-core, moderate or minor (allowed):", ", ".join(tour.lesser) or "none")
    assert not tour.violations, "axe-core found serious or critical violations:\n" + "\n".join(
        tour.violations
    )


def test_the_axe_run_reports_what_it_must_under_the_pages_csp(
    browser: Browser, axe_source: str
) -> None:
    """The measurement itself can fail: a page under the same CSP with an image without alt
    text and a field without a label is reported (critical), and a clean page is not."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    tour = Tour(page, "", axe_source)
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        "<title>Planted</title>"
    )
    page.set_content(
        f'<!doctype html><html lang="en"><head>{head}</head><body><main><h1>Planted</h1>'
        '<img src="data:,"><input type="text"></main></body></html>'
    )
    tour.look("axe-planted-violations")
    found = "\n".join(tour.violations)
    assert "image-alt [critical]" in found and "label [critical]" in found, found
    tour.violations.clear()
    page.set_content(
        f'<!doctype html><html lang="en"><head>{head}</head><body><main><h1>Clean</h1>'
        '<img src="data:," alt="nothing"><label for="f">Field</label><input id="f"></main>'
        "</body></html>"
    )
    tour.look("axe-clean")
    assert tour.violations == []
    page.close()
