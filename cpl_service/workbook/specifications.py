"""The technical-specification register as the workbook code sees it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache


@dataclass(frozen=True)
class SpecificationInfo:
    """One version in the technical-specification register.

    Attributes:
        name: the canonical register name, e.g. `SMETS2 v4.2` or `GBCS v3.2`.
        kind: `SMETS1`, `SMETS2`, `CHTS` or `GBCS`.
        installation_end_date: the last date devices of this version may be installed,
            or None while the window is open.
    """

    name: str
    kind: str
    installation_end_date: date | None = None

    @property
    def is_gbcs(self) -> bool:
        return self.kind.upper() == "GBCS"


_SPEC = re.compile(r"^(smets1|smets2|chts|gbcs)?v?(\d+(?:\.\d+)*)$")


@lru_cache(maxsize=1024)  # a workbook repeats a handful of names on every row
def specification_key(
    text: str, *, default_kind: str | None = None
) -> tuple[str, tuple[int, ...]] | None:
    """The comparable form of a specification name, forgiving spacing, case and a `v`.

    `SMETS2 v4.2`, `smets2 v4.2`, `SMETS2v4.2` and `SMETS2 4.2` share one key; trailing
    `.0` parts are dropped so that `4` (a whole number typed into Excel) matches `v4.0`.

    Args:
        text: the name as written.
        default_kind: the kind to assume when the text gives only a version (GBCS).

    Returns:
        (kind, version parts), or None when the text does not read like a version.
    """
    compact = "".join(text.split()).casefold()
    match = _SPEC.match(compact)
    if not match:
        return None
    kind = match.group(1) or (default_kind.casefold() if default_kind else None)
    if kind is None:
        return None
    parts = [int(p) for p in match.group(2).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return kind, tuple(parts)


def index_specifications(
    specifications: Iterable[SpecificationInfo],
) -> dict[tuple[str, tuple[int, ...]], SpecificationInfo]:
    """The register keyed by `specification_key` of each name (unparseable names skipped)."""
    index: dict[tuple[str, tuple[int, ...]], SpecificationInfo] = {}
    for spec in specifications:
        key = specification_key(spec.name)
        if key is not None:
            index.setdefault(key, spec)
    return index
