"""A `Signer` whose private key lives in a PKCS#11 module (a hardware security module).

The key is named by an RFC 7512 `pkcs11:` URI, for example
`pkcs11:token=CPL;object=cpl-signer?pin-source=file:/run/secrets/hsm-pin`. The module
(the vendor's `.so`) comes from `CPL_PKCS11_MODULE` or the URI's `module-path`; the user
PIN from the URI's `pin-source` (a file) or `CPL_SIGNING_KEY_PASSWORD`. The private key
never leaves the module: `sign` sends the SHA-256 digest in and gets the signature out
(mechanism CKM_ECDSA, which every module offering EC keys implements).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

import pkcs11
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import (
    encode_ec_public_key,
    encode_ecdsa_signature,
    encode_named_curve_parameters,
)

from cpl_service.signing.errors import SigningConfigError
from cpl_service.signing.keys import load_chain_file, order_chain

URI_SCHEME = "pkcs11:"
# RFC 7512 §2.3 path attributes we act on; others (library-*, slot-*) are accepted and ignored.
_PATH_ATTRIBUTES = {"token", "object", "id", "type", "serial", "manufacturer", "model"}
_KNOWN_PATH = _PATH_ATTRIBUTES | {
    "library-manufacturer",
    "library-description",
    "library-version",
    "slot-description",
    "slot-manufacturer",
    "slot-id",
}
_QUERY_ATTRIBUTES = {"pin-source", "pin-value", "module-path", "module-name"}
# The module errors after which a fresh session (and login) may succeed.
_SESSION_LOST = (
    pkcs11.exceptions.SessionClosed,
    pkcs11.exceptions.SessionHandleInvalid,
    pkcs11.exceptions.UserNotLoggedIn,
    pkcs11.exceptions.DeviceRemoved,
    pkcs11.exceptions.TokenNotPresent,
    pkcs11.exceptions.ObjectHandleInvalid,
    pkcs11.exceptions.KeyHandleInvalid,
)


def is_pkcs11_uri(value: object) -> bool:
    """Whether a `CPL_SIGNING_KEY` value is a `pkcs11:` URI rather than a file path.

    Args:
        value: The setting's value (a path or text).

    Returns:
        True for text starting with `pkcs11:` (any case).
    """
    return isinstance(value, str) and value.lower().startswith(URI_SCHEME)


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI that select a token, a key and its PIN.

    Attributes:
        token: The token label (`token=`).
        object: The key's label (`object=`), if given.
        id: The key's CKA_ID (`id=`, percent-encoded bytes), if given.
        serial: The token serial number, if given.
        manufacturer: The token manufacturer, if given.
        model: The token model, if given.
        pin_source: A file holding the PIN (`pin-source=file:…` or a path), if given.
        pin_value: The PIN itself (`pin-value=`), if given; avoid it outside tests.
        module_path: The module `.so` (`module-path=`), if given.
    """

    token: str | None = None
    object: str | None = None
    id: bytes | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    pin_source: Path | None = None
    pin_value: str | None = field(default=None, repr=False)
    module_path: Path | None = None


def _pin_source_path(value: str) -> Path:
    if value.startswith("file:"):
        parts = urlsplit(value)
        if parts.netloc not in ("", "localhost"):
            raise SigningConfigError(
                f"pin-source {value!r} names another host; give a local file:/path."
            )
        return Path(unquote(parts.path))
    if "://" in value or value.startswith(("http:", "https:")):
        raise SigningConfigError(
            f"pin-source {value!r} is not a file; use pin-source=file:/path/to/pin."
        )
    return Path(value)


