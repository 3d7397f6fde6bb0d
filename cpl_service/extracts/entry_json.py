"""Each listed entry's canonical JSON object, written by the database in the SELECT.

Publishing 100,000 entries used to fetch 24 raw values per entry and write each entry's
JSON text in Python. Here the database writes the text, exactly as
`canonical_json(public_entry(row))` would: keys sorted, no whitespace, and strings
escaped as `json.dumps(..., ensure_ascii=False)` escapes them (`"` and `\\` with a
backslash; `\\b \\f \\n \\r \\t`; every other character below U+0020 as `\\u00xx` in
lower-case hex; nothing else, not U+007F, U+2028 or any non-ASCII character). Both
databases' own JSON string writers (SQLite's `json_object`, PostgreSQL's `to_json`) follow
exactly these rules; `tests/extracts/test_entry_json.py` holds every code point to it. On
PostgreSQL, `to_json` (the query's main cost) is used only for entries with a character to
escape; the others' texts are put between quotes as they are.

Each value, as `public_entry` makes it:
- text: the string, or `null`;
- status: the DCC word (`STATUS_WORDS`) for the internal word stored;
- status_effective_at: the moment in UTC to the second with a `Z` (`clock.rfc3339`);
  SQLite stores it as `YYYY-MM-DD HH:MM:SS[.ffffff]` UTC text, sliced as
  `extracts.columns.rfc3339_texts` does;
- the CPA dates: `YYYY-MM-DD`, or `null` (SQLite stores them as exactly that text);
- smets1: `true` or `false` (stored as 0/1 on SQLite), `bool()` of the value.

Every constant (keys, status words, formats) is a bound parameter; the expression is
built once per dialect.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    String,
    Table,
    Text,
    case,
    cast,
    func,
    type_coerce,
)
from sqlalchemy import literal as sa_literal

from cpl_service.extracts.rows import EXTRACT_FIELDS, STATUS_WORDS

# The extract's field names in the order canonical JSON writes them.
SORTED_FIELDS: tuple[str, ...] = tuple(sorted(EXTRACT_FIELDS))

# How each field's stored value becomes its JSON value (any other field is text).
FIELD_KINDS: dict[str, str] = {
    "status": "status",
    "status_effective_at": "moment",
    "cpa_expiry_date": "date",
    "cpa_renewal_date": "date",
    "cpa_conditional_date": "date",
    "smets1": "flag",
}


def _text(value: str) -> ColumnElement[str]:
    return sa_literal(value, String)


@cache
def entry_json(table: Table, dialect: str) -> ColumnElement[Any]:
    """The canonical JSON object text of each row of `table` (the `entry` table), as a
    column for `dialect` ("sqlite" or "postgresql").

    On SQLite the text comes as UTF-8 bytes (no decoding in the driver), on PostgreSQL
    as `str`.
    """
    if dialect == "sqlite":
        return _sqlite(table)
    if dialect == "postgresql":
        return _postgresql(table)
    raise ValueError(f"no canonical entry JSON for the {dialect} dialect")


def code_point_order(column: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    """`column` to sort by as Python sorts strings: by code point.

    UTF-8 bytes sort in code point order, and both databases can compare bytes: SQLite's
    default BINARY collation does, and PostgreSQL's "C" collation does.
    """
    return column.collate("C") if dialect == "postgresql" else column


def _sqlite(table: Table) -> ColumnElement[Any]:
    # json_object writes `{"key":value,...}` in the order given, with json_quote's
    # escaping for text and NULL as null; a value from json() is written as JSON.
    arguments: list[ColumnElement[Any]] = []
    for name in SORTED_FIELDS:
        column = table.c[name]
        kind = FIELD_KINDS.get(name, "text")
        value: ColumnElement[Any]
        if kind == "status":
            value = _status_word(column, quoted=False)
        elif kind == "moment":
            value = (
                func.substr(column, 1, 10, type_=String)
                + _text("T")
                + func.substr(column, 12, 8, type_=String)
                + _text("Z")
            )
        elif kind == "flag":
            value = func.json(_flag(column))
        else:  # text, and dates stored as ISO text
            value = column
        arguments += [_text(name), value]
    return cast(func.json_object(*arguments, type_=Text), LargeBinary)


# The characters `json.dumps` escapes (PostgreSQL text cannot hold U+0000), as a
# PostgreSQL regular expression.
_ESCAPED = r'[\u0001-\u001f"\\]'


def _postgresql(table: Table) -> ColumnElement[Any]:
    # `to_json` is most of the cost, and almost no entry holds a character it would
    # escape: an entry whose text fields hold none has each text put between quotes.
    texts = [table.c[name] for name in SORTED_FIELDS if name not in FIELD_KINDS]
    needs_escapes = func.concat(*texts, type_=String).regexp_match(_text(_ESCAPED))
    return case(
        (needs_escapes, _postgresql_object(table, escaped=True)),
        else_=_postgresql_object(table, escaped=False),
    )


def _postgresql_object(table: Table, *, escaped: bool) -> ColumnElement[str]:
    # Constant text between the values (keys, quotes) is gathered into one literal.
    parts: list[str | ColumnElement[str]] = []
    for index, name in enumerate(SORTED_FIELDS):
        column = table.c[name]
        kind = FIELD_KINDS.get(name, "text")
        parts.append(("{" if index == 0 else ",") + f'"{name}":')
        if kind == "status":
            parts.append(_status_word(column, quoted=True))
        elif kind == "moment":
            utc = func.timezone(_text("UTC"), column)
            format_ = _text('YYYY-MM-DD"T"HH24:MI:SS"Z"')
            parts += ['"', func.to_char(utc, format_, type_=String), '"']
        elif kind == "date":
            day = func.to_char(column, _text("YYYY-MM-DD"), type_=String)
            parts.append(func.coalesce(_text('"') + day + _text('"'), _text("null")))
        elif kind == "flag":
            parts.append(_flag(column))
        elif escaped:
            quoted = cast(func.to_json(column), Text)
            parts.append(func.coalesce(quoted, _text("null"), type_=String))
        else:
            parts.append(func.coalesce(_text('"') + column + _text('"'), _text("null")))
    parts.append("}")
    # `||`, so that a value with no JSON form (a status no extract lists) makes the whole
    # text NULL, which the caller refuses, rather than an object with a hole.
    text: ColumnElement[str] | None = None
    constant = ""
    for part in parts:
        if isinstance(part, str):
            constant += part
            continue
        if constant:
            text = _text(constant) if text is None else text + _text(constant)
            constant = ""
        text = part if text is None else text + part
    assert text is not None
    return text + _text(constant) if constant else text


def _status_word(column: ColumnElement[Any], *, quoted: bool) -> ColumnElement[str]:
    """The DCC word for the stored status; NULL for a status no extract lists."""
    words = {
        internal.value: _text(f'"{word}"' if quoted else word)
        for internal, word in STATUS_WORDS.items()
    }
    return case(words, value=type_coerce(column, String))


def _flag(column: ColumnElement[Any]) -> ColumnElement[str]:
    return case((column, _text("true")), else_=_text("false"))
