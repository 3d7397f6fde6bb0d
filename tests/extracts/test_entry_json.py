"""The database writes each entry's canonical JSON exactly as Python's definition does.

`extract_payload` has the database write every entry's JSON object (`extracts.entry_json`)
and reads the previous extract's statuses with two patterns (`listed_statuses`). These
tests hold both, on SQLite and PostgreSQL, byte for byte to
`canonical_json(build_document(...))` (which builds each entry with `public_entry` and
decodes the previous extract with `json.loads`): over every code point, and over entries
made of hostile strings, with every optional field missing or present, both flags, every
listed status, and moments with microseconds.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.extracts.canonical import canonical_json
from cpl_service.extracts.entry_json import FIELD_KINDS, SORTED_FIELDS
from cpl_service.extracts.models import Extract
from cpl_service.extracts.rows import EXTRACT_FIELDS, STATUS_WORDS
from cpl_service.extracts.service import (
    build_document,
    extract_payload,
    listed_statuses,
    published_entries,
)
from tests.publication.conftest import entry_fields

ISSUED = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
SURROGATES = range(0xD800, 0xE000)
# Characters JSON escapes, and those it must not: the C0 controls, quotes and
# backslashes, DEL, C1 controls, the JavaScript line separators, a BOM, non-characters,
# astral characters, combining marks, and text that looks like the extract's own keys.
HOSTILE = [
    *(chr(c) for c in range(0x20)),
    '"',
    "\\",
    "/",
    "\x7f",
    "\x80",
    "\x9f",
    "\xa0",
    "é",
    "e\u0301",
    "中",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\uffff",
    "😀",
    "\U0010ffff",
    '"entry_id":"',
    '","status":"Active',
    "\\u0041",
    '\\"',
    "null",
    "true",
]
TEXT_FIELDS = [name for name in EXTRACT_FIELDS if name not in FIELD_KINDS]
NULLABLE = [name for name in EXTRACT_FIELDS if Entry.__table__.c[name].nullable]  # type: ignore[attr-defined]


def _length(name: str) -> int:
    length = Entry.__table__.c[name].type.length  # type: ignore[attr-defined]
    return int(length) if length else 1000


def _document(session: Session, previous: Extract | None = None) -> dict[str, Any]:
    return build_document(
        entries=published_entries(session),
        sequence=7,
        issued_at=ISSUED,
        next_update=ISSUED + timedelta(days=3),
        previous=previous,
    )


def _fast(session: Session, previous: Extract | None = None) -> bytes:
    return extract_payload(
        session=session,
        sequence=7,
        issued_at=ISSUED,
        next_update=ISSUED + timedelta(days=3),
        previous=previous,
    ).payload


def _previous(payload: bytes, entry_count: int) -> Extract:
    return Extract(
        sequence=6,
        issued_at=ISSUED - timedelta(days=1),
        next_update=ISSUED,
        sha256="b" * 64,
        entry_count=entry_count,
        change_count=0,
        payload=payload,
        signature=b"",
    )


def _store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        connection.execute(SQLModel.metadata.tables["entry"].insert(), rows)


def _hostile_text(rng: random.Random, limit: int, *, nul: bool) -> str:
    pieces = [rng.choice(HOSTILE) for _ in range(rng.randint(0, 6))]
    text = "".join(pieces)[:limit]
    return text if nul else text.replace("\x00", "")


def _hostile_entries(engine: Engine, count: int, seed: int) -> None:
    """`count` listed entries (and a few never listed) of hostile strings, with IDs that
    sort differently by code point than in most languages' collations."""
    rng = random.Random(seed)
    nul = engine.dialect.name == "sqlite"  # PostgreSQL text cannot hold U+0000
    listed = list(STATUS_WORDS)
    rows = []
    for number in range(1, count + 1):
        overrides: dict[str, Any] = {
            name: _hostile_text(rng, _length(name), nul=nul) for name in TEXT_FIELDS
        }
        overrides["entry_id"] = rng.choice(["CPL-", "cpl-", "Cpl-", "CPL-é", "CPL-😀", ""]) + (
            _hostile_text(rng, 8, nul=nul) + f"{number:06d}"
        )
        moment = ISSUED - timedelta(days=rng.randint(0, 4000), microseconds=rng.randint(0, 10**12))
        overrides.update(
            status=rng.choice(listed) if number % 9 else EntryStatus.PENDING_REVIEW,
            status_effective_at=moment,
            smets1=rng.random() < 0.5,
            cpa_expiry_date=date(2030, 1, 1) + timedelta(days=rng.randint(0, 3000)),
        )
        for name in ("cpa_renewal_date", "cpa_conditional_date"):
            when = date(2001, 2, 3) + timedelta(days=rng.randint(0, 9000))
            overrides[name] = when if rng.random() < 0.5 else None
        for name in NULLABLE:
            if rng.random() < 0.3:
                overrides[name] = None
        if number % 5 == 0:  # all of them at once, too
            overrides.update(dict.fromkeys(NULLABLE))
        fields = entry_fields(number, **overrides)
        if number % 9 == 0:  # never listed: in no extract
            fields["first_active_at"] = None
        rows.append(fields)
    _store(engine, rows)


