"""The words of every notice: subject, plain text and HTML, composed from plain facts."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from cpl_service.devices import BY_CODE
from cpl_service.extracts.models import DccStatus
from cpl_service.notices import links
from cpl_service.notices.outcomes import Outcome, Tally, headline, outcome_of, sentence
from cpl_service.notices.rules import DueNotice, Threshold, threshold_date


@dataclass(frozen=True)
class Composed:
    """A notice's subject and its two bodies, ready for the outbox."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class AffectedEntry:
    """A CPL entry named in a notice."""

    entry_id: str
    manufacturer_name: str
    model_name: str
    model_id: str
    hardware_version: str
    firmware_version: str
    physical_device_type: str
    contact_email: str


@dataclass(frozen=True)
class ExtractFacts:
    """What a publication notice says about one extract."""

    sequence: int
    issued_at: datetime
    sha256: str
    entry_count: int
    change_count: int
    dcc_status: DccStatus
    acknowledged_at: datetime | None = None
    acknowledgement_detail: str | None = None


def long_date(day: date) -> str:
    """31 August 2027."""
    return f"{day.day} {day:%B %Y}"


def long_moment(moment: datetime) -> str:
    """31 August 2027 14:05 UTC."""
    moment = moment.astimezone(UTC)
    return f"{long_date(moment.date())} {moment:%H:%M} UTC"


def device_type_name(code: str) -> str:
    found = BY_CODE.get(code)
    return f"{found.name} ({code})" if found else code


# --- a tiny document model rendered both as text and as HTML ------------------------


@dataclass(frozen=True)
class _See:
    """Text ending in a link built by `links.link()`: a URL (an anchor in HTML) or words."""

    lead: str
    target: str

    @property
    def text(self) -> str:
        # No full stop after a URL: some mail readers would take it into the link.
        return f"{self.lead} {self.target if links.is_url(self.target) else self.target + '.'}"

    def html(self) -> str:
        e = html.escape
        if links.is_url(self.target):
            return f'{e(self.lead)} <a href="{e(self.target)}">{e(self.target)}</a>'
        return e(self.text)


_Inline = str | _See


def _inline_text(value: _Inline) -> str:
    return value if isinstance(value, str) else value.text


def _inline_html(value: _Inline) -> str:
    return html.escape(value) if isinstance(value, str) else value.html()


@dataclass(frozen=True)
class _Para:
    text: _Inline


@dataclass(frozen=True)
class _Heading:
    text: str


@dataclass(frozen=True)
class _Bullets:
    items: Sequence[_Inline]


@dataclass(frozen=True)
class _Table:
    headings: Sequence[str]
    rows: Sequence[Sequence[str]]


_Block = _Para | _Heading | _Bullets | _Table


