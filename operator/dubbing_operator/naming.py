"""Deterministic names and the labels every stage Pod carries."""

from __future__ import annotations

import hashlib

from dubbing.api.v1alpha1 import ATTEMPT_LABEL, JOB_LABEL, OWNER_LABEL, STAGE_LABEL

MAX_NAME = 63
RUN_LABEL = "dubbing.dev/run"
FINALIZER = "dubbing.dev/cleanup"
MANAGER = "dubbing-operator"


def pod_name(job: str, stage: str, attempt: int) -> str:
    """``<job>-<stage>-<attempt>``; a long job name is cut and made unique by a short hash."""
    suffix = f"-{stage}-{attempt}"
    name = job + suffix
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(job.encode()).hexdigest()[:8]
    keep = MAX_NAME - len(suffix) - len(digest) - 1
    head = job[:keep].rstrip("-.")
    return f"{head}-{digest}{suffix}"


def credentials_secret_name(job: str) -> str:
    """``<job>-s3``: the Secret with the job's scoped object store keys (a long name cut like a Pod's)."""
    suffix = "-s3"
    if len(job) + len(suffix) <= MAX_NAME:
        return job + suffix
    digest = hashlib.sha256(job.encode()).hexdigest()[:8]
    return f"{job[: MAX_NAME - len(suffix) - 9].rstrip('-.')}-{digest}{suffix}"


def label_value(value: str) -> str:
    """A label value (<= 63 chars, alphanumeric ends)."""
    if len(value) <= MAX_NAME:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{value[: MAX_NAME - 9].rstrip('-_.')}-{digest}"


def owner_of(namespace: str, labels: dict[str, str] | None) -> str:
    """The user a job belongs to: its owner label, else its namespace."""
    return (labels or {}).get(OWNER_LABEL) or namespace


def pod_labels(job: str, owner: str, stage: str, attempt: int, run: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "dubbing",
        "app.kubernetes.io/component": "stage",
        "app.kubernetes.io/instance": label_value(job),
        "app.kubernetes.io/managed-by": MANAGER,
        "app.kubernetes.io/part-of": "dubbing",
        JOB_LABEL: label_value(job),
        STAGE_LABEL: stage,
        ATTEMPT_LABEL: str(attempt),
        RUN_LABEL: str(run),
        OWNER_LABEL: label_value(owner),
    }
