"""Server-rendered pages (thin: each gathers what a template shows from the services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from dubbing.api.v1alpha1 import STAGES

from .. import models as models_svc
from .. import notify, security
from ..accounts import AccountError, Throttled
from ..auth import PRE_CSRF_COOKIE, SESSION_COOKIE, Principal, page_principal, services
from ..jobs import JobNotFound, last_log_line, summary, timeline

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

LANGUAGES = [
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt-BR", "Portuguese (Brazil)"),
    ("en", "English"),
    ("ja", "Japanese"),
    ("zh", "Chinese"),
    ("hi", "Hindi"),
    ("ar", "Arabic"),
    ("ru", "Russian"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("tr", "Turkish"),
    ("ko", "Korean"),
]


def render(
    request: Request, name: str, principal: Principal | None, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    svc = services(request)
    base = {
        "user": principal.user if principal else None,
        "csrf": principal.csrf if principal else None,
        "degraded": svc.redis.degraded,
        "page": name.split(".")[0],
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
    }
    return templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status_code)


def back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# -------------------------------------------------------------------- login
@router.get("/login")
def login_page(request: Request, error: str | None = None) -> Response:
    token = request.cookies.get(PRE_CSRF_COOKIE) or security.new_token()
    resp = render(request, "login.html", None, login_csrf=token, error=error)
    resp.set_cookie(
        PRE_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=services(request).settings.cookie_secure,
        path="/login",
    )
    return resp


@router.post("/login")
def login(
    request: Request, username: str = Form(...), password: str = Form(...), csrf_token: str = Form(...)
) -> Response:
    svc = services(request)
    cookie = request.cookies.get(PRE_CSRF_COOKIE)
    if not cookie or not security.same(cookie, csrf_token):
        raise HTTPException(403, "CSRF token missing or wrong")
    client = request.client.host if request.client else "?"
    try:
        user = svc.accounts.authenticate(username.strip(), password, client)
    except Throttled:
        svc.metrics.logins.labels("throttled").inc()
        return render(
            request,
            "login.html",
            None,
            429,
            login_csrf=cookie,
            error="Too many failed attempts. Wait a few minutes and try again.",
        )
    except AccountError:
        svc.metrics.logins.labels("failed").inc()
        return render(request, "login.html", None, 401, login_csrf=cookie, error="Wrong username or password.")
    svc.metrics.logins.labels("ok").inc()
    sid, _session = svc.accounts.start_session(user)
    resp = back("/")
    resp.set_cookie(
        SESSION_COOKIE,
        sid,
        httponly=True,
        samesite="lax",
        secure=svc.settings.cookie_secure,
        max_age=svc.settings.session_hours * 3600,
        path="/",
    )
    resp.delete_cookie(PRE_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, _p: Principal = Depends(page_principal)) -> Response:
    services(request).accounts.end_session(request.cookies.get(SESSION_COOKIE))
    resp = back("/login")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# -------------------------------------------------------------------- pages
@router.get("/")
def dashboard(request: Request, p: Principal = Depends(page_principal)) -> Response:
    jobs = [summary(o) for o in services(request).jobs.list(p.user)]
    return render(request, "dashboard.html", p, jobs=jobs)


@router.get("/upload")
def upload_page(request: Request, p: Principal = Depends(page_principal)) -> Response:
    svc = services(request)
    return render(
        request,
        "upload.html",
        p,
        languages=LANGUAGES,
        chunk_size=svc.settings.chunk_size,
        max_bytes=svc.settings.max_upload_bytes,
        ntfy=svc.store.user_settings(p.user.name).get("ntfy"),
        glossary=len(svc.glossaries.entries(p.user.name)),
    )


@router.get("/jobs/{name}")
def job_page(name: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    svc = services(request)
    try:
        obj = svc.jobs.get(p.user, name)
        outputs = svc.jobs.outputs(p.user, name)
    except JobNotFound:
        return render(request, "notfound.html", p, 404)
    return render(
        request,
        "job.html",
        p,
        job=summary(obj),
        timeline=timeline(obj),
        last_line=last_log_line(obj),
        outputs=outputs,
        status=obj.get("status") or {},
        stages=STAGES,
        scorecards=svc.scorecards.panels(obj, outputs),
    )


@router.get("/jobs/{namespace}/{name}")
def job_page_namespaced(
    namespace: str, name: str, request: Request, p: Principal = Depends(page_principal)
) -> Response:
    """The operator's notification links name the namespace too."""
    if namespace != services(request).settings.namespace:
        return render(request, "notfound.html", p, 404)
    return back(f"/jobs/{name}")


