"""The Pod manifest of one stage attempt (pure)."""

from __future__ import annotations

import json
from typing import Any

from dubbing.api.v1alpha1 import OWNER_LABEL, DubbingJob

from .credentials import ACCESS_KEY, SECRET_KEY, SESSION_TOKEN
from .naming import credentials_secret_name, owner_of, pod_labels, pod_name
from .settings import LIGHT_BACKENDS, Settings
from .sizing import MemoryModel, mebibytes, memory_bytes, sized_memory

TERMINATION_LOG = "/dev/termination-log"


def stage_gpus(job: DubbingJob, stage: str, settings: Settings) -> int:
    """GPUs the stage's Pod requests: the job's own number, else 0 for a light backend, else the default."""
    options = job.spec.stages.for_stage(stage)
    if options.gpus is not None:
        return options.gpus
    backend = getattr(options, "backend", "auto")
    if backend in LIGHT_BACKENDS:
        return 0
    return int(settings.gpu_counts.get(stage, 0))


def max_attempts(job: DubbingJob, stage: str, settings: Settings) -> int:
    value = job.spec.stages.for_stage(stage).maxAttempts
    return value if value is not None else settings.max_attempts


def artifacts_url(job: DubbingJob, settings: Settings) -> str:
    out = job.spec.output
    if out is not None and out.bucket:
        return f"s3://{out.bucket}" + (f"/{out.prefix.strip('/')}" if out.prefix else "")
    return settings.artifacts_url


def job_document(job: DubbingJob) -> str:
    """What a stage gets as ``DUBBING_JOB``: the manifest minus status and the noisy metadata
    (the owner label stays: the tts stage reads ``spec.voices`` from the owner's voice library)."""
    meta = job.metadata
    metadata: dict[str, Any] = {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid}
    owner = (meta.labels or {}).get(OWNER_LABEL)
    if owner:
        metadata["labels"] = {OWNER_LABEL: owner}
    doc = {
        "apiVersion": job.apiVersion,
        "kind": job.kind,
        "metadata": metadata,
        "spec": job.spec.model_dump(mode="json", exclude_none=True),
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def _resources(
    job: DubbingJob, stage: str, gpus: int, settings: Settings, media_seconds: float | None = None
) -> dict[str, Any]:
    base = settings.resources.get(stage, {})
    requests: dict[str, Any] = dict(base.get("requests", {}))
    limits: dict[str, Any] = dict(base.get("limits", {}))
    line = settings.stage_memory.get(stage)
    if media_seconds is not None and line is not None:
        configured = (
            memory_bytes(requests["memory"]) if "memory" in requests else None,
            memory_bytes(limits["memory"]) if "memory" in limits else None,
        )
        sized = sized_memory(
            MemoryModel.parse(line), media_seconds, *configured, memory_bytes(settings.stage_memory_max)
        )
        for values, was, now in zip((requests, limits), configured, sized, strict=True):
            if now != was:  # a value the sizing leaves alone keeps its spelling
                values["memory"] = mebibytes(now)
    override = job.spec.stages.for_stage(stage).resources
    if override is not None:  # the job's own values win over sized ones
        requests.update({k: str(v) for k, v in (override.requests or {}).items()})
        limits.update({k: str(v) for k, v in (override.limits or {}).items()})
    requests.pop(settings.gpu_resource, None)
    limits.pop(settings.gpu_resource, None)
    if gpus > 0:
        # Extended resources: request must equal limit.
        requests[settings.gpu_resource] = str(gpus)
        limits[settings.gpu_resource] = str(gpus)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _s3_keys(job: DubbingJob, settings: Settings) -> list[dict[str, Any]]:
    """The stage's object store keys: the job's own scoped Secret, else the shared one."""

    def ref(var: str, secret: str, key: str) -> dict[str, Any]:
        return {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}

    if settings.s3_scoped_credentials:
        assert job.metadata.name
        secret = credentials_secret_name(job.metadata.name)
        return [
            ref("DUBBING_S3_ACCESS_KEY", secret, ACCESS_KEY),
            ref("DUBBING_S3_SECRET_KEY", secret, SECRET_KEY),
            ref("DUBBING_S3_SESSION_TOKEN", secret, SESSION_TOKEN),
            *([{"name": "DUBBING_S3_REGION", "value": settings.s3_region}] if settings.s3_region else []),
        ]
    return [
        ref("DUBBING_S3_ACCESS_KEY", settings.s3_secret_name, settings.s3_access_key_key),
        ref("DUBBING_S3_SECRET_KEY", settings.s3_secret_name, settings.s3_secret_key_key),
    ]


def _env(job: DubbingJob, stage: str, gpus: int, settings: Settings) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "DUBBING_JOB", "value": job_document(job)},
        {"name": "DUBBING_STAGE", "value": stage},
        {"name": "DUBBING_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "DUBBING_ARTIFACTS", "value": artifacts_url(job, settings)},
        {"name": "DUBBING_S3_ENDPOINT", "value": settings.s3_endpoint},
        {"name": "DUBBING_S3_SECURE", "value": "true" if settings.s3_secure else "false"},
        *_s3_keys(job, settings),
        {"name": "DUBBING_MODEL_CACHE", "value": settings.model_cache_mount},
        {"name": "DUBBING_DEVICE", "value": settings.gpu_device if gpus > 0 else "cpu"},
        {"name": "DUBBING_TERMINATION_MESSAGE_PATH", "value": TERMINATION_LOG},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
    ]
    env += llm_env(stage, settings)
    taken = {e["name"] for e in env}
    env += [{"name": k, "value": str(v)} for k, v in sorted(settings.stage_env.items()) if k not in taken]
    return env


