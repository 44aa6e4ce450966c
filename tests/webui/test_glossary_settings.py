"""The user's glossary in the web UI: the settings page (add, edit, delete, import, export), the
JSON API, the bounds (100,000 entries refused with the reason, nothing stored), and new jobs
getting it in spec.glossary under their own entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.stack.media import make_wav
from dubbing.api import v1alpha1 as api

from . import uploadclient as uc
from .conftest import WebUI
from .test_browser import login

pytestmark = [pytest.mark.cluster, pytest.mark.minio]

HUGE = json.dumps([{"source": f"t{i}"} for i in range(100_000)]).encode()


def export(c: httpx.Client) -> list[dict[str, Any]]:
    resp = c.get("/settings/glossary.json")
    assert resp.status_code == 200 and "attachment" in resp.headers["content-disposition"]
    return resp.json()


def test_settings_page_add_edit_delete_import_export(webui: WebUI) -> None:
    with webui.client("bob") as c:
        assert export(c) == []
        added = c.post("/settings/glossary", data={"source": "library", "target": "Mediateca", "languages": "pt-BR"})
        assert added.status_code == 303 and added.headers["location"] == "/settings/glossary?saved=added"
        c.post("/settings/glossary", data={"source": "reading room", "pronounce": "ríding rum"})
        page = c.get("/settings/glossary")
        assert page.status_code == 200 and 'value="Mediateca"' in page.text and "Entries (2)" in page.text
        assert export(c) == [
            {"source": "library", "target": "Mediateca", "languages": ["pt-BR"]},
            {"source": "reading room", "pronounce": "ríding rum"},
        ]
        # the same term for the same language again: refused with the reason, nothing stored
        twice = c.post("/settings/glossary", data={"source": "Library", "target": "Biblioteca"})
        assert twice.status_code == 422 and "entries 1 and 3 are two entries for &#39;library&#39;" in twice.text
        edited = c.post("/settings/glossary/1/edit", data={"source": "library", "target": "Midiateca"})
        assert edited.status_code == 303 and export(c)[0] == {"source": "library", "target": "Midiateca"}
        assert c.post("/settings/glossary/9/delete").status_code == 422
        assert c.post("/settings/glossary/2/delete").status_code == 303 and len(export(c)) == 1
        # import replaces the whole glossary
        body = json.dumps([{"source": "cafe"}, {"source": "Kubernetes", "phonemes": {"espeak": "ku:b3n'EtIs"}}])
        imported = c.post("/settings/glossary/import", files={"file": ("g.json", body, "application/json")})
        assert imported.status_code == 303
        assert export(c) == [{"source": "cafe"}, {"source": "Kubernetes", "phonemes": {"espeak": "ku:b3n'EtIs"}}]
        # editing from the page keeps the phonemes the form does not show
        c.post("/settings/glossary/2/edit", data={"source": "Kubernetes", "pronounce": "Cubernêtis"})
        assert export(c)[1] == {
            "source": "Kubernetes",
            "pronounce": "Cubernêtis",
            "phonemes": {"espeak": "ku:b3n'EtIs"},
        }
        # the page's phoneme fields, sent: what they say replaces the phonemes (empty: none)
        c.post("/settings/glossary/2/edit", data={"source": "Kubernetes", "phonemes": "shown", "ipa": "kuːbɚnɛtiːz"})
        assert export(c)[1] == {"source": "Kubernetes", "phonemes": {"ipa": "kuːbɚnɛtiːz"}}
        c.post("/settings/glossary/2/edit", data={"source": "Kubernetes", "phonemes": "shown", "espeak": "", "ipa": ""})
        assert export(c)[1] == {"source": "Kubernetes"}
        bad = c.post("/settings/glossary", data={"source": "x", "phonemes": "shown", "ipa": "[[y]]"})
        assert bad.status_code == 422 and "phonemes.ipa" in bad.text and len(export(c)) == 2


def test_100000_entries_refused_with_the_reason_and_nothing_stored(webui: WebUI) -> None:
    with webui.client("alice") as c:
        assert c.put("/api/settings/glossary", content=b'[{"source": "cafe"}]').status_code == 200
        before = export(c)
        refused = c.post("/settings/glossary/import", files={"file": ("huge.json", HUGE, "application/json")})
        assert refused.status_code == 422
        assert "Import refused, the glossary is unchanged: 100000 entries: a glossary holds at most 500" in refused.text
        api_refused = c.put("/api/settings/glossary", content=HUGE)
        assert api_refused.status_code == 422
        assert api_refused.json()["detail"] == "glossary refused: 100000 entries: a glossary holds at most 500"
        bad = c.put("/api/settings/glossary", content=b'[{"source": "x"}, {"source": "y", "target": ""}]')
        assert bad.status_code == 422 and "entry 2: target" in bad.json()["detail"]
        assert export(c) == before == c.get("/api/settings/glossary").json()


def test_new_job_gets_the_users_glossary_under_its_own_entries(webui: WebUI, kube: Any, media_dir: Path) -> None:
    path = media_dir / "glossary.wav"
    make_wav(path, 2 * 1000 * 1000)
    mine = [{"source": "library", "target": "Mediateca"}, {"source": "reading room"}]
    with webui.client("alice") as c:
        assert c.put("/api/settings/glossary", content=json.dumps(mine).encode()).status_code == 200
        up = uc.upload(c, path)
        own = [{"source": "Library", "target": "Biblioteca Central", "languages": ["pt-BR"]}]
        made = c.post("/api/jobs", json={"uploadId": up["id"], "targetLanguages": ["pt-BR"], "glossary": own})
        assert made.status_code == 201, made.text
        obj = kube.custom().get_namespaced_custom_object(
            api.GROUP, api.VERSION, webui.namespace, api.PLURAL, made.json()["name"]
        )
        assert obj["spec"]["glossary"] == [{"source": "reading room"}, *own]  # the job's own entry wins
        listed = len(c.get("/api/jobs").json())
        # a job's own glossary that conflicts, or runs over the bound with the user's, is refused: no job
        clash = c.post(
            "/api/jobs",
            json={"uploadId": up["id"], "targetLanguages": ["pt-BR"], "glossary": [{"source": "a"}, {"source": "A"}]},
        )
        assert (
            clash.status_code == 422 and "glossary: entries 1 and 2 are two entries for 'a'" in clash.json()["detail"]
        )
        many = [{"source": f"t{i}"} for i in range(499)]
        over = c.post("/api/jobs", json={"uploadId": up["id"], "targetLanguages": ["pt-BR"], "glossary": many})
        assert over.status_code == 422 and "501 entries with the job's own" in over.json()["detail"]
        assert len(c.get("/api/jobs").json()) == listed


def test_glossary_page_in_the_browser(browser: Any, webui: WebUI, tmp_path: Path) -> None:
    page = login(browser, webui, "bob", csp=True)  # under the pages' Content-Security-Policy
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    with webui.client("bob") as c:
        assert c.put("/api/settings/glossary", content=b"[]").status_code == 200
    page.goto("/settings")
    page.click("#glossary-link")
    page.fill("#add-entry input[name=source]", "library")
    page.fill("#add-entry input[name=target]", "Mediateca")
    page.fill("#add-entry input[name=languages]", "pt-BR")
    page.click("#add-entry button[type=submit]")
    page.wait_for_selector("#saved")
    assert page.input_value("#edit-1 input[name=target]") == "Mediateca"
    huge = tmp_path / "huge.json"
    huge.write_bytes(HUGE)
    page.set_input_files("#import-glossary input[type=file]", str(huge))
    page.click("#import-glossary button[type=submit]")
    error = page.inner_text("#glossary-error")
    assert "Import refused, the glossary is unchanged: 100000 entries: a glossary holds at most 500" in error
    assert page.locator("#glossary tbody form[id^=edit-]").count() == 1
    page.goto("/upload")
    assert "your 1 entry goes into the job" in page.inner_text("#glossary-note")
    assert not violations, violations
    page.context.close()


def test_api_server_refuses_a_job_with_100000_glossary_entries(webui: WebUI, kube: Any) -> None:
    """Whatever the client, the CRD's bound holds: the API server refuses the job, none is stored."""
    from kubernetes.client.exceptions import ApiException

    manifest = {
        "apiVersion": f"{api.GROUP}/{api.VERSION}",
        "kind": "DubbingJob",
        "metadata": {"name": "huge-glossary"},
        "spec": {
            "input": {"bucket": "media", "key": "k.mp4"},
            "targetLanguages": ["pt-BR"],
            "glossary": [{"source": f"t{i}"} for i in range(100_000)],
        },
    }
    custom = kube.custom()
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(api.GROUP, api.VERSION, webui.namespace, api.PLURAL, manifest)
    assert caught.value.status == 422 and "must have at most 500 items" in str(caught.value.body)
    names = [o["metadata"]["name"] for o in custom.list_namespaced_custom_object(
        api.GROUP, api.VERSION, webui.namespace, api.PLURAL)["items"]]  # fmt: skip
    assert "huge-glossary" not in names
