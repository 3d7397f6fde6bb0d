"""`cpl-service notices run`: queue what is due and send the outbox, once or forever."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import date
from types import FrameType
from typing import TYPE_CHECKING

from cpl_service.clock import today, utcnow
from cpl_service.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cpl_service.notices.service import RunSummary

log = logging.getLogger(__name__)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--every needs at least 1 second")
    return value


def _report(summary: RunSummary, as_of: date) -> None:
    print(f"notices run as of {as_of.isoformat()}: {summary.line()}", flush=True)
    if summary.error:
        print(f"last error: {summary.error}", flush=True)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: `cpl-service` registers every command at each start but runs one; this one's
    # modules (the notices service, the database) load when it runs.
    from cpl_service.db import make_engine, upgrade
    from cpl_service.notices.service import run_notices

    engine = make_engine(settings)
    try:
        upgrade(engine)
        if args.every is None:
            as_of = args.as_of or today()
            summary = run_notices(engine=engine, settings=settings, as_of=as_of, clock=utcnow)
            _report(summary, as_of)
            return 1 if summary.failed else 0
        return _run_forever(args.every, engine=engine, settings=settings)
    finally:
        engine.dispose()


def _run_forever(every: float, *, engine: Engine, settings: Settings) -> int:
    # lazy: see `_run`.
    from cpl_service.notices.service import run_notices

    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received signal %d; stopping after the current run", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(f"running notices every {every:g} seconds; stop with SIGTERM", flush=True)
    while not stop.is_set():
        as_of = today()
        try:
            summary = run_notices(engine=engine, settings=settings, as_of=as_of, clock=utcnow)
            _report(summary, as_of)
        except Exception:
            # A database hiccup must not end the scheduler; the next run tries again.
            log.exception("notices run failed; retrying in %g seconds", every)
        stop.wait(every)
    print("stopped", flush=True)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `notices` command group to the `cpl-service` parser."""
    notices = sub.add_parser(
        "notices", help="CPA expiry, publication and outcome emails"
    ).add_subparsers(dest="notices_command", required=True)
    run = notices.add_parser(
        "run",
        help="queue the notices due and send every queued one (safe to repeat)",
        description=(
            "Queue the CPA notices due on the date and the DCC-overdue alerts, then send "
            "every queued notice. Each notice goes out exactly once, however often this "
            "runs. Exit status 1 when a send failed (it stays queued for the next run)."
        ),
    )
    group = run.add_mutually_exclusive_group()
    group.add_argument(
        "--as-of", type=_iso_date, default=None, help="the date to compute notices for (YYYY-MM-DD)"
    )
    group.add_argument(
        "--every",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="keep running, once every SECONDS (for a container without cron)",
    )
    run.set_defaults(handler=_run)
