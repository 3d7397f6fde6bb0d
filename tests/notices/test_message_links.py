"""Every kind of email, with and without CPL_PUBLIC_URL: absolute links or words, no paths."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from cpl_service.extracts.models import DccStatus
from cpl_service.notices import messages
from cpl_service.notices.outcomes import Outcome, Tally
from cpl_service.notices.rules import DueNotice, Threshold

PUBLIC = "https://cpl.secas.example/service"
BARE_PATH = re.compile(r"(?<![\w/.:])/(submissions|firmware-updates|cpl|review|extracts|api)\b")
HREF = re.compile(r'href="([^"]*)"')
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SECAS = "secas@secas.test"

ENTRY = messages.AffectedEntry(
    "CPL-000001", "Acme", "E1", "0001", "0100", "0002012F", "GSME", "cpl@acme.example"
)
DECIDED = messages.DecidedEntry(
    "CPL-000001", "Acme", "E1", "0001", "0100", "0002012F", "GSME", "withdrawn", "Bug", "SECP_1"
)
DUE = DueNotice(1, "CPA-1", Threshold.END, date(2026, 12, 1), date(2026, 12, 1), False)
EXTRACT = messages.ExtractFacts(
    4, AT, "ab" * 32, 10, 2, DccStatus.LOADED, acknowledged_at=AT, acknowledgement_detail="ok"
)


def _outcome(decided: Outcome, status: str, submission_id: int | None) -> messages.OutcomeFacts:
    removed = decided is Outcome.REMOVED
    entry = replace(
        DECIDED,
        status=status,
        reason="Bug" if decided is not Outcome.APPROVED else None,
        panel_decision_ref="SECP_1" if removed else None,
    )
    return messages.OutcomeFacts(
        decided=decided,
        decided_at=AT,
        entries=[entry],
        tally=Tally.of({status: 1}, panel_refs=["SECP_1"]),
        addressee="Acme",
        submission_id=submission_id,
    )


Compose = Callable[[str | None], messages.Composed]
EMAILS: dict[str, Compose] = {
    "cpa_end": lambda url: messages.cpa_end_notice(DUE, [ENTRY], secas_email=SECAS, public_url=url),
    "published": lambda url: messages.publication_notice(
        EXTRACT, party_name="Acme", secas_email=SECAS, public_url=url
    ),
    "acknowledged": lambda url: messages.acknowledgement_notice(
        EXTRACT, party_name="Acme", secas_email=SECAS, public_url=url
    ),
    "overdue": lambda url: messages.overdue_alert(
        EXTRACT, hours=24, secas_email=SECAS, public_url=url
    ),
    "approved": lambda url: messages.outcome_notice(
        _outcome(Outcome.APPROVED, "active", 7), secas_email=SECAS, public_url=url
    ),
    "removed": lambda url: messages.outcome_notice(
        _outcome(Outcome.REMOVED, "withdrawn", None), secas_email=SECAS, public_url=url
    ),
    "rejected": lambda url: messages.outcome_notice(
        _outcome(Outcome.REJECTED, "rejected", 7), secas_email=SECAS, public_url=url
    ),
    "firmware": lambda url: messages.firmware_confirmation_request(
        messages.FirmwareUpdateFacts(7, "Acme", AT, [ENTRY], 1),
        supplier_name="Power Co",
        secas_email=SECAS,
        public_url=url,
    ),
}
# The pages each email points to (beyond the public CPL's downloads).
LINKED = {
    "cpa_end": {"/review"},
    "published": {"/cpl", "/api/v1/cpl.csv", "/api/v1/cpl.xlsx"},
    "acknowledged": {"/cpl", "/api/v1/cpl.csv", "/api/v1/cpl.xlsx"},
    "overdue": {"/extracts"},
    "approved": {"/submissions/7", "/cpl/entries/CPL-000001"},
    "removed": {"/cpl/entries/CPL-000001"},
    "rejected": {"/submissions/7"},
    "firmware": {"/firmware-updates"},
}


@pytest.mark.parametrize("kind", sorted(EMAILS))
def test_with_a_public_url_every_link_is_absolute(kind: str) -> None:
    composed = EMAILS[kind](PUBLIC)
    hrefs = set(HREF.findall(composed.html))
    assert hrefs == {PUBLIC + path for path in LINKED[kind]}
    for href in hrefs:
        assert f"{href}\n" in composed.text  # on its own, never followed by a full stop
    assert not BARE_PATH.search(composed.text) and not BARE_PATH.search(composed.html)


@pytest.mark.parametrize("kind", sorted(EMAILS))
def test_without_a_public_url_every_email_says_where_in_words(kind: str) -> None:
    composed = EMAILS[kind](None)
    assert "href" not in composed.html and "http" not in composed.text
    assert not BARE_PATH.search(composed.text) and not BARE_PATH.search(composed.html)
    assert "CPL service" in composed.text
