"""The `pki` and `extract` command groups of `cpl-service`."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.errors import CplError, InvalidInputError

if TYPE_CHECKING:
    from cryptography import x509

BANNER = (
    "*" * 72 + "\n"
    "*  DEVELOPMENT ONLY - NOT FOR PRODUCTION\n"
    "*  These are throw-away stand-ins for IKI signing credentials. Nothing\n"
    "*  signed with them should be trusted outside development and testing.\n" + "*" * 72
)


def _pki_init_dev(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: `cpl-service` registers every command at each start but runs one; this
    # one's modules (the signing stack, the HTTP client) load when it runs.
    from cpl_service.signing.devpki import init_dev_pki

    if args.pkcs11 is not None:
        return _pki_init_dev_token(args, settings)
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


def _pki_init_dev_token(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `_pki_init_dev`.
    from cpl_service.signing.devtoken import init_dev_token_pki

    password = settings.signing_key_password
    pki = init_dev_token_pki(
        Path(args.directory),
        uri_text=args.pkcs11,
        module=args.pkcs11_module or settings.pkcs11_module,
        pin=password.get_secret_value() if password is not None else None,
    )
    print(BANNER)
    print(f"root CA certificate:     {pki.root_path}")
    print(f"issuing CA certificate:  {pki.issuing_ca_path}")
    print(f"signer certificate:      {pki.signer_path}")
    print(f"signer private key:      {pki.key_uri}  (generated inside the token; not exportable)")
    print(f"signer chain:            {pki.chain_path}")
    print(f"signer valid until:      {pki.signer.not_valid_after_utc.isoformat()}")
    print(
        f"to use it: CPL_SIGNING_KEY='{pki.key_uri}' CPL_PKCS11_MODULE={pki.module}"
        f" CPL_SIGNING_CHAIN={pki.chain_path} and the PIN in CPL_SIGNING_KEY_PASSWORD (or"
        f" pin-source in the URI); verifiers trust {pki.root_path}"
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
    # lazy: see `_pki_init_dev`.
    from cpl_service.extracts.verify import verify_extract
    from cpl_service.signing.certificates import load_pem_certificates

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


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--every needs at least 1 second")
    return value


def _extract_follow(args: argparse.Namespace, _settings: Settings) -> int:
    # lazy: see `_pki_init_dev`.
    from cpl_service.extracts.follow import (
        ExtractService,
        Follower,
        follow,
        install_stop_handlers,
    )
    from cpl_service.signing.certificates import load_pem_certificates

    token = _read(args.token_file, "token file").decode("utf-8").strip()
    if not token:
        raise InvalidInputError(f"the token file {args.token_file} is empty")
    roots: list[x509.Certificate] = []
    for path in args.ca:
        roots += load_pem_certificates(_read(path, "CA file"), what=path)
    stop = threading.Event()
    if args.every is not None:
        install_stop_handlers(stop)
    service = ExtractService(args.url, token)
    try:
        follower = Follower(
            service=service,
            directory=Path(args.dir),
            roots=roots,
            acknowledge=args.acknowledge,
        )
        return int(follow(follower, every=args.every, out=sys.stdout, stop=stop))
    finally:
        service.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `pki init-dev` and `extract verify` to the `cpl-service` parser."""
    pki = sub.add_parser("pki", help="signing credentials").add_subparsers(
        dest="pki_command", required=True
    )
    init_dev = pki.add_parser(
        "init-dev", help="create a DEVELOPMENT ONLY root CA, issuing CA and signing key"
    )
    init_dev.add_argument("directory", metavar="DIR")
    init_dev.add_argument(
        "--pkcs11",
        metavar="URI",
        help="generate the signing key inside the PKCS#11 token named by this pkcs11: URI"
        " (token=LABEL, optional object=KEY-LABEL, id=, pin-source=file:PATH); the PIN may"
        " instead come from CPL_SIGNING_KEY_PASSWORD",
    )
    init_dev.add_argument(
        "--pkcs11-module",
        type=Path,
        metavar="MODULE.so",
        help="the PKCS#11 module (default: CPL_PKCS11_MODULE, or the URI's module-path)",
    )
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

    follow = extract.add_parser(
        "follow",
        help="keep a verified mirror of the published extracts (the DCC's client)",
        description="Poll the latest extract, verify it (signature, chain to ROOT.pem, schema,"
        " sequence, next_update, previous_sha256 chain) and write it atomically into DIR."
        " Exit codes: 0 ok, 1 refused (signature, signer, schema, broken chain), 2 bad"
        " arguments or damaged DIR, 3 rollback refused, 4 freeze refused, 5 service"
        " unavailable.",
    )
    follow.add_argument(
        "--url", required=True, metavar="BASE", help="the service, e.g. https://cpl.example"
    )
    follow.add_argument(
        "--token-file", required=True, metavar="F", help="file holding the DCC's bearer token"
    )
    follow.add_argument(
        "--ca",
        metavar="ROOT.pem",
        action="append",
        required=True,
        help="trusted root certificate(s), PEM; may be repeated",
    )
    follow.add_argument("--dir", required=True, metavar="DIR", help="the mirror directory")
    follow.add_argument(
        "--every",
        type=_positive_seconds,
        metavar="SECONDS",
        help="keep polling, once every SECONDS, until SIGTERM (default: poll once)",
    )
    follow.add_argument(
        "--acknowledge",
        action="store_true",
        help="post 'loaded' for each extract kept, 'rejected' with the reason for one refused",
    )
    follow.set_defaults(handler=_extract_follow)
