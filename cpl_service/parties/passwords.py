"""Password policy (pure) and hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing is deliberately slow; an enormous input must not make it slower


def make_hasher() -> PasswordHasher:
    """Argon2id with argon2-cffi's defaults: RFC 9106's "low memory" parameters."""
    return PasswordHasher()


_hasher = make_hasher()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password anyone has: timing equaliser")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The small list of common passwords shipped with the package, lower-cased."""
    text = files("cpl_service.parties").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problems(password: str, *, email: str) -> list[str]:
    """Why `password` is refused for the person with `email` (empty when it is accepted)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"A password needs at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"A password has at most {MAX_LENGTH} characters.")
    folded = password.strip().lower()
    if folded == email.strip().lower():
        problems.append("A password may not be your email address.")
    if folded in common_passwords():
        problems.append("That password is one of the most common ones; choose another.")
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash still takes the time of a check."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
