"""Signing: keys, CMS signing and verification, certificate paths, and the development PKI.

`keys` (the `Signer` interface and file-backed keys), `cms` (making a detached CMS
signature), `verify` (checking one), `chain` (building and checking the path from a
signer to a trust root), `certificates` (reading and naming certificates), `config`
(choosing the signer at startup), `devpki` (development credentials) and `errors`.

This package is the only one that touches `cryptography.hazmat`; it knows nothing of
HTTP or the database. Callers hand it bytes and certificates and get bytes, typed
results or an error from `cpl_service.signing.errors` back.
"""
