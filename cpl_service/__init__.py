"""cpl_service: the system of record for the SEC Central Products List."""

__version__ = "0.1.0"
