"""Every table, imported in one place so metadata and Alembic see them all."""

from cpl_service.certificates.models import AssuranceCertificate
from cpl_service.entries.models import Entry, EntryEvent
from cpl_service.extracts.models import Extract
from cpl_service.idempotency.models import IdempotencyRecord
from cpl_service.notices.models import Notice
from cpl_service.parties.models import Party, PartyCertificate
from cpl_service.specifications.models import TechnicalSpecification
from cpl_service.submissions.models import Submission, SubmissionDocument

__all__ = [
    "AssuranceCertificate",
    "Entry",
    "EntryEvent",
    "Extract",
    "IdempotencyRecord",
    "Notice",
    "Party",
    "PartyCertificate",
    "Submission",
    "SubmissionDocument",
    "TechnicalSpecification",
]
