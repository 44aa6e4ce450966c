"""The glossary settings page: the user's entries, add, edit, delete, import and export JSON (thin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from dubbing.glossary import MAX_BYTES, MAX_ENTRIES, GlossaryError

from ..auth import Principal, page_principal, services
from ..glossaries import entry_from_form
from .pages import back, render

router = APIRouter(include_in_schema=False)


def phoneme_fields(shown: str, espeak: str, ipa: str) -> tuple[str | None, str | None]:
    """The phoneme fields as sent, or (None, None) when the form did not have them (``phonemes`` marks
    a form that does): an edit from elsewhere then keeps the entry's phonemes."""
    return (espeak, ipa) if shown else (None, None)


def page(request: Request, p: Principal, status_code: int = 200, **ctx: object) -> Response:
    entries = services(request).glossaries.entries(p.user.name)
    values = {"entries": entries, "limit": MAX_ENTRIES, "error": None, "saved": None, **ctx}
    return render(request, "glossary.html", p, status_code, **values)


@router.get("/settings/glossary")
def glossary_page(request: Request, p: Principal = Depends(page_principal), saved: str | None = None) -> Response:
    return page(request, p, saved=saved)


@router.get("/settings/glossary.json")
def export_glossary(request: Request, p: Principal = Depends(page_principal)) -> Response:
    return JSONResponse(
        services(request).glossaries.export(p.user.name),
        headers={"Content-Disposition": 'attachment; filename="glossary.json"'},
    )


def entry_form(
    source: str = Form(""),
    target: str = Form(""),
    languages: str = Form(""),
    pronounce: str = Form(""),
    espeak: str = Form(""),
    ipa: str = Form(""),
    phonemes: str = Form(""),
) -> dict[str, Any]:
    """The entry the settings page's add and edit forms send (checked by the glossary service)."""
    return entry_from_form(source, target, languages, pronounce, *phoneme_fields(phonemes, espeak, ipa))


@router.post("/settings/glossary")
def add_entry(
    request: Request, p: Principal = Depends(page_principal), entry: dict[str, Any] = Depends(entry_form)
) -> Response:
    try:
        services(request).glossaries.add(p.user.name, entry)
    except GlossaryError as exc:
        return page(request, p, 422, error=f"Entry not added: {exc}")
    return back("/settings/glossary?saved=added")


@router.post("/settings/glossary/{number}/edit")
def edit_entry(
    number: int,
    request: Request,
    p: Principal = Depends(page_principal),
    entry: dict[str, Any] = Depends(entry_form),
) -> Response:
    try:
        services(request).glossaries.edit(p.user.name, number, entry)
    except GlossaryError as exc:
        return page(request, p, 422, error=f"Entry {number} not changed: {exc}")
    return back("/settings/glossary?saved=changed")


@router.post("/settings/glossary/{number}/delete")
def delete_entry(number: int, request: Request, p: Principal = Depends(page_principal)) -> Response:
    try:
        services(request).glossaries.delete(p.user.name, number)
    except GlossaryError as exc:
        return page(request, p, 422, error=f"Entry {number} not deleted: {exc}")
    return back("/settings/glossary?saved=deleted")


@router.post("/settings/glossary/import")
async def import_glossary(
    request: Request, p: Principal = Depends(page_principal), file: UploadFile = File(...)
) -> Response:
    data = await file.read(MAX_BYTES + 1)
    try:
        services(request).glossaries.import_json(p.user.name, data)
    except GlossaryError as exc:
        return page(request, p, 422, error=f"Import refused, the glossary is unchanged: {exc}")
    return back("/settings/glossary?saved=imported")
