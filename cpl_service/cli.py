"""The `cpl-service` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from cpl_service.config import Settings, get_settings
from cpl_service.errors import CplError
from cpl_service.extracts.commands import register as register_extract_commands
from cpl_service.notices.commands import register as register_notices_commands
from cpl_service.parties.commands import command_line_actor
from cpl_service.parties.commands import register as register_people_commands
from cpl_service.publication.commands import register as register_import_cpl

log = logging.getLogger("cpl_service")

Handler = Callable[[argparse.Namespace, Settings], int]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: the web stack (FastAPI, every route, uvicorn) adds about a third to the
    # command's import time (measured); only `serve` needs it, not `notices run` from cron.
    import uvicorn

    from cpl_service.api.input_guard import MAX_REQUEST_HEAD_BYTES
    from cpl_service.main import create_app
    from cpl_service.startup import prepare

    signer = prepare(settings)
    app = create_app(settings)
    app.state.signer = signer
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        # The request line and headers together; the app refuses headers over 16 KB with a
        # problem response before this protocol-level cap is reached.
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
    )
    return 0


def _db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    # lazy: every command is registered at each start, one runs; as in `*/commands.py`,
    # a command loads what it needs (the database, the parties' services) when it runs.
    from cpl_service.db import make_engine, upgrade

    upgrade(make_engine(settings))
    print("database is at the latest schema")
    return 0


def _party_add(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `_db_upgrade`.
    from sqlmodel import Session

    from cpl_service.db import make_engine, upgrade
    from cpl_service.parties.service import create_party

    engine = make_engine(settings)
    upgrade(engine)
    with Session(engine) as session:
        party, token = create_party(
            session=session,
            name=args.name,
            role=args.role,
            emails=args.email,
            created_by=command_line_actor(),
        )
    print(f"created party {party.name!r} (role {party.role}, id {party.id})")
    print("its token is shown once; store it now:")
    print(token)
    return 0


def _party_add_certificate(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `_db_upgrade`.
    from sqlmodel import Session

    from cpl_service.db import make_engine, upgrade
    from cpl_service.parties.service import add_certificate, get_party_by_name

    engine = make_engine(settings)
    upgrade(engine)
    with Session(engine) as session:
        party = get_party_by_name(session=session, name=args.party)
        record = add_certificate(session=session, party=party, pem=Path(args.file).read_bytes())
    print(f"registered certificate {record.subject} (SHA-256 {record.fingerprint_sha256})")
    print(f"for party {args.party!r}; valid until {record.not_valid_after.isoformat()}")
    return 0


def _openapi(_args: argparse.Namespace, _settings: Settings) -> int:
    """Print the app's OpenAPI description, as committed in `schemas/openapi.json`."""
    # lazy: as for `serve`, only this command needs the web stack.
    from cpl_service.main import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(data_dir=Path(folder)))
        json.dump(app.openapi(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        app.state.engine.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cpl-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply migrations").set_defaults(handler=_db_upgrade)

    party = sub.add_parser("party", help="manage parties").add_subparsers(
        dest="party_command", required=True
    )
    add = party.add_parser("add", help="create a party and print its token")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=["manufacturer", "supplier", "dcc", "secas"])
    add.add_argument("--email", action="append", required=True)
    add.set_defaults(handler=_party_add)
    cert = party.add_parser("add-certificate", help="register a submission-signing certificate")
    cert.add_argument("--party", required=True)
    cert.add_argument("file")
    cert.set_defaults(handler=_party_add_certificate)

    sub.add_parser(
        "openapi", help="print the OpenAPI description (schemas/openapi.json)"
    ).set_defaults(handler=_openapi)

    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


# The command groups each domain package defines (notices, import-cpl, pki and extract).
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    register_notices_commands,
    register_import_cpl,
    register_extract_commands,
    register_people_commands,
]


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args, get_settings())
    except CplError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