def _render_text(blocks: Sequence[_Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, _Para):
            out.append(_inline_text(block.text))
        elif isinstance(block, _Heading):
            out.append(f"{block.text}\n{'-' * len(block.text)}")
        elif isinstance(block, _Bullets):
            out.append("\n".join(f"- {_inline_text(item)}" for item in block.items))
        else:
            widths = [
                max(len(str(c)) for c in column)
                for column in zip(block.headings, *block.rows, strict=True)
            ]
            lines = [
                "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                for row in [block.headings, *block.rows]
            ]
            lines.insert(1, "  ".join("-" * w for w in widths))
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _render_html(title: str, blocks: Sequence[_Block]) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title></head>",
        '<body style="font-family: Arial, sans-serif; font-size: 14px; color: #222;">',
    ]
    for block in blocks:
        if isinstance(block, _Para):
            out.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, _Heading):
            out.append(f"<h3>{e(block.text)}</h3>")
        elif isinstance(block, _Bullets):
            out.append(
                "<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block.items) + "</ul>"
            )
        else:
            cell = 'style="border: 1px solid #999; padding: 4px 8px; text-align: left;"'
            head = "".join(f"<th {cell}>{e(h)}</th>" for h in block.headings)
            body = "".join(
                "<tr>" + "".join(f"<td {cell}>{e(str(c))}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            out.append(
                '<table style="border-collapse: collapse;">'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _compose(subject: str, blocks: Sequence[_Block]) -> Composed:
    return Composed(subject=subject, text=_render_text(blocks), html=_render_html(subject, blocks))


def _entries_table(entries: Sequence[AffectedEntry], *, with_contact: bool = False) -> _Table:
    headings = [
        "Entry ID",
        "Manufacturer",
        "Model",
        "Model ID",
        "Hardware",
        "Firmware",
        "Device type",
    ]
    if with_contact:
        headings.append("Contact")
    rows = []
    for entry in sorted(entries, key=lambda x: x.entry_id):
        row = [
            entry.entry_id,
            entry.manufacturer_name,
            entry.model_name,
            entry.model_id,
            entry.hardware_version,
            entry.firmware_version,
            device_type_name(entry.physical_device_type),
        ]
        if with_contact:
            row.append(entry.contact_email)
        rows.append(row)
    return _Table(headings, rows)


def _signature(secas_email: str) -> list[_Block]:
    return [
        _Heading("Whom to contact"),
        _Para(
            f"Questions about this notice go to SECAS, the SEC Administrator, at {secas_email}. "
            "This message was sent automatically by the Central Products List service; "
            "replies reach SECAS."
        ),
    ]


# --- CPA certificate notices --------------------------------------------------------


def cpa_notice(
    due: DueNotice, entries: Sequence[AffectedEntry], *, recipient: str, secas_email: str
) -> Composed:
    """The 12-month or 6-month notice to one contact about one CPA certificate."""
    end = long_date(due.end_date)
    cause = (
        "its conditional date: the certificate lapses then unless its conditions are met"
        if due.ends_by_condition
        else due.end_kind.label
    )
    subject = f"CPA certificate {due.number} ends on {end}: {due.threshold.label}"
    count = len(entries)
    models = "Device Model" if count == 1 else "Device Models"
    blocks: list[_Block] = [
        _Para("Dear CPL contact,"),
        _Para(
            f"This is the {due.threshold.label} from SECAS on behalf of the SEC Panel. "
            f"CPA certificate {due.number} ends on {end} ({cause}). "
            f"{count} {models} on the Central Products List rely on it and name {recipient} "
            "as their contact:"
        ),
        _entries_table(entries),
        _Heading("What happens next"),
        _Bullets(
            [
                f"To keep these Device Models on the CPL after {end}, send SECAS a renewed "
                "CPA certificate (or evidence that its conditions are met) before that date.",
                *(
                    [
                        "If nothing changes you will receive a 6-month notice on "
                        f"{long_date(threshold_date(due.end_date, Threshold.SIX_MONTHS))}."
                    ]
                    if due.threshold is Threshold.TWELVE_MONTHS
                    else []
                ),
                f"On {end} SECAS will put these entries to the SEC Panel for removal "
                "(status Expired). Removed entries stay listed on the CPL, but the DCC will "
                "no longer accept new installations of those Device Models.",
            ]
        ),
        *_signature(secas_email),
    ]
    return _compose(subject, blocks)


def cpa_end_notice(
    due: DueNotice, entries: Sequence[AffectedEntry], *, secas_email: str, public_url: str | None
) -> Composed:
    """The end-date notice to SECAS: these Active entries are due for removal."""
    end = long_date(due.end_date)
    count = len(entries)
    noun = "entry" if count == 1 else "entries"
    cause = due.end_kind.label
    subject = f"CPA certificate {due.number} ended on {end}: {count} CPL {noun} due for removal"
    blocks: list[_Block] = [
        _Para("To SECAS,"),
        _Para(
            f"CPA certificate {due.number} reached its end on {end} ({cause}). "
            f"{count} Active CPL {noun} still rely on it:"
        ),
        _entries_table(entries, with_contact=True),
        _Heading("What happens next"),
        _Bullets(
            [
                "Put the removal of these entries to the SEC Panel.",
                _See(
                    "Record each removal (status Expired) with the Panel decision reference, "
                    "then publish a new CPL extract for the DCC; the entries are in",
                    links.link(links.review_queue_page(), public_url=public_url),
                ),
                "If a renewed certificate has been provided, update the register instead.",
            ]
        ),
        *_signature(secas_email),
    ]
    return _compose(subject, blocks)


# --- publication notices ------------------------------------------------------------


def _extract_table(extract: ExtractFacts) -> _Table:
    return _Table(
        ["CPL version", "Published", "Entries", "Changes", "SHA-256"],
        [
            [
                str(extract.sequence),
                long_moment(extract.issued_at),
                str(extract.entry_count),
                str(extract.change_count),
                extract.sha256,
            ]
        ],
    )


def _where_the_list_is(public_url: str | None) -> list[_Inline]:
    return [
        _See("Search the list:", links.link(links.cpl_search_page(), public_url=public_url)),
        _See("Download it as CSV:", links.link(links.cpl_download("csv"), public_url=public_url)),
        _See(
            "Download it as Excel:", links.link(links.cpl_download("xlsx"), public_url=public_url)
        ),
    ]


def publication_notice(
    extract: ExtractFacts, *, party_name: str, secas_email: str, public_url: str | None
) -> Composed:
    """To every party: CPL version N is out; the DCC has not loaded it yet."""
    published = long_date(extract.issued_at.astimezone(UTC).date())
    subject = f"CPL version {extract.sequence} published on {published}: DCC load pending"
    blocks: list[_Block] = [
        _Para(f"Dear {party_name},"),
        _Para(
            f"SECAS has published version {extract.sequence} of the Central Products List "
            f"on {long_moment(extract.issued_at)} and sent the signed extract to the DCC."
        ),
        _extract_table(extract),
        _Heading("What happens next"),
        _Bullets(
            [
                "The DCC load is pending: Device Models added by this version cannot be "
                "installed until the DCC has loaded it into the Smart Metering Inventory.",
                "The DCC has 24 hours to load it; you will receive another email when it "
                "confirms the load (or rejects it).",
            ]
        ),
        _Heading("Where the list is"),
        _Bullets(_where_the_list_is(public_url)),
        *_signature(secas_email),
    ]
    return _compose(subject, blocks)


def acknowledgement_notice(
    extract: ExtractFacts, *, party_name: str, secas_email: str, public_url: str | None
) -> Composed:
    """To every party: the DCC has loaded (or rejected) CPL version N."""
    when = long_moment(extract.acknowledged_at) if extract.acknowledged_at else "just now"
    detail = (extract.acknowledgement_detail or "").strip()
    if extract.dcc_status == DccStatus.LOADED:
        subject = f"CPL version {extract.sequence}: DCC load complete ({when})"
        lead = f"The DCC confirmed on {when} that it has loaded CPL version {extract.sequence}."
        next_steps = [
            "Device Models added by this version may now be installed; removals in it "
            "are now in effect in the Smart Metering Inventory.",
        ]
    else:
        subject = f"CPL version {extract.sequence}: DCC rejected the load ({when})"
        lead = f"The DCC reported on {when} that it could not load CPL version {extract.sequence}."
        next_steps = [
            "The previous CPL version stays in force in the Smart Metering Inventory.",
            "SECAS is investigating with the DCC and will publish a corrected version; "
            "you will be emailed when it is out.",
        ]
    blocks: list[_Block] = [
        _Para(f"Dear {party_name},"),
        _Para(lead),
        *([_Para(f"The DCC's comment: {detail}")] if detail else []),
        _extract_table(extract),
        _Heading("What happens next"),
        _Bullets(next_steps),
        _Heading("Where the list is"),
        _Bullets(_where_the_list_is(public_url)),
        *_signature(secas_email),
    ]
    return _compose(subject, blocks)


def overdue_alert(
    extract: ExtractFacts, *, hours: int, secas_email: str, public_url: str | None
) -> Composed:
    """To SECAS: the DCC has not acknowledged CPL version N within `hours`."""
    subject = (
        f"CPL version {extract.sequence} not acknowledged by the DCC after {hours} hours "
        f"(published {long_moment(extract.issued_at)})"
    )
    blocks: list[_Block] = [
        _Para("To SECAS,"),
        _Para(
            f"CPL version {extract.sequence} was published on {long_moment(extract.issued_at)} "
            f"and the DCC has not acknowledged it within {hours} hours."
        ),
        _extract_table(extract),
        _Heading("What happens next"),
        _Bullets(
            [
                "Contact the DCC to find out whether the extract was received and loaded.",
                "Every party is emailed when the DCC acknowledges it.",
                _See(
                    "Its DCC status is on",
                    links.link(links.extracts_page(), public_url=public_url),
                ),
            ]
        ),
        *_signature(secas_email),
    ]
    return _compose(subject, blocks)


# --- outcome emails to submitters and suppliers --------------------------------------

# An email lists at most this many entries in a table; the submission's page has them all.
MAX_LISTED = 100

_DECISION_WORDS = {
    "active": "Approved",
    "rejected": "Rejected",
    "expired": "Removed: Expired",
    "cancelled": "Removed: Cancelled",
    "withdrawn": "Removed: Withdrawn",
    "pending_review": "Pending review",
}


@dataclass(frozen=True)
class DecidedEntry:
    """An entry named in an outcome email, with the words of the decision on it."""

    entry_id: str
    manufacturer_name: str
    model_name: str
    model_id: str
    hardware_version: str
    firmware_version: str
    physical_device_type: str
    status: str
    # The rejection reason, or the removal's Panel decision reference and reason.
    reason: str | None = None
    panel_decision_ref: str | None = None


@dataclass(frozen=True)
class OutcomeFacts:
    """What one decision batch did to one submission's entries, and where they all stand."""

    decided: Outcome
    decided_at: datetime
    entries: Sequence[DecidedEntry]
    tally: Tally
    addressee: str
    submission_id: int | None = None
    filename: str | None = None
    uploaded_at: datetime | None = None
    uploaded_by: str | None = None
    # The submission's entries rejected by earlier decisions (at most MAX_LISTED of them).
    earlier_rejections: Sequence[DecidedEntry] = ()


def _decision_words(entry: DecidedEntry) -> str:
    words = _DECISION_WORDS.get(entry.status, entry.status)
    details = [
        *([f"Panel decision {entry.panel_decision_ref}"] if entry.panel_decision_ref else []),
        *([entry.reason] if entry.reason else []),
    ]
    return f"{words} ({'; '.join(details)})" if details else words


def _decided_table(entries: Sequence[DecidedEntry]) -> list[_Block]:
    shown = sorted(entries, key=lambda x: x.entry_id)[:MAX_LISTED]
    table = _Table(
        ["Entry ID", "Model", "Model ID", "Hardware", "Firmware", "Device type", "Decision"],
        [
            [
                e.entry_id,
                f"{e.manufacturer_name} {e.model_name}",
                e.model_id,
                e.hardware_version,
                e.firmware_version,
                device_type_name(e.physical_device_type),
                _decision_words(e),
            ]
            for e in shown
        ],
    )
    more = len(entries) - len(shown)
    return [table, *([_Para(f"… and {more} more.")] if more > 0 else [])]


def _outcome_next_steps(facts: OutcomeFacts, public_url: str | None) -> list[_Inline]:
    steps: list[_Inline] = []
    tally = facts.tally
    on_the_list = (Outcome.APPROVED, Outcome.REMOVED)
    listed = [e for e in facts.entries if outcome_of(e.status) in on_the_list]
    if facts.decided is Outcome.APPROVED:
        steps.append(
            "Approved entries are on the public CPL now. They reach the DCC with the next CPL "
            "version SECAS publishes; every party is emailed when it is out and again when the "
            "DCC has loaded it. A Device Model may be installed once the DCC has loaded it."
        )
    if facts.decided is Outcome.REMOVED:
        steps.append(
            "A removed entry stays listed on the CPL with its new status. Once the DCC has "
            "loaded the next CPL version, it accepts no new installations of that Device Model."
        )
    if tally.count(Outcome.REJECTED):
        steps.append(
            "A rejected entry stays rejected. To list that Device Model, correct what the "
            "reason says and upload it again in a new workbook."
        )
    if tally.count(Outcome.PENDING):
        pending = tally.count(Outcome.PENDING)
        steps.append(
            f"SECAS has still to decide on {pending} "
            f"{'entry' if pending == 1 else 'entries'}; you will be emailed when it does."
        )
    if facts.submission_id is not None:
        steps.append(
            _See(
                "Your submission and all its entries:",
                links.link(links.submission_page(facts.submission_id), public_url=public_url),
            )
        )
    search = links.link(links.cpl_search_page(), public_url=public_url)
    if 0 < len(listed) <= 3 and links.is_url(search):
        steps.extend(
            _See(
                f"{e.entry_id} on the public CPL:",
                links.link(links.cpl_entry_page(e.entry_id), public_url=public_url),
            )
            for e in sorted(listed, key=lambda x: x.entry_id)
        )
    elif listed:
        steps.append(_See("The public CPL:", search))
    return steps


def outcome_notice(facts: OutcomeFacts, *, secas_email: str, public_url: str | None) -> Composed:
    """To a submitter: what SECAS decided on its entries in one decision batch."""
    lone = f"CPL entry {facts.entries[0].entry_id}" if facts.tally.total == 1 else "1 entry"
    lead = headline(facts.tally, decided=facts.decided, lone=lone)
    short = headline(facts.tally, decided=facts.decided, lone=lone, with_reasons=False)
    if facts.submission_id is not None:
        subject = f"CPL submission {facts.submission_id}: {short}"
        uploaded = (
            f" (uploaded on {long_moment(facts.uploaded_at)}"
            f"{f' by {facts.uploaded_by}' if facts.uploaded_by else ''})"
            if facts.uploaded_at
            else ""
        )
        name = f" {facts.filename}" if facts.filename else ""
        about = f"your submission {facts.submission_id},{name}{uploaded}"
    else:
        subject = short
        about = "your CPL entries"
    count = len(facts.entries)
    noun = "entry" if count == 1 else "entries"
    verb = {
        Outcome.APPROVED: "approved",
        Outcome.REJECTED: "rejected",
        Outcome.REMOVED: "recorded the SEC Panel's removal of",
        Outcome.PENDING: "reviewed",
    }[facts.decided]
    blocks: list[_Block] = [
        _Para(f"Dear {facts.addressee},"),
        _Para(sentence(lead)),
        _Para(f"On {long_moment(facts.decided_at)} SECAS {verb} {count} {noun} of {about}:"),
        *_decided_table(facts.entries),
    ]
    if facts.earlier_rejections:
        blocks += [
            _Heading("Rejected earlier"),
            *_decided_table(facts.earlier_rejections),
        ]
    blocks += [
        _Heading("What happens next"),
        _Bullets(_outcome_next_steps(facts, public_url)),
        *_signature(secas_email),
    ]
    return _compose(subject, blocks)


@dataclass(frozen=True)
class FirmwareUpdateFacts:
    """A manufacturer's submission carrying firmware updates no supplier has confirmed."""

    submission_id: int
    manufacturer: str
    submitted_at: datetime
    entries: Sequence[AffectedEntry]
    total: int


def firmware_confirmation_request(
    facts: FirmwareUpdateFacts, *, supplier_name: str, secas_email: str, public_url: str | None
) -> Composed:
    """To a supplier: a manufacturer's firmware updates await a supplier's confirmation."""
    count = facts.total
    updates = "firmware update" if count == 1 else "firmware updates"
    subject = (
        f"{count} {updates} from {facts.manufacturer} "
        f"await{'s' if count == 1 else ''} a supplier's confirmation (submission "
        f"{facts.submission_id})"
    )
    shown = sorted(facts.entries, key=lambda x: x.entry_id)[:MAX_LISTED]
    blocks: list[_Block] = [
        _Para(f"Dear {supplier_name},"),
        _Para(
            f"{facts.manufacturer} submitted {count} {updates} on "
            f"{long_moment(facts.submitted_at)} (submission {facts.submission_id}). SECAS "
            "approves a manufacturer's firmware update only once a Supplier has confirmed "
            "that it matches the agreed maintenance plans:"
        ),
        _entries_table(shown),
        *([_Para(f"… and {count - len(shown)} more.")] if count > len(shown) else []),
        _Heading("What happens next"),
        _Bullets(
            [
                _See(
                    (
                        "If it matches your plans, confirm it with your reference on"
                        if count == 1
                        else "If they match your plans, confirm each one with your reference on"
                    ),
                    links.link(links.firmware_updates_page(), public_url=public_url),
                ),
                "One supplier's confirmation is enough; the update then waits for SECAS's "
                "review. If an update does not match your plans, tell SECAS.",
            ]
        ),
        *_signature(secas_email),
    ]
    return _compose(subject, blocks)
