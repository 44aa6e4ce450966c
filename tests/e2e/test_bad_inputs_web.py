"""Gate: malformed uploads and API requests to the web UI get a clear error, crash nothing, leave nothing behind.

``ROWS`` is a table (plain data, easy to extend) of bad requests: bad JSON, wrong types,
unknown fields, oversize and path-like names, bad checksums, wrong content types,
missing or wrong CSRF tokens, no or forged credentials, job requests with an invalid
language or an unknown backend.  Each must be refused with its expected 4xx status and
a message (JSON ``detail`` for the JSON API; tus answers in text as its protocol does)
that contains the expected fragments — the field's name first — and no traceback; after
each, ``/healthz`` answers 200.  At the end the one upload the rows aim at still holds
no chunk, no other upload exists, no DubbingJob was created, and once that upload is
aborted the bucket holds no object and no multipart upload.  The manifest rows are in
test_bad_inputs.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from . import common as c
from . import web as w

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

CHUNK = 5 * 1024 * 1024
OPEN_SIZE = CHUNK + 1000  # the target upload: two chunks, the second 1000 bytes
GOOD_UPLOAD = {"name": "clip.wav", "size": 1000, "type": "audio/wav"}
TUS = {"Tus-Resumable": "1.0.0"}


@dataclass(frozen=True)
class Row:
    case: str
    method: str
    path: str  # "{open}": the target upload's id; "{done}": a completed upload's id
    expect: tuple[int, ...]
    fragments: tuple[str, ...]  # the message must contain each (case-insensitive)
    auth: str = "bearer"  # bearer | cookie | cookie-no-csrf | cookie-bad-csrf | none | forged
    json: Any = None
    content: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text_body: bool = False  # tus answers in plain text


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


CHUNK0 = b"\0" * CHUNK
ROWS: list[Row] = [
    # ---- creating an upload
    Row(
        "bad-json",
        "POST",
        "/api/uploads",
        (422,),
        ("json",),
        content='{"name": "a.wav", "size": ',
        headers={"Content-Type": "application/json"},
    ),
    Row("size-not-a-number", "POST", "/api/uploads", (422,), ("size",), json={**GOOD_UPLOAD, "size": "big"}),
    Row("size-zero", "POST", "/api/uploads", (422,), ("size", "greater than 0"), json={**GOOD_UPLOAD, "size": 0}),
    Row("name-wrong-type", "POST", "/api/uploads", (422,), ("name", "string"), json={**GOOD_UPLOAD, "name": 12}),
    Row("name-missing", "POST", "/api/uploads", (422,), ("name", "missing"), json={"size": 10, "type": "audio/wav"}),
    Row("unknown-field", "POST", "/api/uploads", (422,), ("colour", "extra"), json={**GOOD_UPLOAD, "colour": "red"}),
    Row("body-is-a-list", "POST", "/api/uploads", (422,), ("dict",), json=[GOOD_UPLOAD]),
    Row(
        "oversize-name",
        "POST",
        "/api/uploads",
        (400,),
        ("name", "255"),
        json={**GOOD_UPLOAD, "name": "a" * 300 + ".wav"},
    ),
    Row(
        "path-traversal-name",
        "POST",
        "/api/uploads",
        (400,),
        ("name",),
        json={**GOOD_UPLOAD, "name": "../../etc/passwd.wav"},
    ),
    Row("hidden-name", "POST", "/api/uploads", (400,), ("name",), json={**GOOD_UPLOAD, "name": ".bashrc"}),
    Row("control-char-name", "POST", "/api/uploads", (400,), ("name",), json={**GOOD_UPLOAD, "name": "a\x07b.wav"}),
    Row("not-media-type", "POST", "/api/uploads", (400,), ("type",), json={**GOOD_UPLOAD, "type": "text/html"}),
    Row("too-large", "POST", "/api/uploads", (413,), ("larger than the limit",), json={**GOOD_UPLOAD, "size": 10**13}),
    Row("bad-file-sha256", "POST", "/api/uploads", (400,), ("sha256",), json={**GOOD_UPLOAD, "sha256": "xyz"}),
    Row(
        "json-as-text-plain",
        "POST",
        "/api/uploads",
        (422,),
        ("body",),
        content=json.dumps(GOOD_UPLOAD),
        headers={"Content-Type": "text/plain"},
    ),
    # ---- chunks
    Row(
        "chunk-wrong-checksum",
        "PUT",
        "/api/uploads/{open}/chunks/0",
        (422,),
        ("sha-256", "refused"),
        content=CHUNK0,
        headers={"X-Chunk-SHA256": "0" * 64},
    ),
    Row(
        "chunk-checksum-not-hex",
        "PUT",
        "/api/uploads/{open}/chunks/0",
        (400,),
        ("x-chunk-sha256", "hex"),
        content=CHUNK0,
        headers={"X-Chunk-SHA256": "zz"},
    ),
    Row(
        "chunk-no-checksum",
        "PUT",
        "/api/uploads/{open}/chunks/0",
        (422,),
        ("x-chunk-sha256", "missing"),
        content=CHUNK0,
    ),
    Row(
        "chunk-short",
        "PUT",
        "/api/uploads/{open}/chunks/0",
        (400,),
        ("chunk 0", "bytes"),
        content=b"\0" * 100,
        headers={"X-Chunk-SHA256": _sha(b"\0" * 100)},
    ),
    Row(
        "chunk-too-long",
        "PUT",
        "/api/uploads/{open}/chunks/1",
        (413,),
        ("larger",),
        content=b"\0" * 5000,
        headers={"X-Chunk-SHA256": _sha(b"\0" * 5000)},
    ),
    Row(
        "chunk-index-out-of-range",
        "PUT",
        "/api/uploads/{open}/chunks/7",
        (400,),
        ("index",),
        content=b"x",
        headers={"X-Chunk-SHA256": _sha(b"x")},
    ),
    Row(
        "chunk-index-not-int",
        "PUT",
        "/api/uploads/{open}/chunks/first",
        (422,),
        ("index", "integer"),
        content=b"x",
        headers={"X-Chunk-SHA256": _sha(b"x")},
    ),
    Row("complete-with-missing-chunks", "POST", "/api/uploads/{open}/complete", (409, 400), ("missing",)),
    Row(
        "chunk-to-finished-upload",
        "PUT",
        "/api/uploads/{done}/chunks/0",
        (409, 400),
        ("complete",),
        content=b"x",
        headers={"X-Chunk-SHA256": _sha(b"x")},
    ),
    # ---- authentication and CSRF
    Row("unauthenticated", "POST", "/api/uploads", (401,), ("authentication",), auth="none", json=GOOD_UPLOAD),
    Row("forged-token", "POST", "/api/uploads", (401,), ("authentication",), auth="forged", json=GOOD_UPLOAD),
    Row("cookie-without-csrf", "POST", "/api/uploads", (403,), ("csrf",), auth="cookie-no-csrf", json=GOOD_UPLOAD),
    Row("cookie-wrong-csrf", "POST", "/api/uploads", (403,), ("csrf",), auth="cookie-bad-csrf", json=GOOD_UPLOAD),
    Row(
        "cookie-chunk-without-csrf",
        "PUT",
        "/api/uploads/{open}/chunks/1",
        (403,),
        ("csrf",),
        auth="cookie-no-csrf",
        content=b"\0" * 1000,
        headers={"X-Chunk-SHA256": _sha(b"\0" * 1000)},
    ),
    Row(
        "cookie-job-without-csrf",
        "POST",
        "/api/jobs",
        (403,),
        ("csrf",),
        auth="cookie-no-csrf",
        json={"uploadId": "{done}", "targetLanguages": ["es"]},
    ),
    Row(
        "non-admin-creates-user",
        "POST",
        "/api/users",
        (404, 403),
        ("not found",),
        json={"name": "mallory", "password": "x" * 20},
    ),
    # ---- jobs
    Row(
        "job-invalid-language",
        "POST",
        "/api/jobs",
        (422,),
        ("targetLanguages", "english!!"),
        json={"uploadId": "{done}", "targetLanguages": ["english!!"]},
    ),
    Row(
        "job-invalid-source-language",
        "POST",
        "/api/jobs",
        (422,),
        ("sourceLanguage",),
        json={"uploadId": "{done}", "targetLanguages": ["es"], "sourceLanguage": "Klingon"},
    ),
    Row(
        "job-unknown-backend",
        "POST",
        "/api/jobs",
        (422,),
        ("tts", "backend", "nonexistent"),
        json={"uploadId": "{done}", "targetLanguages": ["es"], "options": {"tts": "nonexistent"}},
    ),
    Row(
        "job-unknown-option",
        "POST",
        "/api/jobs",
        (422,),
        ("options", "turbo"),
        json={"uploadId": "{done}", "targetLanguages": ["es"], "options": {"turbo": True}},
    ),
    Row(
        "job-bad-stretch",
        "POST",
        "/api/jobs",
        (422,),
        ("maxStretch",),
        json={"uploadId": "{done}", "targetLanguages": ["es"], "options": {"maxStretch": "fast"}},
    ),
    Row(
        "job-no-languages",
        "POST",
        "/api/jobs",
        (422,),
        ("targetLanguages",),
        json={"uploadId": "{done}", "targetLanguages": []},
    ),
    Row(
        "job-languages-not-list",
        "POST",
        "/api/jobs",
        (422,),
        ("targetLanguages", "list"),
        json={"uploadId": "{done}", "targetLanguages": "es"},
    ),
    Row(
        "job-unknown-field",
        "POST",
        "/api/jobs",
        (422,),
        ("targetLanguage", "extra"),
        json={"uploadId": "{done}", "targetLanguages": ["es"], "targetLanguage": "fr"},
    ),
    Row(
        "job-unknown-upload",
        "POST",
        "/api/jobs",
        (404,),
        ("upload",),
        json={"uploadId": "0" * 32, "targetLanguages": ["es"]},
    ),
    Row(
        "job-on-unfinished-upload",
        "POST",
        "/api/jobs",
        (422,),
        ("not complete",),
        json={"uploadId": "{open}", "targetLanguages": ["es"]},
    ),
    # ---- settings
    Row(
        "ntfy-bad-topic",
        "PUT",
        "/api/settings/notifications",
        (422,),
        ("topic",),
        json={"enabled": True, "topic": "no spaces/allowed"},
    ),
    Row(
        "ntfy-unknown-event",
        "PUT",
        "/api/settings/notifications",
        (422,),
        ("events",),
        json={"enabled": True, "topic": "ok-topic", "events": ["exploded"]},
    ),
    # ---- tus
    Row(
        "tus-no-version",
        "POST",
        "/api/tus/",
        (412,),
        ("tus-resumable",),
        headers={"Upload-Length": "10"},
        text_body=True,
    ),
    Row("tus-no-length", "POST", "/api/tus/", (400,), ("upload-length",), headers=TUS, text_body=True),
    Row(
        "tus-bad-metadata",
        "POST",
        "/api/tus/",
        (400,),
        ("metadata",),
        headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "filename %%%"},
        text_body=True,
    ),
    Row(
        "tus-wrong-offset",
        "PATCH",
        "/api/tus/{open}",
        (409,),
        ("offset",),
        content=b"x",
        headers={**TUS, "Upload-Offset": "5", "Content-Type": "application/offset+octet-stream"},
        text_body=True,
    ),
    Row(
        "tus-wrong-content-type",
        "PATCH",
        "/api/tus/{open}",
        (415,),
        ("content-type",),
        content=b"x",
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"},
        text_body=True,
    ),
    Row(
        "tus-md5-checksum",
        "PATCH",
        "/api/tus/{open}",
        (400,),
        ("checksum algorithm",),
        content=b"x",
        headers={
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": "md5 AAAA",
        },
        text_body=True,
    ),
    Row(
        "tus-bad-checksum",
        "PATCH",
        "/api/tus/{open}",
        (460,),
        ("checksum",),
        content=b"x",
        headers={
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": "sha256 " + "A" * 43 + "=",
        },
        text_body=True,
    ),
]


def _subst(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.replace("{open}", ids["open"]).replace("{done}", ids["done"])
    if isinstance(value, list):
        return [_subst(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v, ids) for k, v in value.items()}
    return value


def _message(resp: httpx.Response, text_body: bool) -> str:
    if text_body:
        return resp.text
    data = resp.json()  # raises: not JSON
    if not isinstance(data, dict) or "detail" not in data:
        raise ValueError(f"no 'detail' in {data!r}")
    return json.dumps(data["detail"])


def test_bad_inputs_web(gate: c.Gate, cluster: c.KubeCluster, webui_s3: w.S3) -> None:
    work = c.plan_dir()
    with w.web_stack(gate, cluster, webui_s3, "gate-badweb", work, {"DUBBING_UPLOAD_CHUNK_BYTES": str(CHUNK)}) as st:
        _run(gate, st.kube, st.ns, st.ui, work)


def _run(gate: c.Gate, kube: Any, ns: str, ui: w.WebUI, work: Path) -> None:
    media = work / "done.wav"
    w.make_wav(media, 100_044)
    with ui.client("alice") as cl:
        done = w.uploadclient.upload(cl, media)
        target = w.uploadclient.create(cl, "target.wav", OPEN_SIZE)
        c.check(target.status_code == 201, target.text)
    ids = {"open": target.json()["id"], "done": done["id"]}
    cookie, csrf = w.browser_login(ui.base, "alice", w.PASSWORD)
    clients = {
        "bearer": ui.client("alice"),
        "none": ui.anonymous(),
        "forged": httpx.Client(base_url=ui.base, headers={"Authorization": "Bearer dbt_forged"}, timeout=60),
        "cookie": cookie,
        "cookie-no-csrf": cookie,
        "cookie-bad-csrf": cookie,
    }
    results, failures = [], []
    for row in ROWS:
        headers = dict(row.headers)
        if row.auth == "cookie":
            headers["X-CSRF-Token"] = csrf
        elif row.auth == "cookie-bad-csrf":
            headers["X-CSRF-Token"] = "not-the-token"
        kw: dict[str, Any] = {"headers": headers}
        if row.json is not None:
            kw["json"] = _subst(row.json, ids)
        elif row.content is not None:
            kw["content"] = row.content
        resp = clients[row.auth].request(row.method, _subst(row.path, ids), **kw)
        problems = []
        if resp.status_code not in row.expect:
            problems.append(f"status {resp.status_code}, expected {row.expect}")
        try:
            msg = _message(resp, row.text_body)
        except ValueError as err:
            msg = resp.text
            problems.append(f"not a JSON error: {err}")
        missing = [f for f in row.fragments if f.lower() not in msg.lower()]
        if missing:
            problems.append(f"message lacks {missing}")
        if "Traceback" in resp.text or 'File "' in resp.text:
            problems.append("traceback in the body")
        if not msg.strip():
            problems.append("empty message")
        health = ui.anonymous().get("/healthz").status_code
        if health != 200 or ui.proc.poll() is not None:
            problems.append(f"health {health} after the row")
        results.append({"case": row.case, "status": resp.status_code, "message": msg[:160]})
        if problems:
            failures.append(f"{row.case}: {'; '.join(problems)} — body {resp.text[:200]!r}")
    gate.summary["rows"] = len(ROWS)
    gate.summary["refused_as_expected"] = len(ROWS) - len(failures)
    (work / "bad_inputs_web.json").write_text(json.dumps(results, indent=1))

    # Nothing left behind.
    with ui.client("alice") as cl:
        st = cl.get(f"/api/uploads/{ids['open']}").json()
        uploads = cl.get("/api/uploads").json()
        cl.get("/api/jobs").json()
        ntfy = cl.get("/api/settings/notifications").json()
        c.check(cl.delete(f"/api/uploads/{ids['open']}").status_code == 204, "abort of the target upload failed")
        c.check(cl.delete(f"/api/uploads/{ids['done']}").status_code == 204, "delete of the finished upload failed")
    with ui.client("admin") as admin:
        all_jobs = admin.get("/api/jobs").json()
    leftovers = {
        "chunks_on_target": st.get("receivedChunks"),
        "other_uploads": sorted(u["id"] for u in uploads if u["id"] not in ids.values()),
        "jobs": [j["name"] for j in all_jobs],
        "dubbingjobs_in_namespace": json.loads(kube.kubectl("get", "dj", "-n", ns, "-o", "json").stdout)["items"],
        "ntfy_settings": ntfy if ntfy.get("enabled") else None,
    }
    s3 = ui.s3.client()
    leftovers["objects"] = [o.object_name for o in s3.list_objects(ui.bucket, recursive=True)]
    leftovers["multipart_uploads"] = [u.object_name for u in s3._list_multipart_uploads(ui.bucket).uploads]
    spool = work / "webui" / "data" / "tmp"
    leftovers["spool_files"] = [p.name for p in spool.glob("*")] if spool.exists() else []
    gate.summary["leftovers"] = {k: v for k, v in leftovers.items() if v}
    c.check(not failures, f"{len(failures)} rows not refused cleanly: {failures}")
    c.check(not gate.summary["leftovers"], f"state left behind: {gate.summary['leftovers']}")
