"""What the databases can store as text: the one rule every input passes before it is kept."""

from __future__ import annotations

import unicodedata

from cpl_service.errors import InvalidInputError

MAX_FILENAME_LENGTH = 255


def unstorable_character(text: str) -> str | None:
    """The first character of `text` that no database column may hold, or None.

    PostgreSQL text cannot hold NUL, and a lone surrogate (which JSON's `\\ud800` escape
    produces) is not encodable as UTF-8, so neither database can store it.
    """
    for character in text:
        if character == "\x00" or "\ud800" <= character <= "\udfff":
            return character
    return None


def describe(character: str) -> str:
    """`U+0000 (NUL)`-style name of a character, for messages."""
    name = unicodedata.name(character, "") or {"\x00": "NUL"}.get(character, "surrogate")
    return f"U+{ord(character):04X} ({name})"


def check_filename(name: str, *, what: str) -> str:
    """`name` if it may be stored as an uploaded file's name; InvalidInputError otherwise.

    A name is at most 255 characters with no control character (NUL included) and nothing
    a database cannot store.
    """
    if len(name) > MAX_FILENAME_LENGTH:
        raise InvalidInputError(
            f"The file name of the {what} is {len(name)} characters long; the most is "
            f"{MAX_FILENAME_LENGTH}."
        )
    for character in name:
        if unicodedata.category(character) in ("Cc", "Cs") or unstorable_character(character):
            raise InvalidInputError(
                f"The file name of the {what} contains the control character "
                f"{describe(character)}; rename the file and upload it again."
            )
    return name
