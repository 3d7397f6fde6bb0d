"""`cpl-service extract follow`: a verified mirror against a real server, and one test per
attack (through a tampering proxy or tampered files)."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from cpl_service.cli import main as cli_main
from cpl_service.clock import utcnow
from cpl_service.config import Settings
from cpl_service.extracts.canonical import canonical_json
from cpl_service.extracts.follow import (
    CURRENT,
    ExitCode,
    ExtractService,
    Follower,
    PollResult,
    write_atomically,
)
from cpl_service.signing.certificates import certificate_pem
from cpl_service.signing.cms import sign_detached
from cpl_service.signing.devpki import (
    DOCUMENT_SIGNING,
    DevPki,
    certify_public_key,
    dev_name,
    init_dev_pki,
)
from cpl_service.signing.keys import load_file_signer
from cpl_service.signing.pkcs11 import generate_p256_key
from cpl_service.signing.verify import verify_detached_untimed
from tests.conftest import MakeParty, auth
from tests.extracts.proxy import Reply, tampering_proxy
from tests.server import running_server
from tests.softhsm import PIN, TOKEN, SoftHsm

API = "/api/v1"


@dataclass
class Service:
    """A running server with its signing PKI and tokens."""

    url: str
    pki: DevPki
    secas: str
    dcc: str

    def publish(self) -> int:
        response = httpx.post(f"{self.url}{API}/extracts", headers=auth(self.secas), timeout=30)
        assert response.status_code == 201, response.text
        return int(response.json()["sequence"])

    def files(self, sequence: int) -> tuple[bytes, bytes]:
        payload = httpx.get(f"{self.url}{API}/extracts/{sequence}", headers=auth(self.dcc))
        signature = httpx.get(
            f"{self.url}{API}/extracts/{sequence}/signature", headers=auth(self.dcc)
        )
        return payload.content, signature.content

    def dcc_status(self, sequence: int) -> tuple[str, str | None]:
        listing = httpx.get(f"{self.url}{API}/extracts", headers=auth(self.secas)).json()
        row = next(e for e in listing["items"] if e["sequence"] == sequence)
        return row["dcc_status"], row["acknowledgement_detail"]


def _signing_env(key: Path, chain: Path, previous: str | None = None) -> dict[str, str]:
    env = {"CPL_SIGNING_KEY": str(key), "CPL_SIGNING_CHAIN": str(chain)}
    if previous:
        env["CPL_SIGNING_PREVIOUS_CHAINS"] = previous
    return env


@pytest.fixture
def pki(tmp_path: Path) -> DevPki:
    # Made here rather than by the server, so a test can issue a second signer (rotation).
    return init_dev_pki(tmp_path / "pki")


@pytest.fixture
def service(
    tmp_path: Path, settings: Settings, make_party: MakeParty, pki: DevPki
) -> Iterator[Service]:
    secas, dcc = make_party("secas")[1], make_party("dcc")[1]
    env = _signing_env(pki.key_path, pki.chain_path)
    with running_server(settings, tmp_path / "server.log", env=env) as url:
        yield Service(url=url, pki=pki, secas=secas, dcc=dcc)


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    return tmp_path / "mirror"


def follower(
    url: str, token: str, mirror: Path, roots: list[x509.Certificate], **kwargs: object
) -> Follower:
    return Follower(
        service=ExtractService(url, token),
        directory=mirror,
        roots=roots,
        **kwargs,  # type: ignore[arg-type]
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file in the mirror (temporary ones included) with its bytes."""
    if not directory.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _poll(service: Service, mirror: Path, url: str | None = None, **kwargs: object) -> PollResult:
    return follower(
        url or service.url, service.dcc, mirror, [service.pki.root.certificate], **kwargs
    ).poll()


def _latest_is(path: str, replacement: Reply) -> object:
    def rule(method: str, requested: str, reply: Reply) -> Reply:
        return replacement if requested.startswith(path) else reply

    return rule


# ----------------------------------------------------------------------- the happy path


