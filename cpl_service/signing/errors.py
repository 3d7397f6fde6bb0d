"""The signing error tree.

Every verification failure is a `cpl_service.errors.SignatureError`, so the HTTP layer
answers 422 for all of them; the subclasses let callers and tests tell the reasons apart.
"""

from __future__ import annotations

from cpl_service.errors import CplError, SignatureError


class MalformedSignatureError(SignatureError):
    """The signature is not a CMS SignedData we can read, or a required piece is missing."""

    slug = "signature-malformed"
    title = "The signature could not be read"


class BadSignatureError(SignatureError):
    """The signature does not match the signed bytes (tampered content or signature)."""

    slug = "signature-mismatch"
    title = "The signature does not match the content"


class UntrustedChainError(SignatureError):
    """The signer's certificate does not lead to a trusted root."""

    slug = "signature-untrusted"
    title = "The signer is not trusted"


class UnregisteredSignerError(UntrustedChainError):
    """A submission was signed with a certificate the party has not registered."""

    slug = "signer-not-registered"
    title = "The signing certificate is not registered"


class SignerNotValidError(SignatureError):
    """A certificate of the chain was not valid (expired or not yet valid) at the time asked."""

    slug = "signer-not-valid"
    title = "The signing certificate was not valid"


class KeyUsageError(SignatureError):
    """The signer's certificate may not be used for digital signatures."""

    slug = "signer-key-usage"
    title = "The signing certificate may not sign"


class SigningConfigError(CplError):
    """The configured signing key or chain cannot be used; the service must not start."""

    slug = "signing-config"
    title = "Signing is misconfigured"
