"""The segment editor: its page, its form posts, a segment's audio, and the JSON API (thin:
the work is :mod:`dubbing_webui.editor`'s)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from dubbing.edits import EditsError, parse_document

from ..auth import Principal, api_user, page_principal, services
from ..editor import EditorError, EditorService
from ..jobs import JobNotFound
from ..store import User
from .pages import back, render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
#: Segments per editor page: each is a handful of form fields, and a form holds at most 1000.
PAGE_SIZE = 100


def _editor(request: Request) -> EditorService:
    editor = services(request).editor
    if editor is None:
        raise HTTPException(503, "the segment editor is not configured")
    return editor


def _form_int(form: Any, field: str) -> int:
    value = str(form.get(field) or "")
    if not value.isdigit() or len(value) > 9:
        raise EditorError([f"{field}: a whole number is needed, got {value[:20]!r}"])
    return int(value)


def _page(
    request: Request,
    p: Principal,
    name: str,
    page: int = 1,
    reasons: list[str] | None = None,
    submitted: dict[str, str] | None = None,
    saved: int | None = None,
    status: int = 200,
) -> Response:
    editor = _editor(request)
    try:
        obj = editor.job(p.user, name)
    except JobNotFound:
        return render(request, "notfound.html", p, 404)
    try:
        view = editor.view(p.user, name)
    except EditorError as error:
        view, reasons, status = None, [*(reasons or []), *error.reasons], error.status
    rows = (view or {}).get("rows") or []
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(1, page), pages)
    return render(
        request,
        "editor.html",
        p,
        status_code=status,
        job_name=name,
        input=((obj.get("metadata") or {}).get("annotations") or {}).get("dubbing.dev/input-name") or name,
        view=view,
        rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        page_number=page,
        pages=pages,
        reasons=reasons or [],
        submitted=submitted or {},
        saved=saved,
    )


@router.get("/jobs/{name}/edit")
def editor_page(
    name: str, request: Request, p: Principal = Depends(page_principal), page: int = 1, saved: int | None = None
) -> Response:
    return _page(request, p, name, page=page, saved=saved)


@router.get("/jobs/{namespace}/{name}/edit")
def editor_page_namespaced(
    namespace: str, name: str, request: Request, p: Principal = Depends(page_principal)
) -> Response:
    """The operator's "ready for review" links name the namespace too."""
    if namespace != services(request).settings.namespace:
        return render(request, "notfound.html", p, 404)
    return back(f"/jobs/{name}/edit")


async def _owned(request: Request, p: Principal, name: str) -> bool:
    """Whether the job is the user's (checked before anything of the request is looked at)."""
    try:
        await run_in_threadpool(_editor(request).job, p.user, name)
    except JobNotFound:
        return False
    return True


