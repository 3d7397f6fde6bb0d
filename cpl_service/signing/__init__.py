"""Signing: keys, the CMS signer and verifier, and the development PKI.

This package is the only one that touches `cryptography.hazmat`; it knows nothing of
HTTP or the database. Callers hand it bytes and certificates and get bytes, typed
results or an error from `cpl_service.signing.errors` back.
"""
