"""Gate: two users upload and run jobs at the same time; neither can reach the other's things on any route.

alice and bob each upload a file (concurrently), submit a job, and leave a second
upload open, while the operator runs the jobs (stand-in stage program).  The routes are
not listed by hand: every route of the app (``app.routes``: the JSON API, tus and the
server-rendered pages) is enumerated and checked against the running app's OpenAPI
document; each one with a path parameter (or a body field) that names a job or an
upload is called by each user with the other's ids, while the jobs run and again once
they are done.  Each answer must be 404 and look exactly like the answer for an id
that does not exist (OPTIONS, tus' capability discovery, need only look the same).  A
parameter the gate does not know fails the gate, so a new route cannot slip by
unchecked.  Afterwards nothing of either user has changed, each user's lists and
event stream show only their own jobs, and both jobs end Succeeded.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dubbing.api.v1alpha1 import STAGES

from . import common as c
from . import web as w

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

USERS = ("alice", "bob")
JOB_PARAMS = {"name"}
UPLOAD_PARAMS = {"upload_id"}
TOKEN_PARAMS = {"token_id"}
VOICE_PARAMS = {"voice_id"}
#: Parameters that index the user's own things and can name nothing of another's (a glossary entry number).
OWN_ONLY_PARAMS = {"number"}
BODY_ID_FIELDS = {"uploadId": "upload"}  # JSON body fields that carry an id: which kind
SAFE_METHODS_SAME_ONLY = {"OPTIONS"}
GHOST = {"job": "no-such-job-000000", "upload": "0" * 32, "token": "0" * 12, "voice": "v-feedfacecafebeef"}


def app_routes() -> list[tuple[str, str, list[str]]]:
    """(method, path, path parameters) of every route of the app, pages included."""
    from fastapi.routing import APIRoute

    from dubbing_webui.app import create_app

    out = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                params = re.findall(r"{(\w+)(?::\w+)?}", route.path)
                out.extend((method, route.path, params) for method in sorted(route.methods))
            elif hasattr(route, "original_router"):  # newer FastAPI wraps included routers
                walk(route.original_router.routes)
            elif hasattr(route, "routes") and not hasattr(route, "app"):
                walk(route.routes)

    walk(create_app().routes)
    return out


def _fill(path: str, params: list[str], ids: dict[str, str], ns: str) -> str | None:
    values = {}
    for p in params:
        if p in JOB_PARAMS:
            values[p] = ids["job"]
        elif p in UPLOAD_PARAMS:
            values[p] = ids["upload"]
        elif p in TOKEN_PARAMS:
            values[p] = ids["token"]
        elif p in VOICE_PARAMS:
            values[p] = ids["voice"]
        elif p in OWN_ONLY_PARAMS:
            values[p] = "1"
        elif p in ("index", "segment"):
            values[p] = "0"
        elif p == "namespace":
            values[p] = ns
        else:
            return None
    return path.format(**values)


def plan_requests(
    routes: list[tuple[str, str, list[str]]], openapi: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The requests to try: routes with an id in the path, and API routes with an id in the body."""
    plans: list[dict[str, Any]] = []
    unknown: list[str] = []
    schemas = openapi.get("components", {}).get("schemas", {})
    for method, path, params in routes:
        if method == "HEAD" and ("GET", path, params) in routes:
            continue  # FastAPI's implicit HEAD of a GET route answers like the GET
        if params:
            if _fill(path, params, {"job": "j", "upload": "u", "token": "t", "voice": "v"}, "ns") is None:
                unknown.append(f"{method} {path}")
                continue
            kinds = (
                {"job" for p in params if p in JOB_PARAMS}
                | {"upload" for p in params if p in UPLOAD_PARAMS}
                | {"token" for p in params if p in TOKEN_PARAMS}
                | {"voice" for p in params if p in VOICE_PARAMS}
            )
            if kinds:
                plans.append(
                    {
                        "method": method,
                        "path": path,
                        "params": params,
                        "body": None,
                        "json": _valid_body(openapi, path, method),
                    }
                )
            continue
        op = (openapi.get("paths", {}).get(path) or {}).get(method.lower())
        ref = (
            ((op or {}).get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema") or {}
        ).get("$ref")
        if not ref:
            continue
        props = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
        id_fields = [f for f in props if f.lower().endswith("id")]
        for f in id_fields:
            if f not in BODY_ID_FIELDS:
                unknown.append(f"{method} {path} body field {f}")
        if any(f in BODY_ID_FIELDS for f in id_fields):
            plans.append(
                {"method": method, "path": path, "params": [], "body": [f for f in id_fields if f in BODY_ID_FIELDS]}
            )
    return plans, unknown


def _valid_body(openapi: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    """A JSON body the route's schema accepts (its required fields filled in), so that the answer is
    about the id in the path and not about a malformed body; None when the route takes no JSON body."""
    op = (openapi.get("paths", {}).get(path) or {}).get(method.lower()) or {}
    ref = (((op.get("requestBody") or {}).get("content", {}).get("application/json", {})).get("schema") or {}).get(
        "$ref"
    )
    if not ref:
        return None
    schema = openapi.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    samples = {"string": "gate", "integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}
    return {
        f: samples.get(str(schema.get("properties", {}).get(f, {}).get("type")), "gate")
        for f in schema.get("required", [])
    }


class Actor:
    """One user: an API client (bearer) and a browser-like client (cookie + CSRF)."""

    def __init__(self, ui: w.WebUI, user: str) -> None:
        self.api = ui.client(user)
        self.page, self.csrf = w.browser_login(ui.base, user, w.PASSWORD)

    def call(self, plan: dict[str, Any], path: str, body_ids: dict[str, str]) -> httpx.Response:
        method = plan["method"]
        headers = {"X-Chunk-SHA256": "0" * 64, "Tus-Resumable": "1.0.0", "Upload-Offset": "0"}
        kw: dict[str, Any] = {}
        if plan["body"]:
            kw["json"] = {"targetLanguages": ["fr"], **{f: body_ids[BODY_ID_FIELDS[f]] for f in plan["body"]}}
        elif plan.get("json") is not None:
            kw["json"] = plan["json"]
        elif method in ("PUT", "PATCH", "POST"):
            kw["content"] = b"x"
            headers["Content-Type"] = (
                "application/offset+octet-stream" if method == "PATCH" else "application/octet-stream"
            )
        if path.startswith("/api/"):
            return self.api.request(method, path, headers=headers, timeout=20, **kw)
        if method == "POST":
            return self.page.post(path, data={"csrf_token": self.csrf}, timeout=20, follow_redirects=True)
        return self.page.request(method, path, timeout=20, follow_redirects=True)


def probe_all(plans: list[dict[str, Any]], actor: Actor, theirs: dict[str, str], ns: str) -> tuple[int, list[str]]:
    """Each planned route, called by ``actor`` with the other user's ids (finished and open upload)."""
    problems, calls = [], 0
    for plan in plans:
        for upload_key in ("upload", "open"):
            ids = {
                "job": theirs["job"],
                "upload": theirs[upload_key],
                "token": theirs["token"],
                "voice": theirs["voice"],
            }
            if not plan["body"] and not any(p in UPLOAD_PARAMS for p in plan["params"]) and upload_key == "open":
                continue
            path = _fill(plan["path"], plan["params"], ids, ns)
            ghost_path = _fill(plan["path"], plan["params"], GHOST, ns)
            assert path and ghost_path
            r = actor.call(plan, path, ids)
            g = actor.call(plan, ghost_path, GHOST)
            calls += 1
            label = f"{plan['method']} {plan['path']} ({upload_key})"
            if plan["method"] not in SAFE_METHODS_SAME_ONLY and r.status_code != 404:
                problems.append(f"{label}: {r.status_code} {r.text[:120]!r}")
            if (r.status_code, _scrub(r.text, ids)) != (g.status_code, _scrub(g.text, GHOST)):
                problems.append(f"{label}: differs from a missing id ({r.status_code} vs {g.status_code})")
    return calls, problems


def _scrub(text: str, ids: dict[str, str]) -> str:
    for v in ids.values():
        text = text.replace(v, "<id>")
    return re.sub(r'name="csrf-token" content="[^"]+"|name="csrf_token" value="[^"]+"', "<csrf>", text)


def test_two_users(gate: c.Gate, cluster: c.KubeCluster, webui_s3: w.S3) -> None:
    plans_dir = c.plan_dir()
    with w.web_stack(gate, cluster, webui_s3, "gate-users", plans_dir) as stack:
        kube, ns = stack.kube, stack.ns
        c.s3_secret(kube, ns, stack.s3.access_key, stack.s3.secret_key)
        env = {**c.fake_stage_env(plans_dir), "DUBBING_STAGE_GPUS": ",".join(f"{s}=0" for s in STAGES)}
        log = plans_dir / "operator.log"
        gate.logs.append(log)
        op = c.start_operator(kube, ns, env, log)
        try:
            _run(gate, kube, ns, stack.ui, plans_dir)
        finally:
            op.stop()


def _library_voice(ui: w.WebUI, user: str, work: Path) -> str:
    """A voice in ``user``'s library, stored where the web UI keeps the library (no job is needed:
    the gate's stages are stand-ins that leave no speech to cut a voice from)."""
    from dubbing.artifacts.minio_store import MinioStore, S3Settings
    from dubbing.voices.library import VoiceLibrary

    clip = work / f"{user}-voice.wav"
    w.make_wav(clip, 64 * 1000 + 44)
    s3 = S3Settings(endpoint=ui.s3.endpoint, access_key=ui.s3.access_key, secret_key=ui.s3.secret_key)
    store = MinioStore(ui.bucket, "", s3)
    return VoiceLibrary(store, user).save(f"{user}'s narrator", "the gate's own test clip", clip, {"speaker": "S0"}).id


def _run(gate: c.Gate, kube: Any, ns: str, ui: w.WebUI, plans_dir: Path) -> None:
    owned: dict[str, dict[str, str]] = {}
    errors: list[str] = []

    def user_flow(user: str) -> None:
        try:
            media = plans_dir / f"{user}.wav"
            w.make_wav(media, 8 * 1000 * 1000 + 44)
            with ui.client(user) as cl:
                done = w.uploadclient.upload(cl, media)
                job = cl.post("/api/jobs", json={"uploadId": done["id"], "targetLanguages": ["es"]})
                assert job.status_code == 201, job.text
                name = job.json()["name"]
                (plans_dir / f"{ns}_{name}.json").write_text('{"default": {"sleep": 1.0}}')
                open_up = w.uploadclient.create(cl, "open.wav", 6 * 1000 * 1000)
                assert open_up.status_code == 201, open_up.text
                tokens = cl.get("/api/tokens").json()  # the API token this client signs in with
                assert tokens, "no API token listed"
            voice = _library_voice(ui, user, plans_dir)
            owned[user] = {
                "job": name,
                "upload": done["id"],
                "open": open_up.json()["id"],
                "token": tokens[0]["id"],
                "voice": voice,
            }
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(f"{user}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=user_flow, args=(u,)) for u in USERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    c.check(not errors and len(owned) == 2, f"uploads/submissions failed: {errors}")

    routes = app_routes()
    openapi = ui.anonymous().get("/api/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in openapi["paths"].items() for m in ops}
    missing_from_app = documented - {(m, p) for m, p, _ in routes}
    c.check(not missing_from_app, f"OpenAPI routes not found among the app's routes: {missing_from_app}")
    plans, unknown = plan_requests(routes, openapi)
    gate.summary["routes_total"] = len(routes)
    gate.summary["routes_with_ids"] = sorted(f"{p['method']} {p['path']}" for p in plans)
    c.check(not unknown, f"routes with parameters the gate cannot fill (teach it): {unknown}")
    c.check(len(plans) >= 10, f"only {len(plans)} routes take an id: the enumeration is broken")

    actors = {u: Actor(ui, u) for u in USERS}
    rounds: list[dict[str, Any]] = []
    for when in ("while-running", "after-finish"):
        if when == "after-finish":
            for u in USERS:
                job = c.wait_phase(kube, ns, owned[u]["job"], ("Succeeded", "Failed", "Cancelled"), 240)
                c.check(job["status"]["phase"] == "Succeeded", f"{u}'s job ended {job['status']['phase']}")
        else:
            c.check(
                any(c.phase(kube, ns, owned[u]["job"]) in (None, "Pending", "Queued", "Running") for u in USERS),
                "both jobs had already finished before the first round",
            )
        t0 = time.monotonic()
        total, problems = 0, []
        for me, other in (("bob", "alice"), ("alice", "bob")):
            n, p = probe_all(plans, actors[me], owned[other], ns)
            total += n
            problems += [f"{me}->{other}: {x}" for x in p]
        rounds.append({"when": when, "calls": total, "seconds": round(time.monotonic() - t0, 1)})
        c.check(not problems, f"isolation broken ({when}): {problems[:10]}")
    gate.summary["rounds"] = rounds

    for me, other in (("alice", "bob"), ("bob", "alice")):
        api = actors[me].api
        c.check(api.get(f"/api/jobs/{owned[me]['job']}").status_code == 200, f"{me} cannot read own job")
        job = api.get(f"/api/jobs/{owned[me]['job']}").json()
        c.check(
            job["phase"] == "Succeeded" and not job["cancel"] and (job["spec"].get("rerun") or 0) == 0,
            f"{me}'s job was changed: {job['phase']} cancel={job['cancel']} rerun={job['spec'].get('rerun')}",
        )
        c.check(
            api.get(f"/api/uploads/{owned[me]['upload']}").json().get("state") == "complete", f"{me}'s upload changed"
        )
        c.check(
            api.get(f"/api/uploads/{owned[me]['open']}").json().get("state") == "open", f"{me}'s open upload changed"
        )
        jobs = {j["name"] for j in api.get("/api/jobs").json()}
        uploads = {u["id"] for u in api.get("/api/uploads").json()}
        c.check(owned[me]["job"] in jobs and owned[other]["job"] not in jobs, f"{me}'s job list: {jobs}")
        c.check(not {owned[other]["upload"], owned[other]["open"]} & uploads, f"{me}'s upload list shows the other's")
        text = ""
        with api.stream("GET", "/api/events", timeout=20) as resp:
            for chunk in resp.iter_text():
                text += chunk
                if "event: snapshot" in text and text.endswith("\n\n"):
                    break
        c.check(
            owned[me]["job"] in text and owned[other]["job"] not in text, f"{me}'s event stream leaks or misses jobs"
        )
        dash = actors[me].page.get("/")
        c.check(owned[me]["job"] in dash.text and owned[other]["job"] not in dash.text, f"{me}'s dashboard page")
    gate.summary["jobs"] = {u: owned[u]["job"] for u in USERS}