def parse_pkcs11_uri(uri: str) -> Pkcs11Uri:
    """Parse an RFC 7512 `pkcs11:` URI naming a private key.

    Args:
        uri: For example `pkcs11:token=CPL;object=signer?pin-source=file:/run/pin`.

    Returns:
        The attributes the signer uses.

    Raises:
        SigningConfigError: The text is not a `pkcs11:` URI, repeats or misspells an
            attribute, names an object type other than `private`, or names no key
            (neither `object` nor `id`).
    """
    if not is_pkcs11_uri(uri):
        raise SigningConfigError(f"{uri!r} is not a pkcs11: URI.")
    body = uri[len(URI_SCHEME) :]
    path, _, query = body.partition("?")
    seen: dict[str, str] = {}
    for part, separator, known in ((path, ";", _KNOWN_PATH), (query, "&", _QUERY_ATTRIBUTES)):
        for item in filter(None, part.split(separator)):
            name, equals, value = item.partition("=")
            name = name.strip().lower()
            if not equals or name not in known:
                # Only the name is repeated: the value may be a mistyped PIN.
                raise SigningConfigError(
                    f"The pkcs11: URI has an unknown or malformed attribute {name!r}; expected"
                    " e.g. pkcs11:token=LABEL;object=KEY-LABEL?pin-source=file:/path (RFC 7512)."
                )
            if name in seen:
                raise SigningConfigError(f"The pkcs11: URI gives {name} twice.")
            seen[name] = value
    kind = unquote(seen.get("type", "private"))
    if kind != "private":
        raise SigningConfigError(
            f"The pkcs11: URI names type={kind}; the signing key must be type=private."
        )
    if "object" not in seen and "id" not in seen:
        raise SigningConfigError(
            "The pkcs11: URI names no key; add object=LABEL or id=%XX… (the key's CKA_ID)."
        )
    if "pin-source" in seen and "pin-value" in seen:
        raise SigningConfigError("The pkcs11: URI gives both pin-source and pin-value.")

    def text(name: str) -> str | None:
        return unquote(seen[name]) if name in seen else None

    pin_source = text("pin-source")
    module_path = text("module-path")
    return Pkcs11Uri(
        token=text("token"),
        object=text("object"),
        id=unquote_to_bytes(seen["id"]) if "id" in seen else None,
        serial=text("serial"),
        manufacturer=text("manufacturer"),
        model=text("model"),
        pin_source=_pin_source_path(pin_source) if pin_source is not None else None,
        pin_value=text("pin-value"),
        module_path=Path(module_path) if module_path else None,
    )


def format_pkcs11_uri(*, token: str, object_label: str, key_id: bytes | None = None) -> str:
    """The `pkcs11:` URI of a private key (percent-encoding as RFC 7512 asks).

    Args:
        token: The token label.
        object_label: The key's CKA_LABEL.
        key_id: The key's CKA_ID, if it should be named too.

    Returns:
        For example `pkcs11:token=CPL;object=signer;id=%01;type=private`.
    """
    parts = [f"token={quote(token, safe='')}", f"object={quote(object_label, safe='')}"]
    if key_id is not None:
        parts.append("id=" + "".join(f"%{b:02x}" for b in key_id))
    return URI_SCHEME + ";".join(parts) + ";type=private"


def resolve_module(uri: Pkcs11Uri, configured: Path | None) -> Path:
    """The module `.so` to load: `CPL_PKCS11_MODULE` or the URI's `module-path`.

    Raises:
        SigningConfigError: Neither is given, both are given and differ, or the file is
            missing.
    """
    if configured and uri.module_path and configured != uri.module_path:
        raise SigningConfigError(
            f"CPL_PKCS11_MODULE ({configured}) and the URI's module-path ({uri.module_path})"
            " differ; give one of them."
        )
    module = configured or uri.module_path
    if module is None:
        raise SigningConfigError(
            "CPL_SIGNING_KEY is a pkcs11: URI but no PKCS#11 module is configured; set"
            " CPL_PKCS11_MODULE to the module's .so (e.g. /usr/lib/softhsm/libsofthsm2.so)."
        )
    if not module.is_file():
        raise SigningConfigError(f"The PKCS#11 module {module} does not exist.")
    return module


def resolve_pin(uri: Pkcs11Uri, password: str | None) -> str | None:
    """The user PIN: from the URI's `pin-source` file, `pin-value`, or the password setting.

    A PIN file's trailing newline is dropped. Returns None when no PIN is configured (a
    module with a PIN pad or none at all).

    Raises:
        SigningConfigError: The PIN is given twice, or its file cannot be read.
    """
    given = [uri.pin_source is not None, uri.pin_value is not None, password is not None]
    if sum(given) > 1:
        raise SigningConfigError(
            "The PKCS#11 PIN is given more than once; use either the URI's pin-source (or"
            " pin-value) or CPL_SIGNING_KEY_PASSWORD."
        )
    if uri.pin_source is not None:
        try:
            return uri.pin_source.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SigningConfigError(
                f"Cannot read the PKCS#11 PIN file {uri.pin_source}: {exc.strerror}."
            ) from None
    return uri.pin_value if uri.pin_value is not None else password


def _describe_uri(uri: Pkcs11Uri) -> str:
    parts = [f"token {uri.token!r}" if uri.token else "any token"]
    if uri.object:
        parts.append(f"object {uri.object!r}")
    if uri.id is not None:
        parts.append(f"id {uri.id.hex()}")
    return ", ".join(parts)


