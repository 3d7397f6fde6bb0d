"""The DCC's verifying client: keep a verified mirror of the published extracts.

`cpl-service extract follow` polls `GET /api/v1/extracts/latest` (with `If-None-Match`),
downloads the payload and its detached signature, and hands an extract over only when
`verify_extract` accepts it (signature, chain to the given root, schema, certificate
validity, sequence above the last one kept, `next_update` not passed) and its
`previous_sha256` continues the chain from the last extract kept — fetching and checking
any skipped sequences in between. Each verified extract is written into the mirror
directory atomically (a temporary file, fsync, `os.replace`, fsync of the directory):
`cpl-extract-N.json`, `cpl-extract-N.p7s`, and last the `current` pointer. Nothing is
written until everything of a poll has been downloaded and verified, so a refusal or a
network failure leaves the directory as it was.

Every poll prints one `logfmt` line (`time=… status=… code=…`) and ends with one of the
exit codes below, for an operator's monitoring.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx
from cryptography import x509

from cpl_service.clock import rfc3339, utcnow
from cpl_service.errors import CplError
from cpl_service.extracts.verify import (
    ExtractExpiredError,
    ExtractSequenceError,
    verify_extract,
)

API = "/api/v1"
CURRENT = "current"
TIMEOUT_SECONDS = 60.0
# The most skipped extracts one poll fetches (years of daily extracts); beyond, refuse.
MAX_GAP = 10_000


class ExitCode(IntEnum):
    """How a poll ended; the process exits with the code of its (last) poll."""

    OK = 0  # a new extract kept, nothing new and still fresh, or none published yet
    REFUSED = 1  # bad signature, untrusted signer, schema violation or broken chain
    CONFIG = 2  # bad arguments, unreadable token or CA file, damaged mirror directory
    ROLLBACK = 3  # the server offered a sequence not above the last one kept
    FREEZE = 4  # next_update has passed and nothing newer is published
    UNAVAILABLE = 5  # network failure or unexpected HTTP answer; nothing was written


class FollowError(CplError):
    """A poll that must not hand anything over."""

    code = ExitCode.REFUSED


class BrokenChainError(FollowError):
    """An extract's `previous_sha256` does not continue the chain of extracts kept."""

    slug = "broken-chain"
    title = "The extract does not continue the chain"


class RollbackError(FollowError):
    """The server offered an extract not newer than the last one kept."""

    slug = "rollback"
    title = "Rollback refused"
    code = ExitCode.ROLLBACK


class FreezeError(FollowError):
    """`next_update` of the newest extract has passed and nothing newer is published."""

    slug = "freeze"
    title = "Freeze refused"
    code = ExitCode.FREEZE


class UnavailableError(FollowError):
    """The service could not be reached or answered unexpectedly."""

    slug = "unavailable"
    title = "The service is unavailable"
    code = ExitCode.UNAVAILABLE


class MirrorStateError(FollowError):
    """The mirror directory's `current` extract is missing, damaged or not verifiable."""

    slug = "mirror-damaged"
    title = "The mirror directory is damaged"
    code = ExitCode.CONFIG


@dataclass(frozen=True)
class Kept:
    """The last extract handed over, as recorded in DIR/current.

    Attributes:
        sequence: Its sequence number.
        sha256: SHA-256 of its payload, lower-case hex.
        issued_at: Its `issued_at`.
        next_update: Its `next_update`.
        acknowledged: Whether its acknowledgement has been posted (with --acknowledge).
    """

    sequence: int
    sha256: str
    issued_at: datetime
    next_update: datetime
    acknowledged: bool = False


@dataclass(frozen=True)
class Fetched:
    """One downloaded and verified extract, not yet written."""

    sequence: int
    payload: bytes
    signature: bytes
    document: dict[str, Any] = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()


@dataclass(frozen=True)
class PollResult:
    """What one poll did, for its log line and exit code."""

    status: str
    code: ExitCode
    sequence: int | None = None
    kept: tuple[int, ...] = ()
    next_update: datetime | None = None
    reason: str | None = None
    detail: str | None = None
    acknowledged: tuple[int, ...] = ()

    def line(self, now: datetime) -> str:
        """The poll as one logfmt line."""
        fields: list[tuple[str, object]] = [
            ("time", rfc3339(now)),
            ("event", "cpl-extract-follow"),
            ("status", self.status),
            ("code", int(self.code)),
        ]
        if self.sequence is not None:
            fields.append(("sequence", self.sequence))
        if self.kept:
            fields.append(("kept", ",".join(map(str, self.kept))))
        if self.acknowledged:
            fields.append(("acknowledged", ",".join(map(str, self.acknowledged))))
        if self.next_update is not None:
            fields.append(("next_update", rfc3339(self.next_update)))
        if self.reason:
            fields.append(("reason", self.reason))
        if self.detail:
            fields.append(("detail", json.dumps(self.detail)))
        return " ".join(f"{k}={v}" for k, v in fields)


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# ------------------------------------------------------------------ the mirror on disk


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a reader sees the old or the new file, never a part.

    Writes a temporary file in the same directory, fsyncs it, renames it over `path`
    and fsyncs the directory. The temporary file is removed if anything fails.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def payload_name(sequence: int) -> str:
    """The file name of an extract's payload in the mirror."""
    return f"cpl-extract-{sequence}.json"


