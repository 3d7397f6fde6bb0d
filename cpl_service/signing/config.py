"""Choosing the extract signer at startup: the configured key, or a development one."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from cpl_service.signing.certificates import certificate_name, certificate_pem
from cpl_service.signing.devpki import DEV_MARKER, init_dev_pki
from cpl_service.signing.errors import SigningConfigError
from cpl_service.signing.keys import Signer, load_chain_file, load_file_signer, order_chain
from cpl_service.signing.pkcs11 import is_pkcs11_uri, load_pkcs11_signer

if TYPE_CHECKING:
    from cpl_service.config import Settings

log = logging.getLogger(__name__)

EXPIRY_WARNING = timedelta(days=30)
DEV_PKI_DIRNAME = "dev-pki"


@dataclass(frozen=True)
class LoadedSigner:
    """The signer the service publishes extracts with.

    Attributes:
        signer: Signs extracts.
        chain_pem: The certificate chain to publish at `GET /signing/certificates`: the
            signer's certificate first, then its issuers. For a development signer the
            development root follows, so developers can verify locally.
        development: True when this is a generated development key (never production).
        previous: The chains of earlier signers still listed for verifiers
            (`CPL_SIGNING_PREVIOUS_CHAINS`), each the signer's certificate first.
    """

    signer: Signer
    chain_pem: bytes
    development: bool
    previous: tuple[tuple[x509.Certificate, ...], ...] = ()


def _check_links(chain: tuple[x509.Certificate, ...], source: str) -> None:
    for child, parent in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise SigningConfigError(
                f"The certificate chain in {source} is broken: {certificate_name(child)} was not"
                f" issued by {certificate_name(parent)}. List the signer's certificate first, then"
                " each issuer in order."
            ) from None


def _check_signer_certificate(certificate: x509.Certificate, *, now: datetime) -> None:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if now > end:
        raise SigningConfigError(
            f"The signing certificate {certificate_name(certificate)} expired on {end.isoformat()};"
            " install a renewed key and certificate (CPL_SIGNING_KEY, CPL_SIGNING_CHAIN)."
        )
    if now < start:
        raise SigningConfigError(
            f"The signing certificate {certificate_name(certificate)} is not valid before"
            f" {start.isoformat()}; check the certificate or the system clock."
        )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.digital_signature:
        raise SigningConfigError(
            f"The signing certificate {certificate_name(certificate)} does not allow digital"
            " signatures (keyUsage digitalSignature); verifiers would reject every extract."
        )
    if end - now <= EXPIRY_WARNING:
        days = (end - now).days
        log.warning(
            "The extract signing certificate %s expires on %s (in %d days); renew it before"
            " then, or publishing extracts will stop.",
            certificate_name(certificate),
            end.isoformat(),
            days,
        )


def _development_signer(directory: Path, *, now: datetime) -> LoadedSigner:
    key_path, chain_path, root_path = (
        directory / "signer.key",
        directory / "chain.pem",
        directory / "root.pem",
    )
    signer = None
    if key_path.exists() and chain_path.exists() and root_path.exists():
        try:
            signer = load_file_signer(key_path, chain_path=chain_path)
            if signer.certificate.not_valid_after_utc - now <= EXPIRY_WARNING:
                log.warning("The development signing certificate is expiring; replacing it.")
                signer = None
        except SigningConfigError as exc:
            log.warning("The development PKI in %s is unusable (%s); replacing it.", directory, exc)
            signer = None
    if signer is None:
        init_dev_pki(directory, now=now, overwrite=True)
        signer = load_file_signer(key_path, chain_path=chain_path)
    log.warning(
        "*** %s: no signing key is configured (CPL_SIGNING_KEY), so extracts are signed with a"
        " generated DEVELOPMENT KEY from %s. It is NOT FOR PRODUCTION: no one should trust"
        " these signatures. Configure CPL_SIGNING_KEY and CPL_SIGNING_CHAIN with the real"
        " signing credentials before publishing for real. ***",
        DEV_MARKER,
        directory,
    )
    chain_pem = certificate_pem(list(signer.chain)) + root_path.read_bytes()
    return LoadedSigner(signer=signer, chain_pem=chain_pem, development=True)


def _anchor_name(chain: tuple[x509.Certificate, ...]) -> x509.Name:
    # The root a chain leads to, by name: the top certificate's issuer (itself, if a root).
    return chain[-1].issuer


def _authority_key_id(certificate: x509.Certificate) -> bytes | None:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return extension.value.key_identifier


def _issued_within(certificate: x509.Certificate, chain: tuple[x509.Certificate, ...]) -> bool:
    for candidate in chain:
        try:
            certificate.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def same_root(first: tuple[x509.Certificate, ...], second: tuple[x509.Certificate, ...]) -> bool:
    """Whether two signer chains (each signer first) lead to the same root.

    True when one chain's top certificate was issued by a certificate of the other;
    otherwise the tops must name the same issuer and, where both carry an
    authorityKeyIdentifier, the same issuer key.
    """
    top_first, top_second = first[-1], second[-1]
    if _issued_within(top_first, second) or _issued_within(top_second, first):
        return True
    if top_first.issuer != top_second.issuer:
        return False
    keys = _authority_key_id(top_first), _authority_key_id(top_second)
    return None in keys or keys[0] == keys[1]


def _load_previous(
    paths: Sequence[Path], current: tuple[x509.Certificate, ...], *, now: datetime
) -> tuple[tuple[x509.Certificate, ...], ...]:
    previous: list[tuple[x509.Certificate, ...]] = []
    seen = {current[0]}
    for path in paths:
        certificates = load_chain_file(path)
        chain = order_chain(certificates[0], certificates[1:])
        _check_links(chain, str(path))
        signer = chain[0]
        if signer in seen:
            raise SigningConfigError(
                f"The previous signer chain {path} repeats the signer {certificate_name(signer)};"
                " list each earlier signer once, and not the current one."
            )
        if not same_root(chain, current):
            raise SigningConfigError(
                f"The previous signer chain {path} leads to {_anchor_name(chain).rfc4514_string()},"
                f" not to the current signer's root {_anchor_name(current).rfc4514_string()};"
                " a rotation must stay under the same root."
            )
        if signer.not_valid_after_utc < now:
            log.info(
                "The previous signer %s expired on %s; it stays listed so that extracts it"
                " signed can still be checked.",
                certificate_name(signer),
                signer.not_valid_after_utc.isoformat(),
            )
        seen.add(signer)
        previous.append(chain)
    return tuple(previous)


def load_configured_signer(
    *,
    key_path: Path | str | None,
    key_password: str | None,
    chain_path: Path | None,
    data_dir: Path,
    now: datetime,
    pkcs11_module: Path | None = None,
    previous_chains: Sequence[Path] = (),
) -> LoadedSigner:
    """Load the extract signer `serve` will use, refusing an unusable configuration.

    With no key configured, a development PKI is created once under
    `data_dir / "dev-pki"` (and re-created if it became unusable or expires within 30
    days) and a loud warning is logged. With a key configured, it is loaded (PEM, possibly
    encrypted, PKCS#12, or a `pkcs11:` URI naming a key inside a PKCS#11 module) and
    checked: EC P-256, matching the signer's certificate, the chain linked in order, the
    certificate valid now and allowing digitalSignature. A warning is logged when it
    expires within 30 days. Earlier signers' chains (a rotation) are checked to be linked
    and under the same root, and are listed beside the current one.

    Args:
        key_path: `CPL_SIGNING_KEY`: a key file, a `pkcs11:` URI, or None for a
            development key.
        key_password: `CPL_SIGNING_KEY_PASSWORD`, if the key is encrypted (for PKCS#11:
            the user PIN).
        chain_path: `CPL_SIGNING_CHAIN`: PEM, the signer's certificate first.
        data_dir: `CPL_DATA_DIR`, where the development PKI lives.
        now: The current time (aware).
        pkcs11_module: `CPL_PKCS11_MODULE`, the module of a `pkcs11:` key.
        previous_chains: `CPL_SIGNING_PREVIOUS_CHAINS`: earlier signers' chain files.

    Returns:
        The signer, the chain PEM to publish, whether it is development-only, and the
        previous signers.

    Raises:
        SigningConfigError: The key or chain cannot be loaded, they do not match, the key
            is not EC P-256, or the signer's certificate is expired, not yet valid or may
            not sign.
    """
    if key_path is None:
        if previous_chains:
            raise SigningConfigError(
                "CPL_SIGNING_PREVIOUS_CHAINS is set but CPL_SIGNING_KEY is not; a rotation"
                " needs the new key configured."
            )
        if chain_path is not None:
            raise SigningConfigError(
                "CPL_SIGNING_CHAIN is set but CPL_SIGNING_KEY is not; set both, or neither"
                " for a development key."
            )
        return _development_signer(data_dir / DEV_PKI_DIRNAME, now=now)
    signer: Signer
    if is_pkcs11_uri(key_path):
        signer = load_pkcs11_signer(
            str(key_path), module=pkcs11_module, password=key_password, chain_path=chain_path
        )
    else:
        password = key_password.encode("utf-8") if key_password is not None else None
        signer = load_file_signer(Path(key_path), password=password, chain_path=chain_path)
    chain = tuple(signer.chain)
    _check_links(chain, str(chain_path or key_path))
    _check_signer_certificate(signer.certificate, now=now)
    if len(signer.chain) == 1 and signer.certificate.issuer != signer.certificate.subject:
        log.warning(
            "The signing chain holds only the signer's certificate; unless the root CA issued"
            " it directly, verifiers given only the root cannot verify extracts. Add the"
            " issuing CA to CPL_SIGNING_CHAIN."
        )
    previous = _load_previous(previous_chains, chain, now=now)
    log.info("Extracts are signed by %s.", certificate_name(signer.certificate))
    return LoadedSigner(
        signer=signer,
        chain_pem=certificate_pem(list(chain)),
        development=False,
        previous=previous,
    )


def signer_from_settings(settings: Settings, *, now: datetime) -> LoadedSigner:
    """`load_configured_signer` with the values of the service's settings.

    Args:
        settings: The service settings (`CPL_SIGNING_KEY`, `CPL_SIGNING_KEY_PASSWORD`,
            `CPL_SIGNING_CHAIN`, `CPL_PKCS11_MODULE`, `CPL_SIGNING_PREVIOUS_CHAINS`,
            `CPL_DATA_DIR`).
        now: The current time (aware).

    Returns:
        As `load_configured_signer`.

    Raises:
        SigningConfigError: As `load_configured_signer`.
    """
    password = settings.signing_key_password
    return load_configured_signer(
        key_path=settings.signing_key,
        key_password=password.get_secret_value() if password is not None else None,
        chain_path=settings.signing_chain,
        data_dir=settings.data_dir,
        now=now,
        pkcs11_module=settings.pkcs11_module,
        previous_chains=settings.signing_previous_chain_paths,
    )
