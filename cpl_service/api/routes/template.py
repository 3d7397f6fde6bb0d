"""The blank submission workbook."""

from fastapi import APIRouter
from fastapi.responses import Response

from cpl_service.api.deps import SessionDep
from cpl_service.submissions.service import specification_infos
from cpl_service.workbook.template import build_template

router = APIRouter(tags=["submissions"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/template", response_class=Response)
def template(session: SessionDep) -> Response:
    """The CPL submission workbook to fill in, with today's register in its drop-downs."""
    content = build_template(specifications=specification_infos(session))
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="cpl-submission-template.xlsx"'},
    )
