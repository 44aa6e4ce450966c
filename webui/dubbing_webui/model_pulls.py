"""Model pulls from the models page: the catalogue with each model's state, and pull Jobs.

A pull runs as a Kubernetes Job (the chart's template: ``dubbing models pull`` writing into the
model-cache volume), not in the web UI's process: the volume is shared by every node's stage
Pods, the Job survives a web UI restart, and its Pod can run wherever the volume mounts.  The
state shown comes from the model cache itself (read-only here: files in place, the pull's
progress file) and from the model's latest Job.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dubbing.modelpull.catalogue import CATALOGUE, CatalogueEntry, lookup
from dubbing.modelpull.state import ModelState, model_state

log = logging.getLogger(__name__)
MODEL_LABEL = "dubbing.dev/model"
COMPONENT_LABEL = "app.kubernetes.io/component"


class PullRejected(Exception):
    """A pull the web UI will not start; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def pull_job(template: dict[str, Any], entry: CatalogueEntry, prefix: str) -> dict[str, Any]:
    """The Job that pulls ``entry``: the template with a generated name, the model's label and name."""
    job = copy.deepcopy(template)
    metadata = job.setdefault("metadata", {})
    metadata.pop("name", None)
    metadata["generateName"] = f"{prefix}-"
    metadata.setdefault("labels", {})[MODEL_LABEL] = entry.name
    pod = job["spec"]["template"]
    pod.setdefault("metadata", {}).setdefault("labels", {})[MODEL_LABEL] = entry.name
    (container,) = pod["spec"]["containers"]
    container["args"] = [entry.name]
    return job


def job_phase(status: dict[str, Any] | None) -> str:
    """``running``, ``succeeded`` or ``failed`` from a Job's status (conditions first, then counts)."""
    status = status or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "succeeded"
        if condition.get("status") == "True" and condition.get("type") in ("Failed", "FailureTarget"):
            return "failed"
    return "succeeded" if status.get("succeeded") else "running"


def row(entry: CatalogueEntry, state: ModelState, job: dict[str, Any] | None) -> dict[str, Any]:
    """One line of the catalogue table: the entry, its state in the cache, its latest pull Job."""
    data = {key: value for key, value in entry.as_dict().items() if key != "files"}
    shown = state.as_dict()
    if job is not None and job["phase"] == "running" and state.state not in ("ready", "pulling"):
        shown["state"] = "starting"  # the Job exists, its Pod has not written progress yet
    if job is not None and job["phase"] == "failed" and state.state != "ready" and not shown["message"]:
        shown["message"] = f"pull Job {job['name']} failed"
    return {**data, "status": shown, "job": job}


@dataclass
class ModelPulls:
    kube: Any
    template_path: Path | None
    namespace: str
    prefix: str

    @property
    def enabled(self) -> bool:
        return self.template_path is not None and self.template_path.is_file()

    def template(self) -> dict[str, Any]:
        if self.template_path is None:
            raise PullRejected(404, "model pulls are not configured (DUBBING_MODEL_PULL_JOB)")
        try:
            loaded = yaml.safe_load(self.template_path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise PullRejected(503, f"model pull Job template unreadable: {exc}") from exc
        if not isinstance(loaded, dict) or loaded.get("kind") != "Job":
            raise PullRejected(503, f"{self.template_path} is not a Job manifest")
        return loaded

    def latest_jobs(self) -> dict[str, dict[str, Any]]:
        """The newest pull Job of each model: name, phase, creation time."""
        if not self.enabled:
            return {}
        from kubernetes import client

        batch: Any = client.BatchV1Api(self.kube.api)  # dicts in, models out: typed loosely
        items = batch.list_namespaced_job(self.namespace, label_selector=MODEL_LABEL, _request_timeout=5).items
        latest: dict[str, dict[str, Any]] = {}
        for item in sorted(items, key=lambda j: j.metadata.creation_timestamp):
            model = (item.metadata.labels or {}).get(MODEL_LABEL)
            if model:
                status = self.kube.api.sanitize_for_serialization(item.status) if item.status else {}
                latest[model] = {"name": item.metadata.name, "phase": job_phase(status)}
        return latest

    def rows(self, cache: Path) -> list[dict[str, Any]]:
        try:
            jobs = self.latest_jobs()
        except Exception as exc:  # noqa: BLE001 - the cache's own state is still worth showing
            log.warning("cannot list model pull Jobs: %s", exc)
            jobs = {}
        return [row(entry, model_state(cache, entry), jobs.get(entry.name)) for entry in CATALOGUE]

    def start(self, name: str, cache: Path) -> str:
        """Create the pull Job of model ``name``; its name.  Refuses unknown names and a second pull."""
        try:
            entry = lookup(name)
        except KeyError as exc:
            raise PullRejected(404, str(exc)) from None
        template = self.template()
        state = model_state(cache, entry)
        if state.state == "ready":
            raise PullRejected(409, f"{name} is already in the model cache")
        if self.latest_jobs().get(name, {}).get("phase") == "running" or state.state == "pulling":
            raise PullRejected(409, f"a pull of {name} is already running")
        from kubernetes import client

        batch: Any = client.BatchV1Api(self.kube.api)
        created = batch.create_namespaced_job(self.namespace, pull_job(template, entry, self.prefix))
        log.info("started model pull %s for %s", created.metadata.name, name)
        return str(created.metadata.name)