def test_follow_keeps_a_verified_mirror_and_acknowledges(
    service: Service, mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service.publish()
    token_file = tmp_path / "dcc.token"
    token_file.write_text(service.dcc + "\n")
    argv = [
        "extract", "follow", "--url", service.url, "--token-file", str(token_file),
        "--ca", str(service.pki.root_path), "--dir", str(mirror), "--acknowledge",
    ]  # fmt: skip

    assert cli_main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert " status=kept " in line and "sequence=1 " in line and "kept=1 " in line
    assert "acknowledged=1" in line and line.startswith("time=")
    payload, signature = service.files(1)
    assert (mirror / "cpl-extract-1.json").read_bytes() == payload
    assert (mirror / "cpl-extract-1.p7s").read_bytes() == signature
    current = json.loads((mirror / CURRENT).read_text())
    assert current["sequence"] == 1 and current["acknowledged"] is True
    assert current["sha256"] == hashlib.sha256(payload).hexdigest()
    assert service.dcc_status(1) == ("loaded", None)

    assert cli_main(argv) == 0
    assert " status=unchanged " in capsys.readouterr().out

    service.publish()
    assert cli_main(argv) == 0
    assert "kept=2 " in capsys.readouterr().out
    assert json.loads((mirror / CURRENT).read_text())["sequence"] == 2
    assert service.dcc_status(2) == ("loaded", None)
    assert sorted(p.name for p in mirror.iterdir()) == [
        "cpl-extract-1.json", "cpl-extract-1.p7s", "cpl-extract-2.json", "cpl-extract-2.p7s",
        CURRENT,
    ]  # fmt: skip


def test_every_polls_until_sigterm_one_line_per_poll(
    service: Service, mirror: Path, tmp_path: Path
) -> None:
    service.publish()
    token_file = tmp_path / "dcc.token"
    token_file.write_text(service.dcc)
    process = subprocess.Popen(
        [sys.executable, "-m", "cpl_service.cli", "extract", "follow", "--url", service.url,
         "--token-file", str(token_file), "--ca", str(service.pki.root_path),
         "--dir", str(mirror), "--every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        process.send_signal(signal.SIGTERM)
        rest, _errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert " status=kept " in lines[0] and " status=unchanged " in lines[1]
    assert all(line.startswith("time=") for line in [*lines, *rest.splitlines()])


def test_nothing_published_yet_is_not_an_error(service: Service, mirror: Path) -> None:
    result = _poll(service, mirror)
    assert (result.status, result.code) == ("none", ExitCode.OK)
    assert snapshot(mirror) == {}


def test_bad_token_file_and_bad_arguments_exit_2(
    service: Service, mirror: Path, tmp_path: Path
) -> None:
    argv = ["extract", "follow", "--url", service.url, "--ca", str(service.pki.root_path)]
    assert cli_main([*argv, "--token-file", str(tmp_path / "none"), "--dir", str(mirror)]) == 2
    with pytest.raises(SystemExit) as exited:
        cli_main([*argv, "--token-file", "x", "--dir", str(mirror), "--every", "0"])
    assert exited.value.code == 2


# ---------------------------------------------------------------------------- attacks


def test_bad_signature_is_refused_and_rejected(service: Service, mirror: Path) -> None:
    service.publish()
    with tampering_proxy(service.url) as proxy:

        def flip(method: str, path: str, reply: Reply) -> Reply:
            if path == f"{API}/extracts/latest":
                body = reply.body.replace(b"cpl-extract/1", b"cpl-extract/l")
                assert body != reply.body
                return Reply(reply.status, reply.headers, body)
            return reply

        proxy.rule = flip
        result = _poll(service, mirror, proxy.url, acknowledge=True)
    assert result.code == ExitCode.REFUSED
    assert result.reason == "signature-mismatch"
    assert snapshot(mirror) == {}
    status, detail = service.dcc_status(1)
    assert status == "rejected" and detail and "does not match" in detail


def test_untrusted_root_is_refused(
    service: Service, mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service.publish()
    stranger = init_dev_pki(tmp_path / "stranger")
    token_file = tmp_path / "dcc.token"
    token_file.write_text(service.dcc)
    code = cli_main(
        ["extract", "follow", "--url", service.url, "--token-file", str(token_file),
         "--ca", str(stranger.root_path), "--dir", str(mirror)]
    )  # fmt: skip
    assert code == ExitCode.REFUSED
    line = capsys.readouterr().out
    assert "status=refused" in line and "reason=signature-untrusted" in line
    assert snapshot(mirror) == {}
    assert service.dcc_status(1)[0] == "pending"  # no --acknowledge, nothing posted


def test_rollback_is_refused(service: Service, mirror: Path) -> None:
    service.publish()
    service.publish()
    assert _poll(service, mirror).kept == (2,)  # a first poll takes the newest alone
    before = snapshot(mirror)
    with tampering_proxy(service.url) as proxy:
        old = proxy.fetch("GET", f"{API}/extracts/1", auth(service.dcc))
        proxy.rule = _latest_is(f"{API}/extracts/latest", old)  # type: ignore[assignment]
        result = _poll(service, mirror, proxy.url)
    assert (result.code, result.reason, result.sequence) == (ExitCode.ROLLBACK, "rollback", 1)
    assert snapshot(mirror) == before


def test_freeze_is_refused(service: Service, mirror: Path) -> None:
    service.publish()
    assert _poll(service, mirror).code == ExitCode.OK
    before = snapshot(mirror)
    later = utcnow() + timedelta(days=31)
    # The server has nothing newer (304) but the kept extract's next_update has passed.
    result = _poll(service, mirror, clock=lambda: later)
    assert (result.code, result.reason) == (ExitCode.FREEZE, "freeze")
    assert snapshot(mirror) == before
    # A first poll offered an extract already past its next_update refuses it as well.
    fresh = mirror.parent / "fresh"
    result = _poll(service, fresh, clock=lambda: later)
    assert (result.code, result.reason) == (ExitCode.FREEZE, "freeze")
    assert snapshot(fresh) == {}


def _forged(service: Service, sequence: int, previous_sha256: str) -> tuple[bytes, bytes]:
    """An extract signed with the real key but continuing another history (a fork)."""
    payload, _signature = service.files(sequence)
    document = json.loads(payload)
    document["previous_sha256"] = previous_sha256
    forged = canonical_json(document)
    signer = load_file_signer(service.pki.key_path, chain_path=service.pki.chain_path)
    return forged, sign_detached(forged, signer, signing_time=utcnow())


def test_broken_chain_is_refused(service: Service, mirror: Path) -> None:
    service.publish()
    assert _poll(service, mirror).kept == (1,)
    before = snapshot(mirror)
    service.publish()
    forged, forged_signature = _forged(service, 2, "ab" * 32)
    with tampering_proxy(service.url) as proxy:

        def fork(method: str, path: str, reply: Reply) -> Reply:
            if path == f"{API}/extracts/latest":
                return Reply(200, reply.headers, forged)
            if path == f"{API}/extracts/2/signature":
                return Reply(200, reply.headers, forged_signature)
            return reply

        proxy.rule = fork
        result = _poll(service, mirror, proxy.url)
    assert (result.code, result.reason) == (ExitCode.REFUSED, "broken-chain")
    assert snapshot(mirror) == before


def test_skipped_sequences_are_fetched_and_chained(service: Service, mirror: Path) -> None:
    service.publish()
    assert _poll(service, mirror).kept == (1,)
    service.publish()
    service.publish()
    before = snapshot(mirror)

    # A gap filled with a forged extract 2 (a fork signed with the real key) is refused.
    forged, forged_signature = _forged(service, 2, "cd" * 32)
    with tampering_proxy(service.url) as proxy:

        def fork_the_gap(method: str, path: str, reply: Reply) -> Reply:
            if path == f"{API}/extracts/2":
                return Reply(200, reply.headers, forged)
            if path == f"{API}/extracts/2/signature":
                return Reply(200, reply.headers, forged_signature)
            return reply

        proxy.rule = fork_the_gap
        result = _poll(service, mirror, proxy.url)
        assert f"GET {API}/extracts/2" in proxy.seen
    assert (result.code, result.reason) == (ExitCode.REFUSED, "broken-chain")
    assert snapshot(mirror) == before

    result = _poll(service, mirror)
    assert (result.status, result.kept, result.sequence) == ("kept", (2, 3), 3)
    for sequence in (2, 3):
        payload, signature = service.files(sequence)
        assert (mirror / f"cpl-extract-{sequence}.json").read_bytes() == payload
        assert (mirror / f"cpl-extract-{sequence}.p7s").read_bytes() == signature
    assert json.loads((mirror / CURRENT).read_text())["sequence"] == 3


def test_network_error_in_the_middle_writes_nothing(service: Service, mirror: Path) -> None:
    service.publish()
    assert _poll(service, mirror).kept == (1,)
    service.publish()
    service.publish()
    before = snapshot(mirror)
    for broken in (
        f"{API}/extracts/3/signature",
        f"{API}/extracts/2",
        f"{API}/extracts/2/signature",
    ):
        with tampering_proxy(service.url) as proxy:

            def drop(method: str, path: str, reply: Reply, broken: str = broken) -> Reply:
                if path == broken:
                    return Reply(0, {}, b"", drop=True)
                return reply

            proxy.rule = drop
            result = _poll(service, mirror, proxy.url)
        assert (result.code, result.reason) == (ExitCode.UNAVAILABLE, "unavailable"), broken
        assert snapshot(mirror) == before, broken
    assert _poll(service, mirror).kept == (2, 3)


def test_damaged_mirror_is_reported(service: Service, mirror: Path) -> None:
    service.publish()
    assert _poll(service, mirror).kept == (1,)
    target = mirror / "cpl-extract-1.json"
    target.write_bytes(target.read_bytes().replace(b"cpl-extract/1", b"cpl-extract/2"))
    result = _poll(service, mirror)
    assert (result.code, result.reason) == (ExitCode.CONFIG, "mirror-damaged")


def test_following_through_a_signer_rotation_into_an_hsm(
    service: Service, settings: Settings, mirror: Path, tmp_path: Path, softhsm: SoftHsm
) -> None:
    service.publish()
    assert _poll(service, mirror).kept == (1,)

    # SECAS moves the signing key into a hardware module: a new key generated in the token,
    # certified by the same issuing CA; the file signer stays listed as the previous one.
    public_key = generate_p256_key(
        module=softhsm.module, token_label=TOKEN, pin=PIN, label="signer-2", key_id=b"\x02"
    )
    second = certify_public_key(
        public_key,
        dev_name("CPL DEVELOPMENT ONLY Extract Signer 2"),
        issuer=service.pki.issuing_ca,
        not_before=utcnow() - timedelta(hours=1),
        not_after=utcnow() + timedelta(days=365),
        extended_key_usage=[DOCUMENT_SIGNING],
    )
    chain = tmp_path / "chain-2.pem"
    chain.write_bytes(certificate_pem([second, service.pki.issuing_ca.certificate]))
    env = {
        **softhsm.env,
        "CPL_SIGNING_KEY": f"pkcs11:token={TOKEN};object=signer-2",
        "CPL_SIGNING_KEY_PASSWORD": PIN,
        "CPL_SIGNING_CHAIN": str(chain),
        "CPL_PKCS11_MODULE": str(softhsm.module),
        "CPL_SIGNING_PREVIOUS_CHAINS": str(service.pki.chain_path),
    }
    with running_server(settings, tmp_path / "server-2.log", env=env) as url:
        rotated = Service(url=url, pki=service.pki, secas=service.secas, dcc=service.dcc)
        rotated.publish()
        result = _poll(rotated, mirror)
        listing = httpx.get(f"{url}{API}/signing/certificates?format=json").json()

    assert (result.code, result.kept) == (ExitCode.OK, (2,))
    signers = [
        verify_detached_untimed(
            (mirror / f"cpl-extract-{n}.json").read_bytes(),
            (mirror / f"cpl-extract-{n}.p7s").read_bytes(),
            trust_roots=[service.pki.root.certificate],
        ).signer
        for n in (1, 2)
    ]
    assert signers == [service.pki.signer.certificate, second]
    assert [(s["subject"], s["current"]) for s in listing["signers"]] == [
        (second.subject.rfc4514_string(), True),
        (service.pki.signer.certificate.subject.rfc4514_string(), False),
    ]


# ------------------------------------------------------------------------ small pieces


def test_atomic_write_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    target = tmp_path / "file"
    write_atomically(target, b"one")
    write_atomically(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == ["file"] and target.read_bytes() == b"two"


def test_poll_line_is_logfmt() -> None:
    moment = utcnow().replace(microsecond=0)
    line = PollResult(
        status="refused", code=ExitCode.ROLLBACK, sequence=4, reason="rollback", detail='a "b"'
    ).line(moment)
    assert line == (
        f"time={moment.isoformat()[:19]}Z event=cpl-extract-follow status=refused code=3"
        ' sequence=4 reason=rollback detail="a \\"b\\""'
    )