@pytest.mark.parametrize("seed", range(3))
def test_hostile_entries_are_written_as_the_python_definition_writes_them(
    engine: Engine, seed: int
) -> None:
    _hostile_entries(engine, 150, seed)
    with Session(engine) as session:
        document = _document(session)
        assert _fast(session) == canonical_json(document)
        entries = document["entries"]
        # Every listed status, both flags, missing optional fields, sub-second moments.
        assert {e["status"] for e in entries} == set(STATUS_WORDS.values())
        assert {e["smets1"] for e in entries} == {True, False}
        assert all(any(e[name] is None for e in entries) for name in NULLABLE)
        assert len({e["entry_id"] for e in entries}) == len(entries) == 150 - 150 // 9

        # Against a previous extract of the same hostile data: some entries new since,
        # some with another status.
        rng = random.Random(seed)
        earlier = [dict(e) for e in entries if rng.random() < 0.8]
        for entry in earlier:
            if rng.random() < 0.2:
                entry["status"] = rng.choice(list(STATUS_WORDS.values()))
        previous = _previous(canonical_json(dict(document, entries=earlier)), len(earlier))
        again = _document(session, previous)
        assert _fast(session, previous) == canonical_json(again)
    assert again["changes"]["added"] and again["changes"]["status_changed"]


def test_every_code_point_is_escaped_as_json_dumps_escapes_it(engine: Engine) -> None:
    first = 0 if engine.dialect.name == "sqlite" else 1  # PostgreSQL text has no U+0000
    points = [c for c in range(first, 0x110000) if c not in SURROGATES]
    width = _length("release_notes")
    rows = [
        entry_fields(
            number,
            release_notes="".join(map(chr, points[start : start + width])),
            manufacturer_name="".join(map(chr, points[start : start + 100][::-1])),
        )
        for number, start in enumerate(range(0, len(points), width), start=1)
    ]
    # And each of the first 256 alone, in its own entry (PostgreSQL quotes an entry's
    # text directly unless it holds a character that needs escaping).
    for point in range(first, 256):
        rows.append(entry_fields(len(rows) + 1, model_name=f"x{chr(point)}y"))
    _store(engine, rows)
    with Session(engine) as session:
        assert _fast(session) == canonical_json(_document(session))


def test_no_entries_make_the_empty_extract(engine: Engine) -> None:
    with Session(engine) as session:
        assert _fast(session) == canonical_json(_document(session))
        previous = _previous(canonical_json(_document(session)), 0)
        assert _fast(session, previous) == canonical_json(_document(session, previous))


def test_entries_out_of_entry_id_order_are_refused(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(engine, [entry_fields(n) for n in range(1, 4)])
    descending = lambda column, _dialect: column.desc()  # noqa: E731
    monkeypatch.setattr("cpl_service.extracts.service.code_point_order", descending)
    with Session(engine) as session, pytest.raises(AssertionError, match="entry ID order"):
        _fast(session)


def test_sorted_fields_are_every_extract_field_once() -> None:
    assert tuple(sorted(EXTRACT_FIELDS)) == SORTED_FIELDS
    assert set(FIELD_KINDS) <= set(EXTRACT_FIELDS)


# --- listed_statuses: the previous extract's statuses, without decoding it --------------


def _payload(entries: list[dict[str, Any]], **head: Any) -> bytes:
    document = {
        "format": "cpl-extract/1",
        "sequence": 2,
        "issued_at": "2026-01-01T00:00:00Z",
        "next_update": "2026-01-04T00:00:00Z",
        "previous_sha256": None,
        "entry_count": len(entries),
        "entries": entries,
        "changes": {"added": [], "status_changed": []},
        **head,
    }
    return canonical_json(document)


def _statuses(payload: bytes) -> dict[str, str]:
    return {e["entry_id"]: e["status"] for e in json.loads(payload)["entries"]}


def _entry(entry_id: str, status: str, filler: str) -> dict[str, Any]:
    entry: dict[str, Any] = dict.fromkeys(EXTRACT_FIELDS, filler)
    entry.update(entry_id=entry_id, status=status, smets1=False, cpa_expiry_date=None)
    return entry


@pytest.mark.parametrize("seed", range(20))
def test_listed_statuses_read_what_decoding_reads(seed: int) -> None:
    rng = random.Random(seed)
    words = list(STATUS_WORDS.values())
    entries = [
        _entry(
            f"CPL-{n:06d}{''.join(rng.choices(HOSTILE, k=rng.randint(0, 4)))}",
            rng.choice(words),
            "".join(rng.choices(HOSTILE, k=rng.randint(0, 12))),
        )
        for n in range(rng.randint(0, 60))
    ]
    # The head's own strings may look like keys, too.
    payload = _payload(entries, issued_at='"status":"Active","entry_id":"X"')
    assert listed_statuses(payload, len(entries)) == _statuses(payload)


def test_listed_statuses_are_not_fooled_by_values_that_look_like_keys() -> None:
    entries = [
        _entry('A","status":"Withdrawn', "Active", '","entry_id":"B","status":"Expired'),
        _entry("B\\", "Cancelled", '\\"entry_id\\":\\"C\\",\\"status\\":\\"Active\\"'),
    ]
    payload = _payload(entries)
    assert listed_statuses(payload, 2) == {'A","status":"Withdrawn': "Active", "B\\": "Cancelled"}


def test_listed_statuses_of_bytes_that_are_not_canonical_decode_them() -> None:
    entries = [_entry("CPL-000001", "Active", "x"), _entry("CPL-000002", "Expired", "y")]
    pretty = json.dumps(json.loads(_payload(entries)), indent=2).encode()
    assert listed_statuses(pretty, 2) == {"CPL-000001": "Active", "CPL-000002": "Expired"}