@router.post("/jobs/{name}/edit")
async def save_edits(name: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    if not await _owned(request, p, name):
        return render(request, "notfound.html", p, 404)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    page = int(fields["page"]) if fields.get("page", "").isdigit() and len(fields["page"]) < 6 else 1
    editor = _editor(request)
    try:
        rerun = fields.get("action") == "rerun"
        version = await run_in_threadpool(editor.save, p.user, name, fields, _form_int(fields, "version"), rerun)
        if rerun:
            return back(f"/jobs/{name}")
    except JobNotFound:
        return render(request, "notfound.html", p, 404)
    except EditorError as error:
        return await run_in_threadpool(_page, request, p, name, page, error.reasons, fields, None, error.status)
    return back(f"/jobs/{name}/edit?page={page}" + (f"&saved={version}" if version else ""))


@router.post("/jobs/{name}/merge")
async def merge_segments(name: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    if not await _owned(request, p, name):
        return render(request, "notfound.html", p, 404)
    form = await request.form()
    try:
        first, _, second = str(form.get("pair") or "").partition(":")
        pair = (_form_int({"first": first}, "first"), _form_int({"second": second}, "second"))
        version = await run_in_threadpool(
            _editor(request).restructure, p.user, name, _form_int(form, "version"), merge=pair
        )
    except JobNotFound:
        return render(request, "notfound.html", p, 404)
    except EditorError as error:
        return await run_in_threadpool(_page, request, p, name, 1, error.reasons, None, None, error.status)
    return back(f"/jobs/{name}/edit?saved={version}")


@router.post("/jobs/{name}/split")
async def split_segment(name: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    if not await _owned(request, p, name):
        return render(request, "notfound.html", p, 404)
    form = await request.form()
    try:
        ident = _form_int(form, "id")
        raw = str(form.get(f"at-{ident}") or "").strip()
        try:
            at = float(raw)
        except ValueError:
            raise EditorError(
                [f"segment {ident}: the split time must be seconds, like 12.5; got {raw[:20]!r}"]
            ) from None
        version = await run_in_threadpool(
            _editor(request).restructure, p.user, name, _form_int(form, "version"), split=(ident, at)
        )
    except JobNotFound:
        return render(request, "notfound.html", p, 404)
    except EditorError as error:
        return await run_in_threadpool(_page, request, p, name, 1, error.reasons, None, None, error.status)
    return back(f"/jobs/{name}/edit?saved={version}")


@router.post("/jobs/{name}/approve")
def approve(name: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    try:
        _editor(request).approve(p.user, name)
    except JobNotFound:
        return render(request, "notfound.html", p, 404)
    except EditorError as error:
        return _page(request, p, name, reasons=error.reasons, status=error.status)
    return back(f"/jobs/{name}")


@router.get("/jobs/{name}/segments/{segment}/audio")
def segment_audio(name: str, segment: str, request: Request, p: Principal = Depends(page_principal)) -> Response:
    """The segment's source audio (the job is checked before the segment id is read)."""
    try:
        editor = _editor(request)
        editor.job(p.user, name)
        if not segment.isdigit() or len(segment) > 9:
            raise EditorError([f"segment {segment[:20]!r}: no such segment"], 404)
        data = editor.audio(p.user, name, int(segment))
    except JobNotFound:
        raise HTTPException(404, "no such job") from None
    except EditorError as error:
        raise HTTPException(error.status, "; ".join(error.reasons)) from None
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "private, max-age=60"})


# ---------------------------------------------------------------------- JSON API
class EditsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, description="The edits version the changes are based on (0: none yet).")
    edits: dict[str, Any] = Field(description="An edits document (dubbing.dev/edits/v1): laid over the newest version.")


def _refused(error: EditorError) -> JSONResponse:
    return JSONResponse({"detail": "refused", "reasons": error.reasons}, status_code=error.status)


@api_router.get("/jobs/{name}/segments")
def get_segments(name: str, request: Request, user: User = Depends(api_user)) -> Any:
    """The job's segments as they are now (edits applied), its speakers, languages and edits version."""
    try:
        return _editor(request).view(user, name)
    except JobNotFound:
        raise HTTPException(404, "no such job") from None
    except EditorError as error:
        return _refused(error)


@api_router.post(
    "/jobs/{name}/edits",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EditsBody.model_json_schema()}},
        }
    },
)
async def post_edits(name: str, request: Request, user: User = Depends(api_user)) -> Any:
    """Store an edits document over the newest version (body: ``{"version": N, "edits": {...}}``);
    refused with every reason, nothing stored.  The job is checked before the body is read."""
    editor = _editor(request)
    try:
        await run_in_threadpool(editor.job, user, name)
    except JobNotFound:
        raise HTTPException(404, "no such job") from None
    try:
        try:
            body = EditsBody.model_validate_json(await request.body())
        except ValidationError as error:
            raise EditorError(
                [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()]
            ) from None
        try:
            document = parse_document(body.edits)
        except EditsError as error:
            raise EditorError(error.reasons) from None
        version = await run_in_threadpool(editor.save_document, user, name, document, body.version)
        return {"version": version}
    except JobNotFound:
        raise HTTPException(404, "no such job") from None
    except EditorError as error:
        return _refused(error)


@api_router.post("/jobs/{name}/approve")
def post_approve(name: str, request: Request, user: User = Depends(api_user)) -> Any:
    """Approve the review pause the job is in (its stage joins spec.review.approved)."""
    try:
        return {"approved": _editor(request).approve(user, name)}
    except JobNotFound:
        raise HTTPException(404, "no such job") from None
    except EditorError as error:
        return _refused(error)
