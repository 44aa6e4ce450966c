"""The JSON API under /api (thin: each route calls one service)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from dubbing.glossary import GlossaryError, dump
from dubbing.voices.library import VoiceError

from .. import models as models_svc
from .. import notify
from ..accounts import AccountError
from ..auth import SESSION_COOKIE, admin_user, api_user, services
from ..jobs import JobError, JobNotFound, JobQuotaExceeded, last_log_line, summary, timeline
from ..model_pulls import PullRejected
from ..objects import StoreUnavailable
from ..scorecards import LanguageChoice, ScorecardNotFound, ScorecardUnreadable
from ..store import User
from ..uploads import UploadError
from .streams import log_stream
from .voices import refused as voice_refused
from .voices import voice_service

router = APIRouter(prefix="/api", tags=["api"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Strict(BaseModel):
    """Request bodies refuse fields they do not know (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class UploadCreate(Strict):
    name: str = Field(description="File name (no path).")
    size: int = Field(gt=0, description="Size in bytes.")
    type: str = Field("application/octet-stream", description="MIME type (video/* or audio/*).")
    sha256: str | None = Field(None, description="SHA-256 of the whole file (hex); checked at completion.")


class PartSign(Strict):
    sha256: str = Field(description="SHA-256 of the chunk (hex); the signed URL takes only these bytes.")


class JobCreate(Strict):
    uploadId: str
    targetLanguages: list[str] = Field(min_length=1, max_length=16)
    sourceLanguage: str = "auto"
    options: dict[str, Any] = Field(default_factory=dict)
    #: The job's own glossary entries (checked and bounded by the job service); the user's glossary goes under them.
    glossary: list[Any] | None = None


class NtfySettings(Strict):
    enabled: bool = False
    topic: str = ""
    events: list[Literal["succeeded", "failed", "cancelled", "review"]] = ["succeeded", "failed", "cancelled", "review"]


class TokenCreate(Strict):
    label: str = "script"
    days: int | None = Field(default=None, ge=1, le=3650)


class PasswordChange(Strict):
    current: str = Field(max_length=1024)
    new: str = Field(max_length=1024)


class Scorecard(BaseModel):
    """A dubbed language's scorecard (``dubbing.dev/scorecard/v1``), as the score stage wrote it.

    Each section is ``{"error": "<why>"}`` when it could not be measured; ``units`` names the
    unit of every number. See docs/pipeline.md, "The scorecard"."""

    model_config = ConfigDict(extra="allow")

    apiVersion: str = Field(description="dubbing.dev/scorecard/v1")
    version: int = Field(description="Bumped when a field's meaning changes.")
    language: str = Field(description="The dubbed (target) language.")
    sourceLanguage: str | None = None
    summary: dict[str, Any] = Field(
        default_factory=dict, description="The headline figures (status.outputs.languages[].quality)."
    )
    intelligibility: dict[str, Any] = Field(
        default_factory=dict, description="WER/CER of the dubbed speech transcribed back."
    )
    timing: dict[str, Any] = Field(
        default_factory=dict, description="Segments in their slot, overrun, misfits, every segment's placement."
    )
    voice: dict[str, Any] = Field(default_factory=dict, description="Speaker similarity source↔dub and dub↔dub.")
    loudness: dict[str, Any] = Field(
        default_factory=dict, description="Integrated loudness and true peak against the target."
    )
    sync: dict[str, Any] = Field(default_factory=dict, description="Speech onset drift per segment, median and max.")
    units: dict[str, str] = Field(default_factory=dict)


class UserCreate(Strict):
    name: str
    password: str
    role: Literal["admin", "user"] = "user"


def upload_http(exc: UploadError) -> HTTPException:
    status = 422 if exc.status == 460 else exc.status
    return HTTPException(status, str(exc))


# ------------------------------------------------------------------ account
@router.get("/me")
def me(user: User = Depends(api_user)) -> dict[str, Any]:
    return {"name": user.name, "role": user.role}


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, request: Request, user: User = Depends(api_user)) -> dict[str, str]:
    try:
        return {"token": services(request).accounts.new_api_token(user, body.label, body.days)}
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.get("/tokens")
def list_tokens(request: Request, user: User = Depends(api_user)) -> list[dict[str, Any]]:
    return services(request).store.tokens(user.name)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, request: Request, user: User = Depends(api_user)) -> None:
    if not services(request).accounts.revoke_token(user, token_id):
        raise HTTPException(404, "no such token")