def signature_name(sequence: int) -> str:
    """The file name of an extract's detached signature in the mirror."""
    return f"cpl-extract-{sequence}.p7s"


def _pointer(kept: Kept) -> bytes:
    document = {
        "sequence": kept.sequence,
        "sha256": kept.sha256,
        "payload": payload_name(kept.sequence),
        "signature": signature_name(kept.sequence),
        "issued_at": rfc3339(kept.issued_at),
        "next_update": rfc3339(kept.next_update),
        "acknowledged": kept.acknowledged,
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _kept_from(fetched: Fetched) -> Kept:
    return Kept(
        sequence=fetched.sequence,
        sha256=fetched.sha256,
        issued_at=_timestamp(fetched.document["issued_at"]),
        next_update=_timestamp(fetched.document["next_update"]),
    )


def read_mirror(directory: Path, roots: Sequence[x509.Certificate]) -> Kept | None:
    """The last extract kept in `directory`, re-verified; None for an empty mirror.

    The `current` pointer only says which files to look at: the payload and signature are
    verified again (signature, chain, schema, certificates valid at `issued_at`) and must
    have the sequence and digest the pointer records.

    Raises:
        MirrorStateError: The pointer or its files are unreadable or do not verify.
    """
    pointer = directory / CURRENT
    if not pointer.exists():
        return None
    try:
        recorded = json.loads(pointer.read_text(encoding="utf-8"))
        sequence = int(recorded["sequence"])
        payload = (directory / payload_name(sequence)).read_bytes()
        signature = (directory / signature_name(sequence)).read_bytes()
        issued_at = _timestamp(str(recorded["issued_at"]))
        acknowledged = bool(recorded.get("acknowledged", False))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MirrorStateError(f"{pointer} or the files it names cannot be read: {exc}") from None
    try:
        document = verify_extract(payload, signature, roots=roots, at=issued_at)
    except CplError as exc:
        raise MirrorStateError(
            f"the kept extract {sequence} in {directory} no longer verifies: {exc.detail}"
        ) from None
    fetched = Fetched(sequence=sequence, payload=payload, signature=signature, document=document)
    if document["sequence"] != sequence or fetched.sha256 != recorded.get("sha256"):
        raise MirrorStateError(f"{pointer} does not describe the files it names")
    kept = _kept_from(fetched)
    return Kept(**{**vars(kept), "acknowledged": acknowledged})


def hand_over(directory: Path, extracts: Sequence[Fetched]) -> Kept:
    """Write verified extracts into the mirror, oldest first, then move `current`.

    Args:
        directory: The mirror directory.
        extracts: Verified extracts in sequence order (at least one).

    Returns:
        The new `current`.
    """
    for fetched in extracts:
        write_atomically(directory / payload_name(fetched.sequence), fetched.payload)
        write_atomically(directory / signature_name(fetched.sequence), fetched.signature)
    kept = _kept_from(extracts[-1])
    write_atomically(directory / CURRENT, _pointer(kept))
    return kept


def mark_acknowledged(directory: Path, kept: Kept) -> Kept:
    """Record in `current` that the acknowledgement of the kept extract was posted."""
    updated = Kept(**{**vars(kept), "acknowledged": True})
    write_atomically(directory / CURRENT, _pointer(updated))
    return updated


# ------------------------------------------------------------------------- the service


class ExtractService:
    """The few calls the follower makes, over one HTTP connection pool.

    Every failure to get a usable answer becomes `UnavailableError`.
    """

    def __init__(self, base_url: str, token: str, *, transport: httpx.BaseTransport | None = None):
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + API,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self._client.get(path, headers=headers)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"GET {path} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise UnavailableError(
                f"GET {path} was refused ({response.status_code}); check the DCC token file"
            )
        return response

    def latest(self, etag: str | None) -> httpx.Response:
        """`GET /extracts/latest`, conditional on `etag`: a 200, 304 or 404 response."""
        response = self._get("/extracts/latest", {"If-None-Match": etag} if etag else None)
        if response.status_code not in (200, 304, 404):
            raise UnavailableError(f"GET /extracts/latest answered {response.status_code}")
        return response

    def payload(self, sequence: int) -> bytes:
        return self._content(f"/extracts/{sequence}")

    def signature(self, sequence: int) -> bytes:
        return self._content(f"/extracts/{sequence}/signature")

    def _content(self, path: str) -> bytes:
        response = self._get(path)
        if response.status_code != 200:
            raise UnavailableError(f"GET {path} answered {response.status_code}")
        return response.content

    def acknowledge(self, sequence: int, status: str, detail: str | None = None) -> None:
        """Post the DCC's acknowledgement; one already recorded (409) counts as done."""
        body: dict[str, str] = {"status": status}
        if detail:
            body["detail"] = detail[:2000]
        path = f"/extracts/{sequence}/acknowledgement"
        try:
            response = self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"POST {path} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code not in (200, 409):
            raise UnavailableError(f"POST {path} answered {response.status_code}")


