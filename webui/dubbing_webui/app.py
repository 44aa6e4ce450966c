"""The FastAPI application: wiring of services, routes, health and metrics."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import urllib3
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .auth import LoginRequired
from .bodylimit import BodyLimit
from .config import Settings
from .db import DatabaseUnavailable
from .limits import TooMany
from .objects import StoreUnavailable
from .retention import ExpiryRule, retention_rules
from .routes import api, editor, glossary, pages, tus, voices
from .services import Services

log = logging.getLogger(__name__)
#: Seconds a client is told to wait when a dependency is down.
RETRY_AFTER_S = 15
STATIC = Path(__file__).resolve().parent / "static"


def _retention_rules(settings: Settings) -> list[ExpiryRule]:
    return retention_rules(
        settings.retention_upload_days,
        settings.retention_output_days,
        settings.retention_cache_days,
        settings.upload_expiry_hours,
    )


def content_security_policy(nonce: str, connect: str = "") -> str:
    """Scripts only from the app or with this answer's nonce; no framing, plugins or foreign forms.
    Media may come from the object store's presigned URLs (another origin); styles allow the
    inline widths of progress bars; ``connect``: the object store's origin when the upload page
    sends parts to it directly."""
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "media-src 'self' http: https:",
            f"connect-src 'self' {connect}".rstrip(),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


async def _sweeper(svc: Services) -> None:
    while True:
        await asyncio.sleep(svc.settings.sweep_interval_s)
        try:
            n = await asyncio.to_thread(svc.uploads.sweep)
            svc.metrics.swept.inc(n)
        except Exception:  # try again next round
            log.exception("upload sweep failed")


async def _slot_renewer(svc: Services) -> None:
    """Keep this replica's stream slots leased while their streams last."""
    while True:
        await asyncio.sleep(svc.streams.lease_s / 3)
        try:
            await asyncio.to_thread(svc.streams.renew)
        except Exception:  # the store is down for a moment: try again next round
            log.exception("renewing the stream slots failed")


def create_app(settings: Settings | None = None, keepalive_s: float | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    if keepalive_s is None:
        keepalive_s = settings.sse_keepalive_seconds

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Services.build(settings)
        app.state.services = svc
        svc.accounts.bootstrap_admin(settings.admin_user, settings.admin_password)
        try:
            await asyncio.to_thread(svc.objects.ensure_bucket)
            await asyncio.to_thread(svc.objects.apply_retention, _retention_rules(settings))
        except Exception as exc:  # noqa: BLE001 - reported by /readyz
            log.warning("bucket check failed: %s", exc)
        if settings.watch_jobs:
            svc.hub.start()
        tasks = [asyncio.create_task(_sweeper(svc)), asyncio.create_task(_slot_renewer(svc))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            svc.hub.stop()
            svc.store.close()

    app = FastAPI(
        title="Dubbing web UI",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.keepalive_s = keepalive_s
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(editor.api_router)
    app.include_router(tus.router)
    app.include_router(glossary.router)
    app.include_router(editor.router)  # before pages: /jobs/{namespace}/{name} would take /jobs/x/edit
    app.include_router(pages.router)
    app.include_router(voices.router)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(TooMany)
    async def _too_many(request: Request, exc: TooMany) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, exc: StoreUnavailable) -> Response:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": f"{exc}; try again shortly"}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
        )

    @app.exception_handler(DatabaseUnavailable)
    async def _database_down(request: Request, exc: DatabaseUnavailable) -> Response:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": f"{exc}; try again shortly"}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
        )

    @app.exception_handler(urllib3.exceptions.HTTPError)
    async def _cluster_down(request: Request, exc: urllib3.exceptions.HTTPError) -> Response:
        # The object store's errors arrive as StoreUnavailable; what is left is the Kubernetes client's.
        log.warning("%s %s: Kubernetes API: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse(
            {"detail": f"the Kubernetes API is not answering ({type(exc).__name__}); try again shortly"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.middleware("http")
    async def _metrics(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        request.state.csp_nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        svc: Services | None = getattr(request.app.state, "services", None)
        if svc is not None:
            svc.metrics.requests.labels(request.method, path, str(response.status_code)).inc()
            svc.metrics.latency.labels(path).observe(time.perf_counter() - started)
        connect = svc.uploads.direct_origin() if svc is not None else ""
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(request.state.csp_nonce, connect)
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # outermost: before any form parsing

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        svc: Services = request.app.state.services
        kube_ok = svc.kube.healthy()
        db_ok = svc.store.db.healthy()
        minio_ok = svc.objects.healthy()
        redis_ok = svc.redis.available() if svc.redis.configured else None
        svc.metrics.redis_up.set(1 if redis_ok else 0)
        body: dict[str, Any] = {
            "ready": kube_ok and db_ok,
            "apiServer": "ok" if kube_ok else "down",
            "minio": "ok" if minio_ok else "degraded",
            "redis": "not configured" if redis_ok is None else ("ok" if redis_ok else "degraded"),
            "jobWatch": "ok" if svc.hub.connected else "connecting",
        }
        if svc.store.db.kind == "postgres":
            body["database"] = "ok" if db_ok else "down"
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        svc: Services = request.app.state.services
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