@router.post("/me/password", status_code=204)
def change_password(body: PasswordChange, request: Request, user: User = Depends(api_user)) -> None:
    try:
        services(request).accounts.change_password(user, body.current, body.new, request.cookies.get(SESSION_COOKIE))
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.post("/users/{name}/disable", status_code=204)
def disable_user(name: str, request: Request, admin: User = Depends(admin_user)) -> None:
    try:
        services(request).accounts.disable_user(admin, name)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.post("/users/{name}/enable", status_code=204)
def enable_user(name: str, request: Request, _admin: User = Depends(admin_user)) -> None:
    try:
        services(request).accounts.enable_user(name)
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.delete("/users/{name}", status_code=204)
def delete_user(name: str, request: Request, admin: User = Depends(admin_user)) -> None:
    try:
        services(request).accounts.delete_user(admin, name)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from exc
    try:
        voice_service(request).forget_user(name)  # nobody may inherit the voices under that name
    except (VoiceError, StoreUnavailable) as exc:
        raise voice_refused(exc) from None


@router.post("/users", status_code=201)
def create_user(body: UserCreate, request: Request, _admin: User = Depends(admin_user)) -> dict[str, str]:
    try:
        user = services(request).accounts.create_user(body.name, body.password, body.role)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from exc
    return {"name": user.name, "role": user.role}