# ---------------------------------------------------------------------------- one poll


@dataclass
class Follower:
    """Follows one service into one mirror directory.

    Attributes:
        service: The HTTP calls.
        directory: The mirror directory (created if missing).
        roots: The trusted root certificate(s).
        acknowledge: Whether to post acknowledgements.
        clock: The current time (aware); tests move it to make a freeze.
    """

    service: ExtractService
    directory: Path
    roots: Sequence[x509.Certificate]
    acknowledge: bool = False
    clock: Callable[[], datetime] = utcnow

    def poll(self) -> PollResult:
        """Poll once; never raises for a refusal or a network failure, only reports it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        offered: int | None = None
        kept: Kept | None = None
        try:
            kept = read_mirror(self.directory, self.roots)
            response = self.service.latest(f'"{kept.sha256}"' if kept else None)
            offered = _offered_sequence(response)
            return self._answer(kept, response)
        except FollowError as exc:
            result = _refusal(exc, offered)
        except ExtractSequenceError as exc:
            result = _refusal(RollbackError(exc.detail), offered)
        except ExtractExpiredError as exc:
            result = _refusal(FreezeError(exc.detail), offered)
        except CplError as exc:  # signature, signer, schema and other verification refusals
            result = _refusal(exc, offered)
        except OSError as exc:  # the mirror directory cannot be written (full, read-only)
            result = _refusal(MirrorStateError(f"cannot write to {self.directory}: {exc}"), None)
        newer = offered is not None and (kept is None or offered > kept.sequence)
        if self.acknowledge and result.code == ExitCode.REFUSED and offered is not None and newer:
            with contextlib.suppress(UnavailableError):
                self.service.acknowledge(offered, "rejected", result.detail)
                result = PollResult(**{**vars(result), "acknowledged": (offered,)})
        return result

    def _answer(self, kept: Kept | None, response: httpx.Response) -> PollResult:
        now = self.clock()
        if response.status_code == 404:
            if kept is not None:
                raise UnavailableError(
                    f"the service says no extract is published, but extract {kept.sequence}"
                    " is kept; is --url right?"
                )
            return PollResult(status="none", code=ExitCode.OK)
        if response.status_code == 304 or (
            kept is not None and hashlib.sha256(response.content).hexdigest() == kept.sha256
        ):
            if kept is None:
                raise UnavailableError("the service answered 304 to an unconditional request")
            return self._unchanged(kept, now)
        return self._take(kept, response.content, _offered_sequence(response), now)

    def _unchanged(self, kept: Kept, now: datetime) -> PollResult:
        if kept.next_update < now:
            raise FreezeError(
                f"extract {kept.sequence} is the newest published, but its next_update"
                f" {rfc3339(kept.next_update)} has passed; the feed is frozen or stale"
            )
        acknowledged: tuple[int, ...] = ()
        if self.acknowledge and not kept.acknowledged:
            self._acknowledge(kept)
            acknowledged = (kept.sequence,)
        return PollResult(
            status="unchanged",
            code=ExitCode.OK,
            sequence=kept.sequence,
            next_update=kept.next_update,
            acknowledged=acknowledged,
        )

    def _take(
        self, kept: Kept | None, payload: bytes, offered: int | None, now: datetime
    ) -> PollResult:
        if offered is None:
            raise UnavailableError("the service sent no X-CPL-Sequence header with the extract")
        latest = self._verified(offered, payload, self.service.signature(offered), kept, now)
        chain = [latest]
        if kept is not None:
            chain = self._fill_gap(kept, latest) + chain
            _check_links(kept, chain)
        new_kept = hand_over(self.directory, chain)
        acknowledged: tuple[int, ...] = ()
        if self.acknowledge:
            for fetched in chain:
                self.service.acknowledge(fetched.sequence, "loaded")
            new_kept = mark_acknowledged(self.directory, new_kept)
            acknowledged = tuple(f.sequence for f in chain)
        return PollResult(
            status="kept",
            code=ExitCode.OK,
            sequence=latest.sequence,
            kept=tuple(f.sequence for f in chain),
            next_update=new_kept.next_update,
            acknowledged=acknowledged,
        )

    def _verified(
        self,
        sequence: int,
        payload: bytes,
        signature: bytes,
        kept: Kept | None,
        now: datetime,
        *,
        superseded: bool = False,
    ) -> Fetched:
        at = now
        if superseded:
            # A skipped extract that a newer one superseded may be past its next_update;
            # judge it at its own issued_at (everything else is checked as for the newest).
            with contextlib.suppress(ValueError, KeyError, TypeError):
                at = _timestamp(json.loads(payload)["issued_at"])
        document = verify_extract(
            payload,
            signature,
            roots=self.roots,
            last_sequence=kept.sequence if kept else None,
            at=at,
        )
        if document["sequence"] != sequence:
            raise BrokenChainError(
                f"the service offered extract {sequence}, but the signed payload is extract"
                f" {document['sequence']}"
            )
        return Fetched(sequence=sequence, payload=payload, signature=signature, document=document)

    def _fill_gap(self, kept: Kept, latest: Fetched) -> list[Fetched]:
        if latest.sequence - kept.sequence - 1 > MAX_GAP:
            raise BrokenChainError(
                f"extract {latest.sequence} is {latest.sequence - kept.sequence - 1} extracts"
                f" after the last one kept ({kept.sequence}); more than {MAX_GAP} cannot be"
                " checked in one poll. Start a fresh mirror directory."
            )
        gap: list[Fetched] = []
        previous = kept
        for sequence in range(kept.sequence + 1, latest.sequence):
            fetched = self._verified(
                sequence,
                self.service.payload(sequence),
                self.service.signature(sequence),
                previous,
                self.clock(),
                superseded=True,
            )
            gap.append(fetched)
            previous = _kept_from(fetched)
        return gap

    def _acknowledge(self, kept: Kept) -> None:
        self.service.acknowledge(kept.sequence, "loaded")
        mark_acknowledged(self.directory, kept)


def _check_links(kept: Kept, chain: Sequence[Fetched]) -> None:
    previous_sha256 = kept.sha256
    previous_sequence = kept.sequence
    for fetched in chain:
        if fetched.document["previous_sha256"] != previous_sha256:
            raise BrokenChainError(
                f"extract {fetched.sequence} says the previous extract's SHA-256 is"
                f" {fetched.document['previous_sha256']}, but extract {previous_sequence}"
                f" has {previous_sha256}; the history was rewritten or forked"
            )
        previous_sha256, previous_sequence = fetched.sha256, fetched.sequence


def _offered_sequence(response: httpx.Response) -> int | None:
    header = response.headers.get("X-CPL-Sequence")
    try:
        return int(header) if header is not None else None
    except ValueError:
        return None


def _refusal(exc: CplError, offered: int | None) -> PollResult:
    code = exc.code if isinstance(exc, FollowError) else ExitCode.REFUSED
    status = {
        ExitCode.ROLLBACK: "refused",
        ExitCode.FREEZE: "refused",
        ExitCode.REFUSED: "refused",
        ExitCode.UNAVAILABLE: "error",
        ExitCode.CONFIG: "error",
    }[code]
    return PollResult(
        status=status, code=code, sequence=offered, reason=exc.slug, detail=exc.detail
    )


# ------------------------------------------------------------------------ the command


def follow(
    follower: Follower,
    *,
    every: float | None,
    out: TextIO,
    stop: threading.Event | None = None,
) -> ExitCode:
    """Poll once, or every `every` seconds until `stop` is set; print one line per poll.

    Returns:
        The exit code of the last poll.
    """
    stop = stop or threading.Event()
    while True:
        result = follower.poll()
        print(result.line(follower.clock()), file=out, flush=True)
        if every is None or stop.wait(every):
            return result.code


def install_stop_handlers(stop: threading.Event) -> None:
    """Make SIGTERM and SIGINT finish the current poll and then stop."""

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
