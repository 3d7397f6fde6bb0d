"""`cpl-service token …` and `cpl-service user …`: named API tokens and people."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.errors import InvalidInputError

if TYPE_CHECKING:
    from sqlmodel import Session

    from cpl_service.parties.actors import Actor


def command_line_actor() -> Actor:
    """Whoever runs the command, as the audit log names them."""
    # lazy: `cpl-service` registers every command at each start but runs one, so each
    # command here loads the modules it needs when it runs (a third of the start-up).
    from cpl_service.parties.actors import Actor

    try:
        who = getpass.getuser()
    except OSError:  # no login name (e.g. a container user without a passwd entry)
        who = "unknown user"
    return Actor(party_id=None, name=f"command line ({who})")


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    # lazy: see `command_line_actor`.
    from sqlmodel import Session

    from cpl_service.db import make_engine, upgrade

    engine = make_engine(settings)
    try:
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def parse_moment(text: str) -> datetime:
    """`YYYY-MM-DD` (midnight UTC) or an ISO 8601 time; a time without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `command_line_actor`.
    from cpl_service.parties import tokens
    from cpl_service.parties.service import get_party_by_name

    with _session(settings) as session:
        party = get_party_by_name(session=session, name=args.party)
        token, secret = tokens.create_token(
            session=session,
            party=party,
            name=args.name,
            created_by=command_line_actor(),
            now=utcnow(),
            expires_at=args.expires,
        )
    expiry = token.expires_at.isoformat() if token.expires_at else "never"
    print(f"created token {token.name!r} (id {token.id}) for {party.name}; expires {expiry}")
    print("its secret is shown once; store it now:")
    print(secret)
    return 0


def _token_list(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `command_line_actor`.
    from cpl_service.parties import tokens
    from cpl_service.parties.service import get_party_by_name

    with _session(settings) as session:
        party_id = get_party_by_name(session=session, name=args.party).id if args.party else None
        now = utcnow()
        for token in tokens.list_tokens(session=session, party_id=party_id):
            used = token.last_used_at.isoformat() if token.last_used_at else "never"
            expires = token.expires_at.isoformat() if token.expires_at else "never"
            print(
                f"{token.id}\tparty {token.party_id}\t{token.name}\t"
                f"{tokens.token_status(token, now=now)}\tcreated {token.created_at.isoformat()} "
                f"by {token.created_by}\texpires {expires}\tlast used {used}"
            )
    return 0


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `command_line_actor`.
    from cpl_service.parties import tokens
    from cpl_service.parties.service import get_party_by_name

    with _session(settings) as session:
        party = get_party_by_name(session=session, name=args.party)
        if args.id is not None:
            token = tokens.get_token(session=session, token_id=args.id, party_id=party.id)
        elif args.name:
            token = tokens.find_token(session=session, party=party, name=args.name)
        else:
            raise InvalidInputError("Say which token: --name NAME or --id ID.")
        tokens.revoke_token(
            session=session, token=token, revoked_by=command_line_actor(), now=utcnow()
        )
    print(f"revoked token {token.name!r} (id {token.id}) of {party.name}")
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not args.set_password:
        return None
    first = getpass.getpass("new password (at least 12 characters): ")
    if getpass.getpass("the same again: ") != first:
        raise InvalidInputError("The two passwords differ; nothing was changed.")
    return first


def _user_add(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `command_line_actor`.
    from cpl_service.parties import people
    from cpl_service.parties.service import get_party_by_name

    password = _read_password(args)
    if password is not None:  # refuse a bad password before anyone is added
        people.check_password(password, email=people.normalise_email(args.email))
    actor = command_line_actor()
    with _session(settings) as session:
        party = get_party_by_name(session=session, name=args.party)
        user, secret = people.add_person(
            session=session,
            party=party,
            name=args.name,
            email=args.email,
            is_admin=args.admin,
            created_by=actor,
            now=utcnow(),
        )
        if password is not None:
            people.set_password(
                session=session, user=user, password=password, actor=actor, now=utcnow()
            )
    role = "admin person" if user.is_admin else "person"
    print(f"added {role} {user.describe()} (id {user.id}) to {party.name}")
    if password is None:
        print("they choose a password with this one-time link (valid 7 days):")
        print(f"{settings.site_url}/set-password?token={secret}")
    else:
        print("their password is set; they can sign in now")
    return 0


def _user_disable(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `command_line_actor`.
    from cpl_service.parties import people

    with _session(settings) as session:
        user = people.get_person_by_email(session=session, email=args.email)
        people.disable_person(
            session=session, user=user, disabled_by=command_line_actor(), now=utcnow()
        )
    print(f"disabled {user.describe()}: refused from their next request on")
    return 0


def _user_list(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: see `command_line_actor`.
    from cpl_service.parties import people
    from cpl_service.parties.service import get_party_by_name

    with _session(settings) as session:
        party_id = get_party_by_name(session=session, name=args.party).id if args.party else None
        for user in people.list_people(session=session, party_id=party_id):
            state = "disabled" if user.disabled_at else "active"
            if not user.disabled_at and user.password_hash is None:
                state = "no password yet"
            print(
                f"{user.id}\tparty {user.party_id}\t{user.name}\t{user.email}\t"
                f"{'admin' if user.is_admin else 'member'}\t{state}"
            )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="people who sign in to the pages").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="add a person; prints a one-time set-password link")
    add.add_argument("--party", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--admin", action="store_true", help="may manage the party's people")
    how = add.add_mutually_exclusive_group()
    how.add_argument("--set-password", action="store_true", help="ask for it on the terminal")
    how.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    add.set_defaults(handler=_user_add)
    disable = user.add_parser("disable", help="disable a person at once")
    disable.add_argument("--email", required=True)
    disable.set_defaults(handler=_user_disable)
    people_list = user.add_parser("list", help="list people")
    people_list.add_argument("--party")
    people_list.set_defaults(handler=_user_list)

    token = sub.add_parser("token", help="named API tokens of a party").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="create a token and print its secret (last line)")
    create.add_argument("--party", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--expires", type=parse_moment, help="YYYY-MM-DD or an ISO 8601 time")
    create.set_defaults(handler=_token_create)
    listing = token.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--party")
    listing.set_defaults(handler=_token_list)
    revoke = token.add_parser("revoke", help="revoke a token from the next request on")
    revoke.add_argument("--party", required=True)
    revoke.add_argument("--name")
    revoke.add_argument("--id", type=int)
    revoke.set_defaults(handler=_token_revoke)
