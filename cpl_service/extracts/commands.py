"""The `pki` and `extract` command groups of `cpl-service`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography import x509

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.errors import CplError, InvalidInputError
from cpl_service.extracts.verify import verify_extract
from cpl_service.signing.certificates import load_pem_certificates
from cpl_service.signing.devpki import init_dev_pki

BANNER = (
    "*" * 72 + "\n"
    "*  DEVELOPMENT ONLY - NOT FOR PRODUCTION\n"
    "*  These are throw-away stand-ins for IKI signing credentials. Nothing\n"
    "*  signed with them should be trusted outside development and testing.\n" + "*" * 72
)


def _pki_init_dev(args: argparse.Namespace, _settings: Settings) -> int:
    pki = init_dev_pki(Path(args.directory))
    print(BANNER)
    print(f"root CA certificate:     {pki.root_path}")
    print(f"issuing CA certificate:  {pki.issuing_ca_path}")
    print(f"signer certificate:      {pki.signer_path}")
    print(f"signer private key:      {pki.key_path}  (unencrypted, mode 0600)")
    print(f"signer chain:            {pki.chain_path}")
    print(f"signer valid until:      {pki.signer.certificate.not_valid_after_utc.isoformat()}")
    print(
        f"to use it: CPL_SIGNING_KEY={pki.key_path} CPL_SIGNING_CHAIN={pki.chain_path};"
        f" verifiers trust {pki.root_path}"
    )
    print(BANNER)
    return 0


def parse_moment(text: str) -> datetime:
    """An RFC 3339 timestamp, or a `YYYY-MM-DD` date meaning its midnight UTC.

    Raises:
        argparse.ArgumentTypeError: The text is neither.
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 timestamp or a YYYY-MM-DD date"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (e.g. a trailing Z)")
    return moment.astimezone(UTC)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the {what} {path}: {exc.strerror}") from None


def _extract_verify(args: argparse.Namespace, _settings: Settings) -> int:
    try:
        payload = _read(args.payload, "payload")
        signature = _read(args.signature, "signature")
        roots: list[x509.Certificate] = []
        for path in args.ca:
            roots += load_pem_certificates(_read(path, "CA file"), what=path)
        extract = verify_extract(
            payload,
            signature,
            roots=roots,
            last_sequence=args.last_sequence,
            at=args.at or utcnow(),
        )
    except CplError as exc:
        print(f"FAILED: {exc.title}: {exc.detail}", file=sys.stderr)
        return 1
    print(
        f"OK: extract {extract['sequence']} verified (issued {extract['issued_at']},"
        f" next update {extract['next_update']}, {extract['entry_count']} entries,"
        f" {len(extract['changes']['added'])} added,"
        f" {len(extract['changes']['status_changed'])} status changes)"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `pki init-dev` and `extract verify` to the `cpl-service` parser."""
    pki = sub.add_parser("pki", help="signing credentials").add_subparsers(
        dest="pki_command", required=True
    )
    init_dev = pki.add_parser(
        "init-dev", help="create a DEVELOPMENT ONLY root CA, issuing CA and signing key"
    )
    init_dev.add_argument("directory", metavar="DIR")
    init_dev.set_defaults(handler=_pki_init_dev)

    extract = sub.add_parser("extract", help="signed CPL extracts").add_subparsers(
        dest="extract_command", required=True
    )
    verify = extract.add_parser(
        "verify", help="verify an extract and its detached signature as the DCC would"
    )
    verify.add_argument("payload", metavar="PAYLOAD")
    verify.add_argument("signature", metavar="SIGNATURE", help="detached CMS, DER or PEM")
    verify.add_argument(
        "--ca",
        metavar="ROOT.pem",
        action="append",
        required=True,
        help="trusted root certificate(s), PEM; may be repeated",
    )
    verify.add_argument(
        "--last-sequence",
        type=int,
        metavar="N",
        help="the sequence of the last extract loaded; this one must be above it",
    )
    verify.add_argument(
        "--at",
        type=parse_moment,
        metavar="WHEN",
        help="judge next_update at this RFC 3339 time or YYYY-MM-DD date (default: now)",
    )
    verify.set_defaults(handler=_extract_verify)
