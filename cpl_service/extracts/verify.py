"""Verifying a published extract the way the DCC does: signature, schema, freshness.

The JSON Schema is `schemas/cpl-extract.v1.schema.json` at the repository root. An
identical copy ships inside the package (`cpl_service/signing/schemas/`) so an installed
service can load it; a test keeps the two byte-identical. The repository file wins when
both exist.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from cryptography import x509

from cpl_service.clock import utcnow
from cpl_service.errors import CplError
from cpl_service.signing.chain import check_validity
from cpl_service.signing.errors import KeyUsageError
from cpl_service.signing.verify import verify_detached_untimed

SCHEMA_NAME = "cpl-extract.v1.schema.json"
REPOSITORY_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_NAME
FORMAT = "cpl-extract/1"
# The extended key usages an extract signer's certificate may carry (if it has the
# extension at all): id-kp-documentSigning (RFC 9336), id-kp-emailProtection (what stock
# `openssl cms -verify` expects without `-purpose any`), and anyExtendedKeyUsage.
EXTRACT_SIGNING_PURPOSES = frozenset(
    {
        x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),
        x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION,
        x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }
)


class ExtractVerificationError(CplError):
    """The extract's signature is fine, but the extract itself must not be loaded."""

    slug = "extract-invalid"
    title = "The extract is not valid"


class ExtractSchemaError(ExtractVerificationError):
    """The payload is not a `cpl-extract/1` document."""

    slug = "extract-schema-violation"
    title = "The extract breaks its schema"


class ExtractSequenceError(ExtractVerificationError):
    """The sequence number is not above the last one loaded (a rollback or replay)."""

    slug = "extract-sequence"
    title = "The extract is not newer than the last one"


class ExtractExpiredError(ExtractVerificationError):
    """The extract's `next_update` has passed (a stale or frozen feed)."""

    slug = "extract-expired"
    title = "The extract is out of date"


@lru_cache(maxsize=1)
def load_extract_schema() -> dict[str, Any]:
    """The `cpl-extract/1` JSON Schema (draft 2020-12).

    Returns:
        The schema, read from `schemas/` in a source checkout, else from the copy shipped
        in the package.
    """
    if REPOSITORY_SCHEMA.is_file():
        text = REPOSITORY_SCHEMA.read_text(encoding="utf-8")
    else:
        resource = resources.files("cpl_service.signing").joinpath("schemas", SCHEMA_NAME)
        text = resource.read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ExtractSchemaError(f"schema violation: the key {key!r} appears twice")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ExtractSchemaError(f"schema violation: {name} is not valid JSON")