#: Stages that talk to the llm endpoint: translate, and tts for its second pass (shortening misfits).
LLM_STAGES = frozenset({"translate", "tts"})


def llm_env(stage: str, settings: Settings) -> list[dict[str, Any]]:
    """The llm backend's endpoint, model and API key (from its Secret) for the stages that use it."""
    if stage not in LLM_STAGES or not settings.llm_endpoint:
        return []
    env: list[dict[str, Any]] = [{"name": "DUBBING_LLM_ENDPOINT", "value": settings.llm_endpoint}]
    if settings.llm_model:
        env.append({"name": "DUBBING_LLM_MODEL", "value": settings.llm_model})
    if settings.llm_api_key_secret:
        # optional: a missing Secret leaves the key unset, and the backend's readiness says so
        # (the Pod is not held in CreateContainerConfigError).
        ref = {"name": settings.llm_api_key_secret, "key": settings.llm_api_key_key, "optional": True}
        env.append({"name": "DUBBING_LLM_API_KEY", "valueFrom": {"secretKeyRef": ref}})
    return env


def _model_cache_volume(settings: Settings) -> dict[str, Any]:
    if settings.model_cache_pvc:
        return {"name": "model-cache", "persistentVolumeClaim": {"claimName": settings.model_cache_pvc}}
    if settings.model_cache_host_path:
        return {"name": "model-cache", "hostPath": {"path": settings.model_cache_host_path, "type": "Directory"}}
    return {"name": "model-cache", "emptyDir": {}}


#: Taints the node lifecycle controller puts on a node whose kubelet stopped reporting.
NODE_LOST_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def node_lost_tolerations(settings: Settings) -> list[dict[str, Any]]:
    """Leave a lost node after ``node_lost_toleration_seconds`` instead of the cluster's default 300 s."""
    if settings.node_lost_toleration_seconds is None:
        return []
    return [
        {
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": settings.node_lost_toleration_seconds,
        }
        for key in NODE_LOST_TAINTS
    ]


def _placement(job: DubbingJob, gpus: int, settings: Settings) -> tuple[dict[str, str], list[dict[str, Any]]]:
    selector: dict[str, str] = dict(settings.node_selector)
    tolerations: list[dict[str, Any]] = node_lost_tolerations(settings) + [dict(t) for t in settings.tolerations]
    if gpus > 0:
        selector.update(settings.gpu_node_selector)
        tolerations += [dict(t) for t in settings.gpu_tolerations]
    placement = job.spec.placement
    if placement is not None:
        selector.update(placement.nodeSelector or {})
        tolerations += [t.model_dump(exclude_none=True) for t in placement.tolerations or []]
    return selector, tolerations


def build_pod(
    job: DubbingJob,
    stage: str,
    attempt: int,
    settings: Settings,
    run: int | None = None,
    media_seconds: float | None = None,
) -> dict[str, Any]:
    """The full Pod manifest of attempt ``attempt`` of ``stage`` of ``job``; ``media_seconds`` (the
    input's length, once extract has measured it) sizes its memory (:mod:`.sizing`)."""
    meta = job.metadata
    assert meta.name and meta.namespace and meta.uid, "job metadata must carry name, namespace and uid"
    gpus = stage_gpus(job, stage, settings)
    options = job.spec.stages.for_stage(stage)
    run = job.spec.rerun if run is None else run
    owner = owner_of(meta.namespace, meta.labels)
    selector, tolerations = _placement(job, gpus, settings)
    command = [part.replace("{stage}", stage) for part in settings.stage_command]
    container: dict[str, Any] = {
        "name": "stage",
        "image": settings.stage_gpu_image if gpus > 0 else settings.stage_image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": _env(job, stage, gpus, settings),
        "resources": _resources(job, stage, gpus, settings, media_seconds),
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "model-cache", "mountPath": settings.model_cache_mount},
        ],
    }
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": options.timeoutSeconds or settings.stage_timeout_seconds,
        "terminationGracePeriodSeconds": settings.termination_grace_seconds,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "runAsGroup": settings.run_as_user,
            "fsGroup": settings.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}, _model_cache_volume(settings)],
    }
    if selector:
        spec["nodeSelector"] = selector
    if tolerations:
        spec["tolerations"] = tolerations
    if settings.service_account:
        spec["serviceAccountName"] = settings.service_account
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(meta.name, stage, attempt),
            "namespace": meta.namespace,
            "labels": pod_labels(meta.name, owner, stage, attempt, run),
            "annotations": {"dubbing.dev/gpus": str(gpus)},
            "ownerReferences": [
                {
                    "apiVersion": job.apiVersion,
                    "kind": job.kind,
                    "name": meta.name,
                    "uid": meta.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }
