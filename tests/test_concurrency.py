"""Concurrency guarantees, proven with truly concurrent requests against real servers.

They run on every backend; on PostgreSQL (CI sets CPL_TEST_DATABASE_URL) they prove the
production database's behaviour: one winner per entry, consistent submissions, and extract
sequence numbers that are never reused or skipped across several server processes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import httpx
from sqlmodel import Session

from cpl_service.config import Settings
from cpl_service.submissions.models import Submission
from tests.conftest import MakeParty, auth
from tests.factories import make_entry
from tests.server import running_server


def _race(calls: Sequence[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls at the same instant, one thread each."""
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finished = [r for r in results if r is not None]
    assert len(finished) == len(calls), "a racing call raised instead of answering"
    return finished


def test_two_reviewers_on_one_entry_exactly_one_wins(
    settings: Settings, session: Session, make_party: MakeParty, tmp_path: Path
) -> None:
    _, first = make_party("secas")
    _, second = make_party("secas")
    entries = [make_entry(session) for _ in range(8)]
    with (
        running_server(settings, tmp_path / "server.log") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        for entry in entries:
            url = f"/api/v1/entries/{entry.entry_id}"
            responses = _race(
                [
                    partial(http.post, f"{url}/approve", headers=auth(first)),
                    partial(
                        http.post, f"{url}/reject", json={"reason": "no"}, headers=auth(second)
                    ),
                ]
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [200, 409], [r.text for r in responses]
            history = http.get(url, headers=auth(first)).json()["history"]
            decisions = [e for e in history if e["action"] in ("approved", "rejected")]
            assert len(decisions) == 1


def test_submission_approval_racing_a_rejection_ends_consistent(
    settings: Settings, session: Session, make_party: MakeParty, tmp_path: Path
) -> None:
    maker, _ = make_party("manufacturer")
    _, secas = make_party("secas")
    assert maker.id is not None
    outcomes: Counter[str] = Counter()
    with (
        running_server(settings, tmp_path / "server.log") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        for round_ in range(6):
            submission = Submission(
                party_id=maker.id, filename="s.xlsx", content_sha256=f"{round_:064d}", size_bytes=1
            )
            session.add(submission)
            session.commit()
            members = [
                make_entry(session, party_id=maker.id, submission_id=submission.id)
                for _ in range(5)
            ]
            victim = members[round_ % 5]
            approve, reject = _race(
                [
                    partial(
                        http.post,
                        f"/api/v1/submissions/{submission.id}/approve",
                        headers=auth(secas),
                    ),
                    partial(
                        http.post,
                        f"/api/v1/entries/{victim.entry_id}/reject",
                        json={"reason": "race"},
                        headers=auth(secas),
                    ),
                ]
            )
            statuses = {
                e.entry_id: http.get(f"/api/v1/entries/{e.entry_id}", headers=auth(secas)).json()[
                    "status"
                ]
                for e in members
            }
            others = {k: v for k, v in statuses.items() if k != victim.entry_id}
            # Consistent means all or nothing for the entries the approval saw pending:
            if approve.status_code == 200:
                approved = {e["entry_id"] for e in approve.json()}
                assert set(others.values()) == {"active"}
                assert approved >= set(others)
                if reject.status_code == 200:  # the rejection landed first
                    assert statuses[victim.entry_id] == "rejected"
                    assert victim.entry_id not in approved
                    outcomes["rejected-then-approved"] += 1
                else:
                    assert reject.status_code == 409
                    assert statuses[victim.entry_id] == "active"
                    outcomes["approved"] += 1
            else:  # the approval met the rejection mid-way and rolled back entirely
                assert approve.status_code == 409 and reject.status_code == 200
                assert statuses[victim.entry_id] == "rejected"
                assert set(others.values()) == {"pending_review"}
                outcomes["approval-refused"] += 1
    assert sum(outcomes.values()) == 6


def test_concurrent_publishing_across_server_processes(
    settings: Settings, session: Session, make_party: MakeParty, tmp_path: Path
) -> None:
    _, secas = make_party("secas")
    for _ in range(3):
        make_entry(session, status="active")
    with ExitStack() as stack:
        bases = [
            stack.enter_context(running_server(settings, tmp_path / f"server{i}.log"))
            for i in range(2)
        ]
        clients = [stack.enter_context(httpx.Client(base_url=b, timeout=60)) for b in bases]
        calls = [
            partial(c.post, "/api/v1/extracts", headers=auth(secas))
            for c in clients
            for _ in range(4)
        ]
        responses = _race(calls)
        assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
        sequences = sorted(r.json()["sequence"] for r in responses)
        assert sequences == list(range(1, 9))
        http = clients[0]
        previous = None
        for sequence in sequences:
            payload = http.get(f"/api/v1/extracts/{sequence}", headers=auth(secas)).content
            document = httpx.Response(200, content=payload).json()
            assert document["sequence"] == sequence
            assert document["previous_sha256"] == previous
            previous = hashlib.sha256(payload).hexdigest()