def parse_extract(payload: bytes) -> dict[str, Any]:
    """Parse and validate extract bytes, without looking at any signature.

    Besides the JSON Schema, checks what a schema cannot: `entry_count` equals the number
    of entries, entries are sorted by unique `entry_id`, changed IDs are listed entries,
    `previous_sha256` is null exactly for sequence 1, and `next_update` follows
    `issued_at`. Duplicate keys and NaN/Infinity are refused.

    Args:
        payload: The extract bytes.

    Returns:
        The parsed extract.

    Raises:
        ExtractSchemaError: On any violation; the message names the first problem.
    """
    try:
        document = json.loads(
            payload.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError:
        raise ExtractSchemaError("schema violation: the payload is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ExtractSchemaError(f"schema violation: the payload is not JSON ({exc})") from None
    validator = jsonschema.Draft202012Validator(load_extract_schema())
    problems = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if problems:
        first = problems[0]
        where = first.json_path if first.absolute_path else "the document"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ExtractSchemaError(f"schema violation at {where}: {first.message}{more}")
    _check_consistency(document)
    return dict(document)


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _check_consistency(document: dict[str, Any]) -> None:
    entries = document["entries"]
    ids = [entry["entry_id"] for entry in entries]
    if document["entry_count"] != len(entries):
        raise ExtractSchemaError(
            f"schema violation: entry_count is {document['entry_count']} but there are"
            f" {len(entries)} entries"
        )
    if len(set(ids)) != len(ids):
        raise ExtractSchemaError("schema violation: an entry_id appears more than once")
    # Plain text order and numeric order agree until IDs grow a seventh digit; accept both.
    if ids != sorted(ids) and ids != sorted(ids, key=lambda i: (len(i), i)):
        raise ExtractSchemaError("schema violation: entries are not sorted by entry_id")
    listed = set(ids)
    for kind in ("added", "status_changed"):
        unknown = [i for i in document["changes"][kind] if i not in listed]
        if unknown:
            raise ExtractSchemaError(
                f"schema violation: changes.{kind} names {unknown[0]}, which is not an entry"
            )
    first = document["sequence"] == 1
    if first != (document["previous_sha256"] is None):
        raise ExtractSchemaError(
            "schema violation: previous_sha256 must be null for sequence 1 and only then"
        )
    try:
        issued_at, next_update = (
            _timestamp(document["issued_at"]),
            _timestamp(document["next_update"]),
        )
    except ValueError as exc:
        raise ExtractSchemaError(
            f"schema violation: a timestamp is not a real date ({exc})"
        ) from None
    if next_update <= issued_at:
        raise ExtractSchemaError("schema violation: next_update is not after issued_at")


def require_extract_signing_purpose(certificate: x509.Certificate) -> None:
    """Refuse a signer certificate whose extendedKeyUsage excludes document signing.

    A certificate without the extension may sign extracts (keyUsage digitalSignature is
    checked separately); one with it must list a purpose in `EXTRACT_SIGNING_PURPOSES`.

    Raises:
        KeyUsageError: The certificate is for other purposes only (e.g. TLS).
    """
    try:
        purposes = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not EXTRACT_SIGNING_PURPOSES.intersection(purposes):
        listed = ", ".join(p.dotted_string for p in purposes) or "none"
        raise KeyUsageError(
            f"the signer's certificate {certificate.subject.rfc4514_string()} is not for"
            f" signing documents: its extendedKeyUsage lists {listed}, not"
            " id-kp-documentSigning (1.3.6.1.5.5.7.3.36), emailProtection or"
            " anyExtendedKeyUsage"
        )


def verify_extract(
    payload: bytes,
    signature: bytes,
    *,
    roots: Sequence[x509.Certificate],
    last_sequence: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Verify a signed extract and return it parsed.

    In order: the detached CMS signature over the exact payload bytes and the chain to one
    of `roots`; the signer's extendedKeyUsage, if any, allowing document signing; the
    payload against the `cpl-extract/1` schema; every certificate of the chain valid at
    the extract's `issued_at`; `sequence` above `last_sequence`; and `next_update` not
    yet passed at `at`.

    Args:
        payload: The extract bytes exactly as published.
        signature: The detached CMS signature, DER or PEM.
        roots: The trusted root certificates.
        last_sequence: The sequence of the last extract loaded, if any.
        at: The moment to judge freshness by (aware); defaults to now.

    Returns:
        The parsed extract.

    Raises:
        MalformedSignatureError: The signature cannot be read.
        BadSignatureError: The payload or signature was altered.
        UntrustedChainError: The signer does not chain to one of `roots`.
        KeyUsageError: The signer's certificate lacks digitalSignature, or its
            extendedKeyUsage excludes document signing.
        SignerNotValidError: A certificate of the chain was not valid at `issued_at`.
        ExtractSchemaError: The payload is not a valid `cpl-extract/1` document.
        ExtractSequenceError: `sequence` is not above `last_sequence`.
        ExtractExpiredError: `next_update` is before `at`.
    """
    moment = at if at is not None else utcnow()
    if moment.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    verified = verify_detached_untimed(payload, signature, trust_roots=roots)
    require_extract_signing_purpose(verified.signer)
    document = parse_extract(payload)
    issued_at = _timestamp(document["issued_at"])
    check_validity(verified.chain, at=issued_at)
    sequence = document["sequence"]
    if last_sequence is not None and sequence <= last_sequence:
        raise ExtractSequenceError(
            f"sequence {sequence} is not above the last loaded sequence {last_sequence}"
            " (an old or replayed extract)"
        )
    next_update = _timestamp(document["next_update"])
    if next_update < moment:
        raise ExtractExpiredError(
            f"next_update {document['next_update']} has passed (checked at"
            f" {moment.astimezone(UTC).isoformat()}); a newer extract should exist"
        )
    return document
