"""A development PKI whose signing key is generated inside a PKCS#11 token.

`cpl-service pki init-dev DIR --pkcs11 URI` uses it: the development root and issuing CA
are made in memory as for `init_dev_pki`, the signer's EC P-256 key pair is generated in
the token named by the URI (sensitive, not extractable), and the signer certificate is
issued to the token's public key. Only certificates are written to DIR.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cpl_service.signing.devpki import (
    BACKDATE,
    DOCUMENT_SIGNING,
    PKCS11_FILE_NAMES,
    SIGNER_DAYS,
    SIGNER_NAME,
    CertifiedKey,
    certify_public_key,
    dev_certificate_authorities,
    dev_name,
    write_public_file,
)
from cpl_service.signing.errors import SigningConfigError
from cpl_service.signing.pkcs11 import (
    format_pkcs11_uri,
    generate_p256_key,
    parse_pkcs11_uri,
    resolve_module,
    resolve_pin,
)

DEFAULT_OBJECT_LABEL = "cpl-dev-signer"


@dataclass(frozen=True)
class DevTokenPki:
    """A development PKI whose signer key is in a token.

    Attributes:
        directory: Where the certificates are.
        root_path: The root CA certificate (the trust anchor).
        issuing_ca_path: The issuing CA certificate.
        signer_path: The signer certificate.
        chain_path: The signer's certificate followed by the issuing CA's.
        key_uri: The `pkcs11:` URI of the key in the token (for `CPL_SIGNING_KEY`).
        module: The PKCS#11 module.
        root: The root CA with its key (in memory only).
        issuing_ca: The issuing CA with its key (in memory only).
        signer: The signer certificate.
    """

    directory: Path
    root_path: Path
    issuing_ca_path: Path
    signer_path: Path
    chain_path: Path
    key_uri: str
    module: Path
    root: CertifiedKey
    issuing_ca: CertifiedKey
    signer: x509.Certificate


def init_dev_token_pki(
    directory: Path,
    *,
    uri_text: str,
    module: Path | None,
    pin: str | None,
    now: datetime | None = None,
    signer_days: int = SIGNER_DAYS,
) -> DevTokenPki:
    """Create a development PKI with the signer key generated inside a PKCS#11 token.

    Args:
        directory: Where to write `root.pem`, `issuing-ca.pem`, `signer.pem`, `chain.pem`.
        uri_text: A `pkcs11:` URI naming the (initialised) token and the new key's
            `object` label (default `cpl-dev-signer`) and optionally its `id`; it may carry
            `pin-source` and `module-path`.
        module: The PKCS#11 module, unless the URI carries `module-path`.
        pin: The user PIN, unless the URI carries one.
        now: The moment validity starts from (aware); defaults to now.
        signer_days: The signer certificate's validity in days.

    Returns:
        What was written, and the URI to configure.

    Raises:
        SigningConfigError: A certificate file exists already, the URI names no token,
            or the module, token, PIN or key label cannot be used.
    """
    if not uri_text.lower().startswith("pkcs11:"):
        raise SigningConfigError(f"{uri_text!r} is not a pkcs11: URI.")
    # The key does not exist yet, so the URI may name only the token.
    uri = parse_pkcs11_uri(
        uri_text if ("object=" in uri_text or "id=" in uri_text) else _with_object(uri_text)
    )
    if uri.token is None:
        raise SigningConfigError("The pkcs11: URI must name the token (token=LABEL).")
    resolved_module = resolve_module(uri, module)
    resolved_pin = resolve_pin(uri, pin)
    label = uri.object or DEFAULT_OBJECT_LABEL
    key_id = uri.id if uri.id is not None else secrets.token_bytes(8)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in PKCS11_FILE_NAMES]
    existing = [p for p in paths if p.exists()]
    if existing:
        raise SigningConfigError(
            f"{directory} already holds a PKI ({', '.join(p.name for p in existing)});"
            " choose an empty directory."
        )
    start = (now or datetime.now(UTC)) - BACKDATE
    root, issuing = dev_certificate_authorities(start)
    public_key = generate_p256_key(
        module=resolved_module,
        token_label=uri.token,
        pin=resolved_pin,
        label=label,
        key_id=key_id,
    )
    signer = certify_public_key(
        public_key,
        dev_name(SIGNER_NAME),
        issuer=issuing,
        not_before=start,
        not_after=start + timedelta(signer_days),
        extended_key_usage=[DOCUMENT_SIGNING],
    )
    root_path, issuing_path, signer_path, chain_path = paths
    pem = [c.public_bytes(Encoding.PEM) for c in (root.certificate, issuing.certificate, signer)]
    write_public_file(root_path, pem[0])
    write_public_file(issuing_path, pem[1])
    write_public_file(signer_path, pem[2])
    write_public_file(chain_path, pem[2] + pem[1])
    return DevTokenPki(
        directory=directory,
        root_path=root_path,
        issuing_ca_path=issuing_path,
        signer_path=signer_path,
        chain_path=chain_path,
        key_uri=format_pkcs11_uri(token=uri.token, object_label=label, key_id=key_id),
        module=resolved_module,
        root=root,
        issuing_ca=issuing,
        signer=signer,
    )


def _with_object(uri_text: str) -> str:
    path, question, query = uri_text.partition("?")
    return f"{path.rstrip(';')};object={DEFAULT_OBJECT_LABEL}{question}{query}"
