"""Request authentication (session cookie or bearer API token) and CSRF checks."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

from . import security
from .services import Services
from .store import User

SESSION_COOKIE = "dubbing_session"
PRE_CSRF_COOKIE = "dubbing_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class LoginRequired(Exception):
    """Raised for pages; turned into a redirect to /login."""


@dataclass(frozen=True)
class Principal:
    user: User
    csrf: str | None  # None when authenticated by API token (no CSRF for bearer requests)


def services(request: Request) -> Services:
    return request.app.state.services


def _principal(request: Request) -> Principal | None:
    svc = services(request)
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        user = svc.accounts.token_user(auth[7:].strip())
        return Principal(user, None) if user else None
    session = svc.accounts.session(request.cookies.get(SESSION_COOKIE))
    return Principal(session.user, session.csrf) if session else None


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in SAFE_METHODS or principal.csrf is None:
        return
    sent: str | UploadFile | None = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get("csrf_token")  # cached by Starlette for the route's own Form fields
    if not sent or not security.same(str(sent), principal.csrf):
        raise HTTPException(403, "CSRF token missing or wrong")


async def api_principal(request: Request) -> Principal:
    principal = _principal(request)
    if principal is None:
        raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
    await _check_csrf(request, principal)
    return principal


async def api_user(request: Request) -> User:
    return (await api_principal(request)).user


async def page_principal(request: Request) -> Principal:
    principal = _principal(request)
    if principal is None:
        raise LoginRequired()
    await _check_csrf(request, principal)
    return principal


async def admin_user(request: Request) -> User:
    user = (await api_principal(request)).user
    if not user.is_admin:
        raise HTTPException(404, "not found")
    return user