@router.post("/jobs/{name}/cancel")
def cancel(name: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    try:
        services(request).jobs.cancel(p.user, name)
    except JobNotFound:
        return render(request, "notfound.html", p, 404)
    return back(f"/jobs/{name}")


@router.post("/jobs/{name}/retry")
def retry(name: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    try:
        services(request).jobs.rerun(p.user, name)
    except JobNotFound:
        return render(request, "notfound.html", p, 404)
    return back(f"/jobs/{name}")


@router.get("/settings")
def settings_page(
    request: Request, p: Principal = Depends(page_principal), saved: int = 0, tested: int = 0
) -> Response:
    svc = services(request)
    ntfy = svc.store.user_settings(p.user.name).get("ntfy") or {
        "enabled": False,
        "topic": "",
        "events": list(notify.OUTCOMES),
    }
    return render(
        request,
        "settings.html",
        p,
        ntfy=ntfy,
        outcomes=notify.OUTCOMES,
        saved=saved,
        tested=tested,
        server=svc.settings.ntfy_url,
        tokens=svc.store.tokens(p.user.name),
        new_token=None,
        error=None,
    )


@router.post("/settings")
def save_settings(
    request: Request,
    p: Principal = Depends(page_principal),
    enabled: str | None = Form(None),
    topic: str = Form(""),
    events: list[str] = Form([]),
) -> Response:
    svc = services(request)
    try:
        value = notify.validate_ntfy(enabled is not None, topic, events)
    except notify.SettingsError as exc:
        ntfy = {"enabled": enabled is not None, "topic": topic, "events": events}
        return render(
            request,
            "settings.html",
            p,
            422,
            ntfy=ntfy,
            outcomes=notify.OUTCOMES,
            saved=0,
            tested=0,
            server=svc.settings.ntfy_url,
            tokens=svc.store.tokens(p.user.name),
            new_token=None,
            error=str(exc),
        )
    data = svc.store.user_settings(p.user.name)
    data["ntfy"] = value
    svc.store.set_user_settings(p.user.name, data)
    return back("/settings?saved=1")


@router.post("/settings/test")
def test_notification(request: Request, p: Principal = Depends(page_principal)) -> Response:
    svc = services(request)
    ntfy = svc.store.user_settings(p.user.name).get("ntfy") or {}
    try:
        if not ntfy.get("topic"):
            raise notify.SettingsError("save a topic first")
        notify.send_test(svc.settings.ntfy_url, svc.settings.ntfy_token, ntfy["topic"], f"{svc.settings.public_url}/")
    except notify.SettingsError as exc:
        return render(
            request,
            "settings.html",
            p,
            502,
            ntfy=ntfy or {"enabled": False, "topic": "", "events": []},
            outcomes=notify.OUTCOMES,
            saved=0,
            tested=0,
            server=svc.settings.ntfy_url,
            tokens=svc.store.tokens(p.user.name),
            new_token=None,
            error=str(exc),
        )
    return back("/settings?tested=1")


@router.post("/settings/tokens")
def new_token(request: Request, p: Principal = Depends(page_principal), label: str = Form("script")) -> Response:
    svc = services(request)
    token = svc.accounts.new_api_token(p.user, label)
    ntfy = svc.store.user_settings(p.user.name).get("ntfy") or {"enabled": False, "topic": "", "events": []}
    return render(
        request,
        "settings.html",
        p,
        ntfy=ntfy,
        outcomes=notify.OUTCOMES,
        saved=0,
        tested=0,
        server=svc.settings.ntfy_url,
        tokens=svc.store.tokens(p.user.name),
        new_token=token,
        error=None,
    )


@router.get("/models")
def models_page(request: Request, p: Principal = Depends(page_principal)) -> Response:
    svc = services(request)
    error = None
    try:
        gpus = models_svc.gpu_report(svc.kube, svc.settings.namespace)
    except Exception as exc:  # noqa: BLE001 - the page still shows the backends
        gpus, error = [], f"cluster unreachable: {exc}"
    return render(
        request,
        "models.html",
        p,
        backends=models_svc.backend_rows(),
        gpus=gpus,
        error=error,
        catalogue=svc.pulls.rows(models_svc.model_cache()),
        can_pull=p.user.is_admin and svc.pulls.enabled,
    )


@router.get("/admin/users")
def users_page(request: Request, p: Principal = Depends(page_principal), error: str | None = None) -> Response:
    if not p.user.is_admin:
        return render(request, "notfound.html", p, 404)
    return render(request, "users.html", p, users=services(request).store.users(), error=error)


@router.post("/admin/users")
def add_user(
    request: Request,
    p: Principal = Depends(page_principal),
    name: str = Form(...),
    password: str = Form(...),
    role: str = Form("user"),
) -> Response:
    if not p.user.is_admin:
        return render(request, "notfound.html", p, 404)
    svc = services(request)
    try:
        svc.accounts.create_user(name.strip(), password, role)
    except AccountError as exc:
        return render(request, "users.html", p, 400, users=svc.store.users(), error=str(exc))
    return back("/admin/users")