def _find_token(library: Any, uri: Pkcs11Uri) -> Any:
    tokens = [
        token
        for token in library.get_tokens(token_label=uri.token, token_serial=uri.serial)
        if (uri.manufacturer is None or token.manufacturer_id == uri.manufacturer)
        and (uri.model is None or token.model == uri.model)
    ]
    if not tokens:
        raise SigningConfigError(
            f"No PKCS#11 token matches {_describe_uri(uri)}; check the token label in"
            " CPL_SIGNING_KEY and that the module (CPL_PKCS11_MODULE) sees the token."
        )
    if len(tokens) > 1:
        raise SigningConfigError(
            f"{len(tokens)} PKCS#11 tokens match {_describe_uri(uri)}; add token= or serial="
            " to the URI."
        )
    return tokens[0]


def open_session(token: Any, pin: str | None, *, rw: bool = False) -> Any:
    """Open a session on a token, logged in as the user when a PIN is given.

    If this process is already logged in to the token (another session did it), the new
    session shares that login, as PKCS#11 specifies.

    Raises:
        SigningConfigError: The PIN is wrong or locked.
    """
    try:
        return token.open(rw=rw, user_pin=pin)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        return token.open(rw=rw)
    except (pkcs11.exceptions.PinIncorrect, pkcs11.exceptions.PinLenRange):
        raise SigningConfigError(
            f"The PKCS#11 PIN for token {token.label!r} is wrong; check the URI's pin-source"
            " or CPL_SIGNING_KEY_PASSWORD."
        ) from None
    except pkcs11.exceptions.PinLocked:
        raise SigningConfigError(
            f"The user PIN of PKCS#11 token {token.label!r} is locked; the token's security"
            " officer must unlock it."
        ) from None


def _find_private_key(session: Any, uri: Pkcs11Uri) -> Any:
    try:
        return session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=uri.object, id=uri.id)
    except pkcs11.exceptions.NoSuchKey:
        raise SigningConfigError(
            f"No private key matches {_describe_uri(uri)} in the PKCS#11 token (is the PIN"
            " right? private keys are only visible after login)."
        ) from None
    except pkcs11.exceptions.MultipleObjectsReturned:
        raise SigningConfigError(
            f"Several private keys match {_describe_uri(uri)}; add id= to the URI."
        ) from None


class Pkcs11Signer:
    """A `Signer` whose EC P-256 private key stays inside a PKCS#11 token.

    One session is kept open and shared under a lock; if the module drops it (token
    removed, session closed), the next `sign` opens a new one and tries once more.

    Attributes:
        certificate: The signer's certificate.
        chain: The signer's certificate followed by its issuers.
        uri: The parsed key URI.
    """

    def __init__(
        self,
        *,
        module: Path,
        uri: Pkcs11Uri,
        pin: str | None,
        certificate: x509.Certificate,
        chain: tuple[x509.Certificate, ...],
    ) -> None:
        self.uri = uri
        self.certificate = certificate
        self.chain = chain
        self._module = module
        self._pin = pin
        self._lock = threading.Lock()
        self._session: Any = None
        self._key: Any = None

    def __repr__(self) -> str:
        return f"Pkcs11Signer({self._module}, {_describe_uri(self.uri)})"

    def _connect(self) -> None:
        try:
            library = pkcs11.lib(str(self._module))
        except (RuntimeError, OSError) as exc:
            raise SigningConfigError(
                f"Cannot load the PKCS#11 module {self._module}: {exc}"
            ) from None
        token = _find_token(library, self.uri)
        session = open_session(token, self._pin)
        try:
            key = _find_private_key(session, self.uri)
            if key.key_type != KeyType.EC:
                raise SigningConfigError(
                    f"The PKCS#11 key {_describe_uri(self.uri)} is a {key.key_type.name} key;"
                    " extracts are signed with ECDSA, so an EC P-256 key is required."
                )
        except BaseException:
            self._close_session(session)
            raise
        self._session, self._key = session, key

    @staticmethod
    def _close_session(session: Any) -> None:
        # A session the module already dropped has nothing left to release.
        with contextlib.suppress(pkcs11.exceptions.PKCS11Error):
            session.close()

    def _raw_sign(self, digest: bytes) -> bytes:
        if self._key is None:
            self._connect()
        raw: bytes = self._key.sign(digest, mechanism=Mechanism.ECDSA)
        return raw

    def sign(self, data: bytes) -> bytes:
        """Sign data with ECDSA over SHA-256 inside the token.

        Args:
            data: The bytes to sign (for CMS: the DER of the signed attributes).

        Returns:
            The DER-encoded ECDSA signature (`Ecdsa-Sig-Value`).

        Raises:
            SigningConfigError: The token, key or PIN cannot be used.
        """
        digest = hashlib.sha256(data).digest()
        with self._lock:
            try:
                try:
                    raw = self._raw_sign(digest)
                except _SESSION_LOST:
                    self._drop()
                    raw = self._raw_sign(digest)
            except pkcs11.exceptions.PKCS11Error as exc:
                raise SigningConfigError(
                    f"The PKCS#11 module refused to sign ({type(exc).__name__})."
                ) from None
        return encode_ecdsa_signature(raw)

    def _drop(self) -> None:
        if self._session is not None:
            self._close_session(self._session)
        self._session = self._key = None

    def close(self) -> None:
        """Close the session (logging out of the token)."""
        with self._lock:
            self._drop()


