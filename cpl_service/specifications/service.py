"""Reading and extending the technical-specification register."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from cpl_service.errors import ConflictError, InvalidInputError
from cpl_service.parties import audit
from cpl_service.parties.actors import Actor
from cpl_service.specifications.models import (
    SpecificationKind,
    TechnicalSpecification,
    TechnicalSpecificationCreate,
)

_NAME = re.compile(r"^(SMETS1|SMETS2|CHTS|GBCS) v\d+(\.\d+)*$")


def list_specifications(*, session: Session) -> list[TechnicalSpecification]:
    return list(
        session.exec(
            select(TechnicalSpecification).order_by(
                col(TechnicalSpecification.kind), col(TechnicalSpecification.id)
            )
        ).all()
    )


def add_specification(
    *, session: Session, spec_in: TechnicalSpecificationCreate, actor: Actor | None = None
) -> TechnicalSpecification:
    """Add a version to the register (SECAS); the name must read like `GBCS v3.2`."""
    name = " ".join(spec_in.name.split())
    if not _NAME.match(name):
        raise InvalidInputError(
            f"{name!r} is not a specification name; write it like 'SMETS2 v4.2' or 'GBCS v3.2'."
        )
    if not name.startswith(SpecificationKind(spec_in.kind).value + " "):
        raise InvalidInputError(f"{name!r} does not name a {spec_in.kind} version.")
    if session.exec(
        select(TechnicalSpecification).where(TechnicalSpecification.name == name)
    ).first():
        raise ConflictError(f"{name} is already in the register.")
    spec = TechnicalSpecification(
        name=name, kind=spec_in.kind.value, installation_end_date=spec_in.installation_end_date
    )
    session.add(spec)
    audit.record(
        session=session,
        kind=audit.AuditKind.SPECIFICATION_ADDED,
        actor=actor,
        subject=name,
        detail=f"installation end date {spec.installation_end_date}"
        if spec.installation_end_date
        else None,
    )
    session.commit()
    session.refresh(spec)
    return spec
