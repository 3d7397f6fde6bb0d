"""Idempotency keys: a retried action answers its first result instead of acting twice."""