def check_key_matches(signer: Pkcs11Signer) -> None:
    """Prove that the token's key belongs to the signer's certificate.

    The private key cannot be read, so a probe is signed inside the token and verified
    with the certificate's public key.

    Raises:
        SigningConfigError: The certificate is not EC P-256, or the probe does not verify.
    """
    public_key = signer.certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise SigningConfigError(
            f"The signer certificate {signer.certificate.subject.rfc4514_string()} is not for"
            " an EC P-256 key; extracts are signed with ECDSA P-256."
        )
    probe = (
        b"cpl-service key check "
        + hashlib.sha256(signer.certificate.tbs_certificate_bytes).digest()
    )
    try:
        public_key.verify(signer.sign(probe), probe, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SigningConfigError(
            f"The PKCS#11 key {_describe_uri(signer.uri)} does not match the signer"
            f" certificate ({signer.certificate.subject.rfc4514_string()}, the first"
            " certificate in CPL_SIGNING_CHAIN); the pair cannot produce verifiable"
            " signatures."
        ) from None


def generate_p256_key(
    *, module: Path, token_label: str, pin: str | None, label: str, key_id: bytes
) -> ec.EllipticCurvePublicKey:
    """Generate an EC P-256 key pair inside a token; only the public half comes out.

    The private key is created sensitive and not extractable, for signing only.

    Args:
        module: The PKCS#11 module.
        token_label: The (initialised) token to create the key in.
        pin: The user PIN.
        label: CKA_LABEL of both halves.
        key_id: CKA_ID of both halves.

    Returns:
        The public key.

    Raises:
        SigningConfigError: The module, token or PIN cannot be used, or a key with that
            label or id exists already.
    """
    uri = Pkcs11Uri(token=token_label, object=label)
    library = pkcs11.lib(str(module))
    token = _find_token(library, uri)
    with open_session(token, pin, rw=True) as session:
        for attrs in ({Attribute.LABEL: label}, {Attribute.ID: key_id}):
            if next(iter(session.get_objects(attrs)), None) is not None:
                raise SigningConfigError(
                    f"Token {token_label!r} already holds an object with label {label!r} or"
                    f" id {key_id.hex()}; choose another label or token."
                )
        parameters = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        public, _private = parameters.generate_keypair(
            store=True,
            label=label,
            id=key_id,
            public_template={Attribute.VERIFY: True},
            private_template={
                Attribute.SIGN: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
            },
        )
        der = encode_ec_public_key(public)
    key = load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SigningConfigError("The token returned a public key that is not EC.")
    return key


def load_pkcs11_signer(
    uri_text: str, *, module: Path | None, password: str | None, chain_path: Path | None
) -> Pkcs11Signer:
    """Open the signing key named by a `pkcs11:` URI and check it against its certificate.

    Args:
        uri_text: `CPL_SIGNING_KEY`, a `pkcs11:` URI.
        module: `CPL_PKCS11_MODULE`, unless the URI carries `module-path`.
        password: `CPL_SIGNING_KEY_PASSWORD`, the user PIN (unless the URI gives one).
        chain_path: `CPL_SIGNING_CHAIN`: PEM, the signer's certificate first (required;
            the certificate is not read from the token).

    Returns:
        A signer whose key has been found, logged in to and proven to match.

    Raises:
        SigningConfigError: Anything about the URI, module, token, PIN, key or chain is
            unusable, or the key does not match the certificate.
    """
    uri = parse_pkcs11_uri(uri_text)
    resolved_module = resolve_module(uri, module)
    pin = resolve_pin(uri, password)
    if chain_path is None:
        raise SigningConfigError(
            "CPL_SIGNING_KEY is a pkcs11: URI; set CPL_SIGNING_CHAIN to a PEM file with the"
            " signer's certificate first, then the issuing CA."
        )
    certificates = load_chain_file(chain_path)
    signer = Pkcs11Signer(
        module=resolved_module,
        uri=uri,
        pin=pin,
        certificate=certificates[0],
        chain=order_chain(certificates[0], certificates[1:]),
    )
    try:
        check_key_matches(signer)
    except BaseException:
        signer.close()
        raise
    return signer
