"""Where an upload's time goes: the CPU time of each phase of an N-row upload, in process.

Calls `submissions.service.submit` (and `entry_summaries`, as the route does) on a fresh
SQLite database, or on a scratch PostgreSQL database (it is emptied!), and prints the CPU
time of each phase of the best of three uploads (after a warm-up), in milliseconds:
reading the workbook, checking it, building the check context, storing, registering the
certificates and the answer's summaries.

    .venv/bin/python bench/upload_phases.py --rows 5000 --certificates unique
    .venv/bin/python bench/upload_phases.py --rows 5000 --certificates shared --wall
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session
from support import build_workbook, reset

from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.db import make_engine, upgrade
from cpl_service.parties.models import Party
from cpl_service.parties.service import create_party
from cpl_service.submissions import service
from cpl_service.workbook.template import build_template

PHASES = (
    "read_workbook",
    "check_workbook",
    "_context",
    "_store",
    "_register_certificates",
    "entry_summaries",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--certificates", choices=("shared", "unique"), default="unique")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (it is emptied!)")
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    args = parser.parse_args()
    clock: Callable[[], float] = time.perf_counter if args.wall else time.process_time

    spent: dict[str, float] = {}

    def timed(name: str) -> None:
        function = getattr(service, name)

        @functools.wraps(function)
        def wrapper(*a: Any, **k: Any) -> Any:
            started = clock()
            try:
                return function(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + clock() - started

        setattr(service, name, wrapper)

    for name in PHASES:
        timed(name)

    reset(args.database_url)
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), database_url=args.database_url)
    engine = make_engine(settings)
    upgrade(engine)
    with Session(engine) as session:
        party, _ = create_party(
            session=session, name="Bench", role="dcc", emails=["bench@dcc.example"]
        )
        session.commit()
        party_id = party.id
        template = build_template(specifications=service.specification_infos(session))

    def upload(offset: int) -> dict[str, float]:
        content = build_workbook(template, args.rows, offset=offset, certificates=args.certificates)
        spent.clear()
        with Session(engine) as session:
            submitter = session.get(Party, party_id)
            assert submitter is not None
            started = clock()
            result = service.submit(
                session=session,
                settings=settings,
                party=submitter,
                filename="bench.xlsx",
                content=content,
                now=utcnow(),
                notify=lambda **_: None,
            )
            service.entry_summaries(session, result.submission)
            spent["whole upload"] = clock() - started
        return dict(spent)

    upload(10**6)  # warm-up: imports, statement caches
    best = min((upload(n * args.rows) for n in range(1, 4)), key=lambda s: s["whole upload"])
    what = "wall" if args.wall else "CPU"
    print(f"{args.rows} rows, {args.certificates} certificates; {what} ms, best of three")
    for name, seconds in sorted(best.items(), key=lambda item: -item[1]):
        print(f"{name:28} {seconds * 1000:8.1f}")


if __name__ == "__main__":
    main()