# ------------------------------------------------------------------ uploads
@router.post("/uploads", status_code=201)
def create_upload(body: UploadCreate, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    svc = services(request).uploads
    try:
        rec = svc.create(user, body.name, body.size, body.type, body.sha256)
    except UploadError as exc:
        raise upload_http(exc) from exc
    return svc.status(rec).as_dict()


@router.get("/uploads")
def list_uploads(request: Request, user: User = Depends(api_user)) -> list[dict[str, Any]]:
    svc = services(request).uploads
    return [svc.status(r).as_dict(include_missing=False) for r in svc.list(user)]


@router.get("/uploads/{upload_id}")
def get_upload(upload_id: str, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    svc = services(request).uploads
    try:
        return svc.status(svc.get(user, upload_id)).as_dict()
    except UploadError as exc:
        raise upload_http(exc) from exc


@router.put("/uploads/{upload_id}/chunks/{index}")
async def put_chunk(
    upload_id: str,
    index: int,
    request: Request,
    x_chunk_sha256: str = Header(..., description="SHA-256 of the chunk, hex"),
    user: User = Depends(api_user),
) -> dict[str, Any]:
    svc = services(request)
    length = request.headers.get("content-length")
    try:
        status = await svc.uploads.put_chunk(
            user, upload_id, index, x_chunk_sha256, request.stream(), int(length) if length else None
        )
    except UploadError as exc:
        svc.metrics.chunks.labels("refused").inc()
        raise upload_http(exc) from exc
    svc.metrics.chunks.labels("accepted").inc()
    svc.metrics.upload_bytes.inc(status.record.chunk_length(index))
    return status.as_dict()


@router.post(
    "/uploads/{upload_id}/chunks/{index}/url",
    responses={409: {"description": "Direct uploads are off (`DUBBING_UPLOAD_TRANSFER`): PUT the chunk here."}},
)
def sign_chunk(
    upload_id: str, index: int, body: PartSign, request: Request, user: User = Depends(api_user)
) -> dict[str, Any]:
    """The presigned MinIO request that stores chunk ``index`` (send it with exactly these headers)."""
    try:
        return services(request).uploads.sign_part(user, upload_id, index, body.sha256).as_dict()
    except UploadError as exc:
        raise upload_http(exc) from exc


@router.post(
    "/uploads/{upload_id}/complete",
    responses={202: {"description": "Assembled and still being verified (state `assembled`): ask again."}},
)
def complete_upload(
    upload_id: str, request: Request, response: Response, user: User = Depends(api_user)
) -> dict[str, Any]:
    svc = services(request)
    try:
        status = svc.uploads.complete(user, upload_id)
    except UploadError as exc:
        svc.metrics.uploads_completed.labels("refused").inc()
        raise upload_http(exc) from exc
    if status.record.state != "complete":
        response.status_code = 202
        return status.as_dict(include_missing=False)
    svc.metrics.uploads_completed.labels("ok").inc()
    return status.as_dict(include_missing=False)


@router.delete("/uploads/{upload_id}", status_code=204)
def abort_upload(upload_id: str, request: Request, user: User = Depends(api_user)) -> None:
    try:
        services(request).uploads.abort(user, upload_id)
    except UploadError as exc:
        raise upload_http(exc) from exc


# --------------------------------------------------------------------- jobs
@router.post("/jobs", status_code=201)
def create_job(body: JobCreate, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    svc = services(request)
    try:
        voice_service(request).check_request(user, body.options.get("voices"))
    except (VoiceError, StoreUnavailable) as exc:
        raise voice_refused(exc) from None
    try:
        upload = svc.uploads.get(user, body.uploadId)
        obj = svc.jobs.create(user, upload, body.targetLanguages, body.sourceLanguage, body.options, body.glossary)
    except UploadError as exc:
        raise upload_http(exc) from exc
    except JobQuotaExceeded as exc:
        raise HTTPException(429, str(exc)) from exc
    except JobError as exc:
        raise HTTPException(422, str(exc)) from exc
    svc.metrics.jobs_submitted.inc()
    return summary(obj)


@router.get("/jobs")
def list_jobs(request: Request, user: User = Depends(api_user)) -> list[dict[str, Any]]:
    return [summary(o) for o in services(request).jobs.list(user)]


def _job(request: Request, user: User, name: str) -> dict[str, Any]:
    try:
        return services(request).jobs.get(user, name)
    except JobNotFound:
        raise HTTPException(404, "no such job") from None


@router.get("/jobs/{name}")
def get_job(name: str, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    obj = _job(request, user, name)
    return {
        **summary(obj),
        "timeline": timeline(obj),
        "lastLogLine": last_log_line(obj),
        "status": obj.get("status") or {},
        "spec": obj.get("spec"),
    }


@router.post("/jobs/{name}/cancel")
def cancel_job(name: str, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    try:
        return summary(services(request).jobs.cancel(user, name))
    except JobNotFound:
        raise HTTPException(404, "no such job") from None


@router.post("/jobs/{name}/retry")
def retry_job(name: str, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    try:
        return summary(services(request).jobs.rerun(user, name))
    except JobNotFound:
        raise HTTPException(404, "no such job") from None


@router.get("/jobs/{name}/outputs")
def job_outputs(name: str, request: Request, user: User = Depends(api_user)) -> list[dict[str, Any]]:
    try:
        return services(request).jobs.outputs(user, name)
    except JobNotFound:
        raise HTTPException(404, "no such job") from None


@router.get(
    "/jobs/{name}/scorecard", summary="The dub's scorecard of one language",
    responses={
        200: {"model": Scorecard, "description": "The scorecard, exactly as stored."},
        404: {"description": "No such job (or not yours), or no scorecard for that language yet."},
        422: {"description": "lang left out while the job has several target languages, or not one of them."},
        502: {"description": "The store did not give the scorecard back."},
    },
)  # fmt: skip
def job_scorecard(
    name: str,
    request: Request,
    lang: str | None = Query(
        None, description="Target language, e.g. pt-BR; may be left out when the job has one.", max_length=35
    ),
    user: User = Depends(api_user),
) -> dict[str, Any]:
    """The whole scorecard the score stage published for ``lang`` (its headline figures are in the
    job's ``status.outputs.languages[].quality``)."""
    try:
        return services(request).scorecards.document(user, name, lang)
    except JobNotFound:
        raise HTTPException(404, "no such job") from None
    except ScorecardNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except LanguageChoice as exc:
        raise HTTPException(422, str(exc)) from None
    except ScorecardUnreadable as exc:
        raise HTTPException(502, str(exc)) from None


@router.get("/jobs/{name}/logs")
def job_logs(
    name: str, request: Request, stage: str | None = None, user: User = Depends(api_user)
) -> StreamingResponse:
    """Live log lines of the job's current (or given) stage Pod, as server-sent events."""
    svc = services(request)
    slot = svc.streams.acquire(user.name)  # before anything else: a refused stream costs nothing
    try:
        pod = svc.jobs.pod_for_logs(user, name, stage)
    except JobNotFound:
        slot.release()
        raise HTTPException(404, "no such job") from None
    except BaseException:
        slot.release()
        raise
    return StreamingResponse(
        log_stream(svc.jobs, name, pod, request, slot),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
        background=BackgroundTask(slot.release),
    )


@router.get("/events")
async def events(request: Request, user: User = Depends(api_user)) -> StreamingResponse:
    """Job changes for this user as server-sent events (reconnect with Last-Event-ID)."""
    svc = services(request)
    last = request.headers.get("last-event-id") or request.query_params.get("lastEventId")

    def snapshot() -> list[dict[str, Any]]:
        return [summary(o) for o in svc.jobs.list(user)]

    keepalive = float(request.app.state.keepalive_s)
    slot = await asyncio.to_thread(svc.streams.acquire, user.name)

    async def gen() -> Any:
        svc.metrics.sse_clients.inc()
        try:
            async for chunk in svc.hub.stream(user, last, snapshot, keepalive):
                yield chunk
        except asyncio.CancelledError:
            pass
        finally:
            svc.metrics.sse_clients.dec()
            slot.release()

    return StreamingResponse(
        gen(), media_type="text/event-stream", headers=SSE_HEADERS, background=BackgroundTask(slot.release)
    )


# ----------------------------------------------------------------- settings
@router.get("/settings/notifications")
def get_ntfy(request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    return services(request).store.user_settings(user.name).get("ntfy") or {
        "enabled": False,
        "topic": None,
        "events": list(notify.OUTCOMES),
    }


@router.put("/settings/notifications")
def put_ntfy(body: NtfySettings, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    store = services(request).store
    try:
        value = notify.validate_ntfy(body.enabled, body.topic, list(body.events))
    except notify.SettingsError as exc:
        raise HTTPException(422, str(exc)) from exc
    data = store.user_settings(user.name)
    data["ntfy"] = value
    store.set_user_settings(user.name, data)
    return value


@router.get("/settings/glossary")
def get_glossary(request: Request, user: User = Depends(api_user)) -> list[dict[str, Any]]:
    return services(request).glossaries.export(user.name)


@router.put("/settings/glossary")
async def put_glossary(request: Request, user: User = Depends(api_user)) -> list[dict[str, Any]]:
    """The whole glossary replaced by the JSON body (a list of entries), or refused whole with the reason."""
    body = await request.body()
    glossaries = services(request).glossaries
    try:
        entries = await run_in_threadpool(glossaries.import_json, user.name, body)
    except GlossaryError as exc:
        raise HTTPException(422, f"glossary refused: {exc}") from exc
    return dump(entries)


@router.post("/settings/notifications/test")
def test_ntfy(request: Request, user: User = Depends(api_user)) -> dict[str, str]:
    svc = services(request)
    topic = (svc.store.user_settings(user.name).get("ntfy") or {}).get("topic")
    if not topic:
        raise HTTPException(422, "save a topic first")
    svc.notify_tests.hit(user.name)
    try:
        notify.send_test(svc.settings.ntfy_url, svc.settings.ntfy_token, topic, f"{svc.settings.public_url}/")
    except notify.SettingsError as exc:
        raise HTTPException(502, str(exc)) from exc
    return {"sent": topic}


# ------------------------------------------------------------------- models
@router.get("/models")
def models(request: Request, _user: User = Depends(api_user)) -> dict[str, Any]:
    svc = services(request)
    return {"backends": models_svc.backend_rows(), "gpuNodes": models_svc.gpu_report(svc.kube, svc.settings.namespace)}


@router.get("/models/catalogue")
def model_catalogue(request: Request, _user: User = Depends(api_user)) -> dict[str, Any]:
    """The models that can be pulled, with size, licence and state (ready, pulling with progress, ...)."""
    svc = services(request)
    return {"canPull": svc.pulls.enabled, "models": svc.pulls.rows(models_svc.model_cache())}


class PullRequest(Strict):
    name: str = Field(min_length=1, max_length=100)


@router.post("/models/pulls", status_code=201)
def start_model_pull(body: PullRequest, request: Request, _admin: User = Depends(admin_user)) -> dict[str, str]:
    svc = services(request)
    try:
        job = svc.pulls.start(body.name, models_svc.model_cache())
    except PullRejected as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return {"job": job, "model": body.name}
