"""One cell's raw value read as text, a date, a moment or a flag; pure, for the row rules."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
# Line breaks and tabs are allowed in the long free-text fields.
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXCEL_EPOCH = date(1899, 12, 30)
_MAX_SERIAL = 2_958_465  # 9999-12-31
_TRUE = frozenset({"yes", "y", "true", "1"})
_FALSE = frozenset({"no", "n", "false", "0"})


def cell_text(value: object) -> str | None:
    """A cell's text, stripped; None for an empty cell.

    Whole floats lose their `.0` (Excel stores a typed 1234 as 1234.0).

    Args:
        value: a raw cell value.

    Returns:
        The text, or None when the cell holds nothing but spaces.
    """
    if value is None:
        return None
    if type(value) is str:
        return value.strip() or None
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float):
        text = str(int(value)) if math.isfinite(value) and value.is_integer() else repr(value)
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, date | time):
        text = value.isoformat()
    elif isinstance(value, timedelta):
        text = str(value)
    else:
        text = str(value)
    text = text.strip()
    return text or None


def show(text: str, limit: int = 40) -> str:
    """A value safe and short enough to quote in a message."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return repr(clean)


def has_control(text: str, *, multiline: bool) -> bool:
    """True when the text holds control characters (line breaks and tabs if `multiline`)."""
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    return pattern.search(text) is not None


def cell_date(value: object) -> date | None:
    """A date cell: an Excel date, an Excel serial number or text written YYYY-MM-DD.

    Args:
        value: a raw cell value.

    Returns:
        The date, or None for an empty cell.

    Raises:
        ValueError: the cell holds something else.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and float(value).is_integer() and 1 <= value <= _MAX_SERIAL:
            return _EXCEL_EPOCH + timedelta(days=int(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
    raise ValueError(f"not a date: {value!r}")


def cell_moment(value: object) -> datetime | None:
    """A date-and-time cell, as an aware UTC datetime to the second.

    Spreadsheets hold times as day fractions, so the float noise is rounded away; a time
    without a zone is taken as UTC.

    Args:
        value: a raw cell value: an Excel date or date-time, or ISO 8601 text.

    Returns:
        The moment, or None for an empty cell.

    Raises:
        ValueError: the cell holds something else.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        text = cell_text(value)
        if text is None:
            return None
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(round(moment.timestamp()), tz=UTC)


def cell_flag(value: object) -> bool | None:
    """A yes/no cell: Yes, No, Y, N, TRUE, FALSE, 1 or 0 (any case).

    Args:
        value: a raw cell value.

    Returns:
        The flag, or None for an empty cell.

    Raises:
        ValueError: the cell holds something else.
    """
    if isinstance(value, bool):
        return value
    text = cell_text(value)
    if text is None:
        return None
    if text.casefold() in _TRUE:
        return True
    if text.casefold() in _FALSE:
        return False
    raise ValueError(f"not a flag: {value!r}")
