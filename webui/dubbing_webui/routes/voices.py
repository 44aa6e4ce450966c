"""The voice library: JSON API under /api/voices and the /voices page (thin: each calls VoiceService)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from dubbing.voices.library import MAX_CONSENT, MAX_NAME, VoiceError

from ..auth import Principal, api_user, page_principal, services
from ..jobs import JobNotFound
from ..objects import StoreUnavailable
from ..store import User
from ..voices import UNSEEN, VoiceService, view
from .pages import back, render

router = APIRouter(tags=["voices"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VoiceSave(_Strict):
    job: str = Field(min_length=1, max_length=253, description="One of your jobs.")
    speaker: str = Field(min_length=1, max_length=64, description="Its speaker label (S0, S1, ...).")
    name: str = Field(min_length=1, max_length=MAX_NAME)
    consent: str = Field(min_length=1, max_length=MAX_CONSENT, description="Who agreed to this voice being kept.")


class VoiceRename(_Strict):
    name: str = Field(min_length=1, max_length=MAX_NAME)


def voice_service(request: Request) -> VoiceService:
    state = request.app.state
    if getattr(state, "voices", None) is None:
        svc = services(request)
        state.voices = VoiceService(svc.settings, svc.objects, svc.jobs)
    return state.voices


def refusal(error: Exception) -> tuple[int, str, str]:
    """(HTTP status, reason, message) of a refused library request."""
    if isinstance(error, VoiceError) and error.reason in UNSEEN and error.voice_id is not None:
        # another user's voice answers exactly like a missing one: a voice id is not an oracle
        return 404, "VoiceNotFound", f"no voice {error.voice_id} in your voice library"
    if isinstance(error, VoiceError):
        return error.http_status, error.reason, str(error)
    if isinstance(error, JobNotFound):
        return 404, "JobNotFound", "no such job"
    return 503, "StoreUnavailable", str(error)


def refused(error: Exception) -> HTTPException:
    status, reason, message = refusal(error)
    return HTTPException(status, {"reason": reason, "message": message})


@router.get("/api/voices")
def list_voices(request: Request, user: User = Depends(api_user)) -> list[dict[str, Any]]:
    try:
        return [view(voice) for voice in voice_service(request).list(user)]
    except StoreUnavailable as error:
        raise refused(error) from None


@router.get("/api/voices/{voice_id}")
def get_voice(voice_id: str, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    try:
        return view(voice_service(request).get(user, voice_id))
    except (VoiceError, StoreUnavailable) as error:
        raise refused(error) from None


@router.post("/api/voices", status_code=201)
def save_voice(body: VoiceSave, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    try:
        return view(voice_service(request).save(user, body.job, body.speaker, body.name, body.consent))
    except (VoiceError, JobNotFound, StoreUnavailable) as error:
        raise refused(error) from None


@router.patch("/api/voices/{voice_id}")
def rename_voice(voice_id: str, body: VoiceRename, request: Request, user: User = Depends(api_user)) -> dict[str, Any]:
    try:
        return view(voice_service(request).rename(user, voice_id, body.name))
    except (VoiceError, StoreUnavailable) as error:
        raise refused(error) from None


@router.delete("/api/voices/{voice_id}", status_code=204)
def delete_voice(voice_id: str, request: Request, user: User = Depends(api_user)) -> None:
    try:
        voice_service(request).delete(user, voice_id)
    except (VoiceError, StoreUnavailable) as error:
        raise refused(error) from None


# -------------------------------------------------------------------- the page


def _page(request: Request, p: Principal, status: int = 200, error: str | None = None, done: str = "") -> Response:
    try:
        voices = [view(voice) for voice in voice_service(request).list(p.user)]
    except StoreUnavailable as unavailable:
        voices, error, status = [], f"the voice library is unavailable: {unavailable}", 503
    return render(request, "voices.html", p, status, voices=voices, error=error, done=done)


@router.get("/voices", include_in_schema=False)
def voices_page(request: Request, p: Principal = Depends(page_principal), done: str = "") -> Response:
    return _page(request, p, done=done[:16])


def _apply(request: Request, p: Principal, action: Any, done: str) -> Response:
    try:
        action()
    except (VoiceError, JobNotFound, StoreUnavailable) as error:
        status, reason, message = refusal(error)
        return _page(request, p, status, f"{reason}: {message}")
    return back(f"/voices?done={done}")


@router.post("/voices", include_in_schema=False)
def save_voice_form(
    request: Request,
    p: Principal = Depends(page_principal),
    job: str = Form(..., max_length=253),
    speaker: str = Form(..., max_length=64),
    name: str = Form(..., max_length=MAX_NAME),
    consent: str = Form(..., max_length=MAX_CONSENT),
) -> Response:
    return _apply(request, p, lambda: voice_service(request).save(p.user, job, speaker, name, consent), "saved")


@router.post("/voices/{voice_id}/rename", include_in_schema=False)
def rename_voice_form(
    voice_id: str, request: Request, p: Principal = Depends(page_principal), name: str = Form("", max_length=MAX_NAME)
) -> Response:
    # name may be empty here: the voice is looked up first, then the name is refused with its reason
    return _apply(request, p, lambda: voice_service(request).rename(p.user, voice_id, name), "renamed")


@router.post("/voices/{voice_id}/delete", include_in_schema=False)
def delete_voice_form(voice_id: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    return _apply(request, p, lambda: voice_service(request).delete(p.user, voice_id), "deleted")
