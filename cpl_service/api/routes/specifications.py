"""The technical-specification register."""

from fastapi import APIRouter, status

from cpl_service.api.deps import CurrentActor, SecasParty, SessionDep
from cpl_service.specifications import service
from cpl_service.specifications.models import (
    TechnicalSpecificationCreate,
    TechnicalSpecificationPublic,
)

router = APIRouter(prefix="/technical-specifications", tags=["technical specifications"])


@router.get("")
def list_specifications(session: SessionDep) -> dict[str, list[TechnicalSpecificationPublic]]:
    """Every registered SMETS, CHTS and GBCS version."""
    specs = service.list_specifications(session=session)
    return {"items": [TechnicalSpecificationPublic.model_validate(s) for s in specs]}


@router.post("", status_code=status.HTTP_201_CREATED)
def add_specification(
    spec_in: TechnicalSpecificationCreate,
    session: SessionDep,
    _secas: SecasParty,
    actor: CurrentActor,
) -> TechnicalSpecificationPublic:
    """Add a version to the register (SECAS)."""
    spec = service.add_specification(session=session, spec_in=spec_in, actor=actor)
    return TechnicalSpecificationPublic.model_validate(spec)
