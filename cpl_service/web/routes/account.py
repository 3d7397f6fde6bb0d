"""Signing in and out, who you are, and passwords — the pages over `parties`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from cpl_service.api.deps import ClientAddress, SessionDep, SettingsDep
from cpl_service.api.routes.session import set_session_cookie
from cpl_service.clock import utcnow
from cpl_service.errors import InvalidInputError, NotFoundError
from cpl_service.parties import people, sessions
from cpl_service.parties.errors import SignInError, SignInLockedError
from cpl_service.parties.sessions import SESSION_COOKIE
from cpl_service.web.deps import CheckedForm, SignedIn, Viewer
from cpl_service.web.pages import PageRoute, redirect, render, safe_next

router = APIRouter(route_class=PageRoute)

Password = Annotated[str, Form(min_length=1, max_length=4096)]


@router.get("/sign-in")
def sign_in_page(request: Request, viewer: Viewer, next: str = "/") -> Response:
    if viewer is not None:
        return redirect(safe_next(next))
    return render(request, "sign_in.html", {"next": safe_next(next)})


@router.post("/sign-in")
def sign_in(
    request: Request,
    _form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddress,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    now = utcnow()
    try:
        user, _party = people.sign_in(
            session=session, email=email, password=password, address=address, now=now
        )
    except (SignInError, SignInLockedError) as exc:
        context = {"next": safe_next(next), "email": email, "error": exc.detail}
        locked = isinstance(exc, SignInLockedError)
        headers = exc.headers if isinstance(exc, SignInLockedError) else None
        return render(
            request, "sign_in.html", context, status_code=429 if locked else 401, headers=headers
        )
    secret = sessions.start_session(
        session=session,
        user=user,
        now=now,
        address=address,
        replacing=request.cookies.get(SESSION_COOKIE),
    )
    response = redirect(safe_next(next))
    set_session_cookie(response, secret, settings)
    return response


@router.post("/sign-out")
def sign_out(
    request: Request, _form: CheckedForm, session: SessionDep, address: ClientAddress
) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        sessions.end_session(session=session, secret=secret, now=utcnow(), address=address)
    response = redirect("/sign-in?signed_out=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me")
def me(request: Request, person: SignedIn, changed: bool = False) -> Response:
    return render(request, "me.html", {"person": person, "changed": changed})


@router.post("/me/password")
def change_password(
    request: Request,
    _form: CheckedForm,
    person: SignedIn,
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddress,
    current_password: Password,
    password: Password,
    confirm: Password,
) -> Response:
    assert person.user is not None
    now = utcnow()
    try:
        if password != confirm:
            raise InvalidInputError("The two new passwords are not the same.")
        people.change_password(
            session=session,
            user=person.user,
            current=current_password,
            password=password,
            actor=person.actor,
            now=now,
            address=address,
        )
    except InvalidInputError as exc:
        context = {"person": person, "password_error": exc.detail}
        return render(request, "me.html", context, status_code=422)
    # A new password ends every session of the person, this one too: start a fresh one.
    secret = sessions.start_session(session=session, user=person.user, now=now, address=address)
    response = redirect("/me?changed=true")
    set_session_cookie(response, secret, settings)
    return response


@router.get("/set-password")
def set_password_page(request: Request, token: str = "") -> Response:
    return render(request, "set_password.html", {"token": token})


@router.post("/set-password")
def set_password(
    request: Request,
    _form: CheckedForm,
    session: SessionDep,
    address: ClientAddress,
    token: Annotated[str, Form(min_length=1, max_length=200)],
    password: Password,
    confirm: Password,
) -> Response:
    try:
        if password != confirm:
            raise InvalidInputError("The two passwords are not the same.")
        people.set_password_with_link(
            session=session, secret=token, password=password, now=utcnow(), address=address
        )
    except (InvalidInputError, NotFoundError) as exc:
        context = {"token": token, "error": exc.detail}
        return render(request, "set_password.html", context, status_code=422)
    return redirect("/sign-in?password_set=1")
