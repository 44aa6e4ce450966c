"""DubbingJobs on behalf of a user: create, list, read, cancel, rerun, outputs, logs."""

from __future__ import annotations

import builtins
import re
import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from kubernetes.client.exceptions import ApiException

from dubbing.api import v1alpha1 as api
from dubbing.artifacts import ArtifactStore, StoreError
from dubbing.glossary import dump, parse
from dubbing.stages.layout import job_log_key

from . import quotas
from .glossaries import GlossaryError, GlossaryService
from .kube import Kube
from .objects import ObjectStore
from .store import Store, UploadRecord, User

if TYPE_CHECKING:
    from urllib3 import HTTPResponse

INPUT_NAME_ANNOTATION = f"{api.GROUP}/input-name"
UPLOAD_ANNOTATION = f"{api.GROUP}/upload-id"


class JobNotFound(LookupError):
    pass


class JobError(ValueError):
    pass


class JobQuotaExceeded(JobError):
    """The user already has as many unfinished jobs as allowed."""


def job_name(upload_name: str) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", upload_name.rsplit(".", 1)[0].lower()).strip("-")[:40].strip("-") or "job"
    return f"{stem}-{secrets.token_hex(3)}"


def notify_spec(settings: dict[str, Any]) -> dict[str, Any] | None:
    """The user's ntfy wishes as spec.notify (None: no wishes recorded)."""
    if not settings:
        return None
    spec: dict[str, Any] = {"enabled": bool(settings.get("enabled"))}
    if settings.get("topic"):
        spec["topic"] = settings["topic"]
    spec["events"] = list(settings.get("events") or [])
    return api.NotifySpec.model_validate(spec).model_dump(mode="json", exclude_none=True)


JOB_OPTIONS = frozenset({"tts", "container", "maxStretch", "priority", "voices", "reviewAfter"})


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{field}: must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{field}: must be a number, got {value!r}") from None


