"""Who is looking at a page, what their role lets them see, and checked forms.

Pages are for people: the caller is the signed-in person of the session cookie (bearer
tokens are for the API). Role checks use the API's own `check_role`, so a page refuses
exactly whom the API refuses. A state-changing form must carry the CSRF token its page
was rendered with (`CheckedForm`), or it is refused with 403 before anything happens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from cpl_service.api.deps import check_role, principal_for_cookie
from cpl_service.errors import PermissionDeniedError
from cpl_service.parties.actors import Principal
from cpl_service.parties.models import Role
from cpl_service.parties.sessions import CSRF_FIELD, SESSION_COOKIE
from cpl_service.web.pages import SignInRequired, form_token_ok

SUBMITTER_ROLES = (Role.MANUFACTURER, Role.SUPPLIER, Role.DCC)


async def get_viewer(request: Request) -> Principal | None:
    """The signed-in person, or None (also remembered on `request.state` for the layout)."""
    secret = request.cookies.get(SESSION_COOKIE)
    principal = None
    if secret:
        principal = await run_in_threadpool(principal_for_cookie, request, secret)
    request.state.principal = principal
    return principal


Viewer = Annotated[Principal | None, Depends(get_viewer)]


async def get_signed_in(viewer: Viewer) -> Principal:
    if viewer is None:
        raise SignInRequired()
    return viewer


SignedIn = Annotated[Principal, Depends(get_signed_in)]


def page_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits signed-in people of one of `roles` (the 403 page otherwise)."""

    async def check(person: SignedIn) -> Principal:
        check_role(person.party, roles)
        return person

    return check


SecasPerson = Annotated[Principal, Depends(page_roles(Role.SECAS))]
DccPerson = Annotated[Principal, Depends(page_roles(Role.DCC))]
DccOrSecasPerson = Annotated[Principal, Depends(page_roles(Role.DCC, Role.SECAS))]
SupplierPerson = Annotated[Principal, Depends(page_roles(Role.SUPPLIER))]
SubmitterPerson = Annotated[Principal, Depends(page_roles(*SUBMITTER_ROLES))]


async def get_checked_form(request: Request, viewer: Viewer) -> FormData:
    """The posted form, once its CSRF token is found to be the one its page carried."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not form_token_ok(request, token if isinstance(token, str) else None):
        raise PermissionDeniedError(
            "This form has expired or did not come from this site; reload the page and try again."
        )
    return form


CheckedForm = Annotated[FormData, Depends(get_checked_form)]
