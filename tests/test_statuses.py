"""Statuses are StrEnums in code and the same words in the database and the API."""

from __future__ import annotations

from typing import Any, get_args

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError
from sqlmodel import Session, select

from cpl_service.api.routes.extracts import AcknowledgementIn
from cpl_service.api.schemas import RemovalIn
from cpl_service.certificates.models import AssuranceCertificate, CertificateStatus
from cpl_service.entries.models import Entry, EntryStatus
from cpl_service.entries.workflow import REMOVAL_STATUSES
from cpl_service.extracts.models import ACKNOWLEDGEMENTS
from tests.publication.conftest import entry_fields


def test_a_status_is_stored_as_its_word_and_read_back_as_the_enum(session: Session) -> None:
    session.add(Entry(**entry_fields(1, status=EntryStatus.WITHDRAWN)))
    session.add(AssuranceCertificate(kind="CPA", number="CPA-1", status=CertificateStatus.REVOKED))
    session.commit()
    stored = session.execute(sa.text("SELECT status FROM entry")).scalar_one()
    assert (type(stored), stored) == (str, "withdrawn")
    assert session.execute(sa.text("SELECT status FROM assurance_certificate")).scalar_one() == (
        "revoked"
    )
    session.expunge_all()
    entry = session.exec(select(Entry)).one()
    assert entry.status is EntryStatus.WITHDRAWN
    assert session.exec(select(AssuranceCertificate)).one().status is CertificateStatus.REVOKED


def test_a_word_outside_the_enum_is_never_stored(session: Session) -> None:
    # Untyped data (a dict from a file, say) can carry any word; the column stops it.
    untyped: dict[str, Any] = {"kind": "CPA", "number": "CPA-1", "status": "lapsed"}
    session.add(AssuranceCertificate(**untyped))
    with pytest.raises(StatementError, match="lapsed"):
        session.commit()
    session.rollback()
    assert session.execute(sa.text("SELECT count(*) FROM assurance_certificate")).scalar() == 0


def test_request_bodies_accept_exactly_the_words_of_the_enums() -> None:
    # The request models keep Literal types (same schema, same 422 text); these pin them.
    removal = get_args(RemovalIn.model_fields["status"].annotation)
    assert set(removal) == {s.value for s in REMOVAL_STATUSES}
    acknowledgement = get_args(AcknowledgementIn.model_fields["status"].annotation)
    assert set(acknowledgement) == {s.value for s in ACKNOWLEDGEMENTS}