def build_job(
    user: User,
    upload: UploadRecord,
    namespace: str,
    target_languages: list[str],
    source_language: str,
    options: dict[str, Any],
    notify: dict[str, Any] | None,
    glossary: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The DubbingJob manifest (validated by the shared models before it is sent)."""
    spec: dict[str, Any] = {
        "input": {"bucket": upload.bucket, "key": upload.key},
        "sourceLanguage": source_language or "auto",
        "targetLanguages": target_languages,
    }
    unknown = sorted(set(options) - JOB_OPTIONS)
    if unknown:
        raise ValueError(f"options: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(JOB_OPTIONS))}")
    stages: dict[str, Any] = {}
    if options.get("tts"):
        stages["tts"] = {"backend": options["tts"]}
    if options.get("container"):
        stages["mux"] = {"container": options["container"]}
    if options.get("maxStretch") is not None:
        stages["mix"] = {"maxStretch": _number(options["maxStretch"], "options.maxStretch")}
    if stages:
        spec["stages"] = stages
    if options.get("priority") is not None:
        spec["priority"] = int(_number(options["priority"], "options.priority"))
    if options.get("voices"):
        spec["voices"] = options["voices"]  # speaker → {voice|library|clone}; library ids checked by VoiceService
    if options.get("reviewAfter"):
        # pause for the user to check the segments (the editor) after this stage
        spec["review"] = {"after": [options["reviewAfter"]]}
    if notify is not None:
        spec["notify"] = notify
    if glossary:
        spec["glossary"] = glossary
    job = api.DubbingJob(
        metadata=api.ObjectMeta(
            name=job_name(upload.name),
            namespace=namespace,
            labels={api.OWNER_LABEL: user.name, "app.kubernetes.io/managed-by": "dubbing-webui"},
            annotations={
                api.OWNER_ANNOTATION: user.name,
                INPUT_NAME_ANNOTATION: upload.name[:253],
                UPLOAD_ANNOTATION: upload.id,
            },
        ),
        spec=api.DubbingJobSpec.model_validate(spec),
    )
    return job.manifest()


def queue_label(position: Any) -> str | None:
    """``#3`` near the head of the queue; ``~#300`` deeper, where the operator keeps it within a tenth."""
    if not isinstance(position, int):
        return None
    return f"~#{position}" if position > api.EXACT_QUEUE_POSITIONS else f"#{position}"


def source_language_label(requested: str | None, detected: str | None) -> str:
    """What the job page says of the input's language: the one given, or what detection found."""
    if requested and requested != "auto":
        return requested
    if detected:
        return f"{detected} (detected)"
    return "detecting…"


def summary(obj: dict[str, Any]) -> dict[str, Any]:
    """What the dashboard shows of one job."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "owner": (meta.get("labels") or {}).get(api.OWNER_LABEL),
        "input": (meta.get("annotations") or {}).get(INPUT_NAME_ANNOTATION) or (spec.get("input") or {}).get("key"),
        "created": meta.get("creationTimestamp"),
        "targetLanguages": spec.get("targetLanguages") or [],
        "sourceLanguage": source_language_label(spec.get("sourceLanguage"), status.get("detectedSourceLanguage")),
        "phase": status.get("phase") or "Pending",
        "currentStage": status.get("currentStage"),
        "progress": status.get("progress"),
        "queuePosition": status.get("queuePosition"),
        "queueLabel": queue_label(status.get("queuePosition")),
        "cancel": bool(spec.get("cancel")),
        "resourceVersion": meta.get("resourceVersion"),
        "deleted": False,
    }


def timeline(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stage in order with its times; ``share`` is its part of the total duration (0..1)."""
    by_name = {s.get("name"): s for s in ((obj.get("status") or {}).get("stages") or [])}
    rows: list[dict[str, Any]] = []
    for name in api.STAGES:
        st = by_name.get(name) or {}
        rows.append(
            {
                "name": name,
                "phase": st.get("phase") or "Pending",
                "startedAt": st.get("startedAt"),
                "finishedAt": st.get("finishedAt"),
                "durationSeconds": st.get("durationSeconds"),
                "attempts": st.get("attempts") or 0,
                "progress": st.get("progress"),
                "lastLogLine": st.get("lastLogLine"),
                "backend": st.get("backend"),
                "podName": st.get("podName"),
                "cacheHit": st.get("cacheHit"),
                "message": st.get("message"),
            }
        )
    total = sum(r["durationSeconds"] or 0 for r in rows)
    for r in rows:
        r["share"] = (r["durationSeconds"] or 0) / total if total > 0 else 0.0
    return rows


def last_log_line(obj: dict[str, Any]) -> str | None:
    status = obj.get("status") or {}
    stages = status.get("stages") or []
    current = status.get("currentStage")
    for st in stages:
        if st.get("name") == current and st.get("lastLogLine"):
            return st["lastLogLine"]
    for st in reversed(stages):
        if st.get("lastLogLine"):
            return st["lastLogLine"]
    return None


#: The largest kept stage log the web UI reads (a stage keeps about 2.3 MiB at most).
MAX_STORED_LOG_BYTES = 4 * 1024 * 1024


class JobService:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        store: Store,
        objects: ObjectStore,
        limits: quotas.Limits | None = None,
        glossaries: GlossaryService | None = None,
        logs: ArtifactStore | None = None,
    ) -> None:
        """``logs``: the artifact store where stage Pods keep their logs (read once a Pod is gone)."""
        self.kube = kube
        self.logs = logs
        self.namespace = namespace
        self.store = store
        self.objects = objects
        self.limits = limits or quotas.Limits()
        self.glossaries = glossaries or GlossaryService(store)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(api.GROUP, api.VERSION, self.namespace, api.PLURAL, *args, **kwargs)

    def create(
        self,
        user: User,
        upload: UploadRecord,
        target_languages: list[str],
        source_language: str,
        options: dict[str, Any],
        glossary: builtins.list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``glossary``: the job's own entries; the user's glossary (settings page) is merged under them."""
        if upload.state != "complete":
            raise JobError("the upload is not complete")
        if self.limits.active_jobs:
            mine = self._call(
                self.kube.custom.list_namespaced_custom_object, label_selector=f"{api.OWNER_LABEL}={user.name}"
            )
            refusal = quotas.job_refusal(((o.get("status") or {}).get("phase") for o in mine["items"]), self.limits)
            if refusal is not None:
                raise JobQuotaExceeded(refusal)
        notify = notify_spec(self.store.user_settings(user.name).get("ntfy") or {})
        try:
            terms = dump(self.glossaries.for_job(user.name, parse(glossary or [])))
        except GlossaryError as exc:
            raise JobError(f"glossary: {exc}") from exc
        try:
            manifest = build_job(
                user, upload, self.namespace, target_languages, source_language, options, notify, terms
            )
        except ValueError as exc:
            raise JobError(str(exc)) from exc
        try:
            return self._call(self.kube.custom.create_namespaced_custom_object, manifest, field_validation="Strict")
        except ApiException as exc:
            if exc.status in (400, 422):
                raise JobError(_api_message(exc)) from exc
            raise

    def list(self, user: User) -> list[dict[str, Any]]:
        selector = None if user.is_admin else f"{api.OWNER_LABEL}={user.name}"
        items = self._call(self.kube.custom.list_namespaced_custom_object, label_selector=selector)["items"]
        return sorted(items, key=lambda o: o["metadata"].get("creationTimestamp") or "", reverse=True)

    def get(self, user: User, name: str) -> dict[str, Any]:
        try:
            obj = self._call(self.kube.custom.get_namespaced_custom_object, name)
        except ApiException as exc:
            if exc.status == 404:
                raise JobNotFound(name) from exc
            raise
        if not visible_to(user, obj):
            raise JobNotFound(name)
        return obj

    def cancel(self, user: User, name: str) -> dict[str, Any]:
        self.get(user, name)
        return self._call(self.kube.custom.patch_namespaced_custom_object, name, {"spec": {"cancel": True}})

    def rerun(self, user: User, name: str) -> dict[str, Any]:
        obj = self.get(user, name)
        patch = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "spec": {"rerun": int(obj["spec"].get("rerun") or 0) + 1, "cancel": False},
        }
        return self._call(self.kube.custom.patch_namespaced_custom_object, name, patch)

    def patch(self, user: User, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A merge patch of the user's job (give ``metadata.resourceVersion`` to apply it only to
        the job as it was read)."""
        self.get(user, name)
        return self._call(self.kube.custom.patch_namespaced_custom_object, name, patch)

    def outputs(self, user: User, name: str) -> builtins.list[dict[str, Any]]:
        """Each output with presigned URLs to play (inline) and download."""
        obj = self.get(user, name)
        outs = (obj.get("status") or {}).get("outputs") or {}
        bucket = outs.get("bucket") or self.objects.bucket
        rows = []
        for lang in outs.get("languages") or []:
            for kind in ("video", "audio"):
                key = lang.get(kind)
                if key:
                    rows.append(self._output(bucket, key, kind, lang.get("language")))
            for key in lang.get("subtitles") or []:
                rows.append(self._output(bucket, key, "subtitles", lang.get("language")))
            if lang.get("report"):
                rows.append(self._output(bucket, lang["report"], "report", lang.get("language")))
        return rows

    def _output(self, bucket: str, key: str, kind: str, language: str | None) -> dict[str, Any]:
        filename = key.rsplit("/", 1)[-1]
        return {
            "kind": kind,
            "language": language,
            "key": key,
            "name": filename,
            "play": self.objects.presigned_get(bucket, key),
            "download": self.objects.presigned_get(bucket, key, filename=filename),
        }

    def pod_for_logs(self, user: User, name: str, stage: str | None) -> str | None:
        obj = self.get(user, name)
        stages = (obj.get("status") or {}).get("stages") or []
        wanted = stage or (obj.get("status") or {}).get("currentStage")
        for st in stages:
            if st.get("name") == wanted and st.get("podName"):
                return st["podName"]
        with_pods = [s for s in stages if s.get("podName")]
        return with_pods[-1]["podName"] if with_pods else None

    def follow_logs(
        self, pod: str, job: str, tail: int = 200, on_open: Callable[[HTTPResponse], None] | None = None
    ) -> Iterator[str]:
        """Lines of a Pod's log, following it until the container ends (blocking; run in a thread).
        ``on_open`` gets the response, so another thread can close it to end the follow at once.
        A Pod that is gone (the cluster deletes finished Pods) is read from the copy of its log the
        stage kept in the artifact store."""
        try:
            # with _preload_content=False the client returns the raw urllib3 response, not the str its stub says
            resp = cast(
                "HTTPResponse",
                self.kube.core.read_namespaced_pod_log(
                    pod,
                    self.namespace,
                    follow=True,
                    tail_lines=tail,
                    _preload_content=False,
                    _request_timeout=(5, 3600),
                ),
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            yield from self.stored_log(job, pod).splitlines()
            return
        if on_open is not None:
            on_open(resp)
        buf = b""
        try:
            for chunk in resp.stream(4096):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    yield line.decode("utf-8", "replace")
            if buf:
                yield buf.decode("utf-8", "replace")
        finally:
            resp.release_conn()

    def stored_log(self, job: str, pod: str) -> str:
        """The copy of a stage Pod's log kept in the artifact store; LookupError when there is none."""
        key = job_log_key(self.namespace, job, pod)
        if self.logs is None:
            raise LookupError(f"Pod {pod} is gone, and no artifact store is configured to read its log from")
        try:
            info = self.logs.stat(key)
            if info is None:
                raise LookupError(f"Pod {pod} is gone and its log was not kept")
            if info.size > MAX_STORED_LOG_BYTES:
                raise LookupError(
                    f"the kept log of Pod {pod} is {info.size} bytes, more than the "
                    f"{MAX_STORED_LOG_BYTES // (1024 * 1024)} MiB shown here"
                )
            return self.logs.get_bytes(key).decode("utf-8", "replace")
        except StoreError as exc:
            raise LookupError(f"the kept log of Pod {pod} cannot be read: {exc}") from None


def visible_to(user: User, obj: dict[str, Any]) -> bool:
    return user.is_admin or (obj.get("metadata", {}).get("labels") or {}).get(api.OWNER_LABEL) == user.name


def _api_message(exc: ApiException) -> str:
    import json

    try:
        return str(json.loads(cast(str, exc.body)).get("message") or exc.reason)  # a None body: TypeError below
    except (ValueError, TypeError, AttributeError):
        return str(exc.reason)
