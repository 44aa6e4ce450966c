"""Thin wrappers over the Kubernetes client: the operator's only reads and writes.

Pods and Events are read and written as plain JSON (``_preload_content=False``):
building the client's model objects and turning them back into dicts cost about
ten times the CPU of parsing the JSON, which showed with hundreds of jobs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from dubbing.api.v1alpha1 import GROUP, JOB_LABEL, PLURAL, VERSION
from dubbing.kubeconfig import DEFAULT_TIMEOUT, api_client

from . import metrics
from .naming import MANAGER, label_value

if TYPE_CHECKING:
    from urllib3 import HTTPResponse

F = TypeVar("F", bound=Callable[..., Any])


def counted(fn: F) -> F:
    """Count each call to the API server by what it does (``dubbing_api_calls_total{call}``)."""
    counter = metrics.API_CALLS.labels(call=fn.__name__)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counter.inc()
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def load(kubeconfig: str | None, pool_size: int = 16, timeout: float = DEFAULT_TIMEOUT[1]) -> client.ApiClient:
    """A client for ``kubeconfig`` (else in-cluster, else the default kubeconfig) whose HTTP
    connection pool is as large as the number of threads that call the API at once, and on which a
    call waits at most ``timeout`` seconds for an answer (a watch names its own)."""
    return cast(
        client.ApiClient,
        api_client(kubeconfig, timeout=(min(DEFAULT_TIMEOUT[0], timeout), timeout), pool_size=pool_size),
    )


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    @counted
    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return cast(
                "dict[str, Any]", self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    @counted
    def list_jobs(self, namespace: str | None) -> list[dict[str, Any]]:
        if namespace:
            res = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        else:
            res = self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        return cast("dict[str, Any]", res).get("items", [])

    @counted
    def job_pods(self, namespace: str, name: str, uid: str) -> list[dict[str, Any]]:
        # with _preload_content=False the client returns the raw urllib3 response, not the model its stub says
        res = cast(
            "HTTPResponse",
            self.core.list_namespaced_pod(
                namespace, label_selector=f"{JOB_LABEL}={label_value(name)}", _preload_content=False
            ),
        )
        pods = json.loads(res.data).get("items") or []
        return [
            p for p in pods
            if any(r.get("uid") == uid for r in (p["metadata"].get("ownerReferences") or []))
        ]  # fmt: skip

    @counted
    def list_stage_pods(self, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        """Every stage Pod (in ``namespace``, else everywhere) and the list's resourceVersion."""
        res: HTTPResponse  # with _preload_content=False: the raw urllib3 response, not the model the stub says
        if namespace:
            res = cast(
                "HTTPResponse",
                self.core.list_namespaced_pod(namespace, label_selector=JOB_LABEL, _preload_content=False),
            )
        else:
            res = cast(
                "HTTPResponse", self.core.list_pod_for_all_namespaces(label_selector=JOB_LABEL, _preload_content=False)
            )
        body = json.loads(res.data)
        return body.get("items") or [], body["metadata"]["resourceVersion"]

    @counted
    def watch_stage_pods(self, namespace: str | None, resource_version: str, timeout: int) -> Iterator[dict[str, Any]]:
        """The watch events of stage Pods after ``resource_version``, bookmarks included, for up to ``timeout`` s."""
        args: dict[str, Any] = {
            "label_selector": JOB_LABEL,
            "watch": True,
            "resource_version": resource_version,
            "allow_watch_bookmarks": True,
            "timeout_seconds": timeout,
            "_preload_content": False,
            "_request_timeout": (10, timeout + 30),
        }
        if namespace:
            res = self.core.list_namespaced_pod(namespace, **args)
        else:
            res = self.core.list_pod_for_all_namespaces(**args)
        return self._events(res)

    @staticmethod
    def _events(res: Any) -> Iterator[dict[str, Any]]:
        try:
            for line in iter_resp_lines(res):
                yield json.loads(line)
        finally:
            res.release_conn()

    @counted
    def create_pod(self, manifest: dict[str, Any]) -> bool:
        """Create; False if it already exists (a Pod is never created twice)."""
        try:
            self.core.create_namespaced_pod(manifest["metadata"]["namespace"], manifest, _preload_content=False)  # type: ignore[arg-type]  # stub wrong: the client also takes a plain dict body
            return True
        except ApiException as err:
            if err.status == 409:
                return False
            raise

    @counted
    def write_secret(self, manifest: dict[str, Any]) -> None:
        """Create the Secret, or replace it when it exists (the operator never reads Secrets)."""
        meta = manifest["metadata"]
        try:
            self.core.create_namespaced_secret(meta["namespace"], manifest, _preload_content=False)  # type: ignore[arg-type]  # stub wrong: the client also takes a plain dict body
        except ApiException as err:
            if err.status != 409:
                raise
            self.core.replace_namespaced_secret(meta["name"], meta["namespace"], manifest, _preload_content=False)  # type: ignore[arg-type]  # stub wrong: the client also takes a plain dict body

    @counted
    def delete_pod(self, namespace: str, name: str, grace: int | None) -> None:
        try:
            self.core.delete_namespaced_pod(name, namespace, grace_period_seconds=grace, _preload_content=False)
        except ApiException as err:
            if err.status != 404:
                raise

    @counted
    def last_log_line(self, namespace: str, name: str) -> str | None:
        try:
            text = self.core.read_namespaced_pod_log(name, namespace, tail_lines=1, _request_timeout=3)
        except ApiException:
            return None
        except Exception:  # noqa: BLE001 - a log is a nicety, never a reason to fail
            return None
        lines = [ln for ln in (text or "").splitlines() if ln.strip()]
        return lines[-1].strip() if lines else None

    @counted
    def replace_status(self, job: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        meta = job["metadata"]
        body = {
            "apiVersion": job["apiVersion"],
            "kind": job["kind"],
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "resourceVersion": meta["resourceVersion"],
            },
            "spec": job["spec"],
            "status": status,
        }
        return cast(
            "dict[str, Any]",
            self.custom.replace_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], body
            ),
        )

    @counted
    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": status}
            ),
        )

    @counted
    def set_finalizers(self, job: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
        """Merge patch guarded by the resourceVersion read (a concurrent change is a 409, retried); the job after."""
        meta = job["metadata"]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
        return cast(
            "dict[str, Any]",
            self.custom.patch_namespaced_custom_object(GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], patch),
        )

    @counted
    def event(self, job: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = job["metadata"]
        now = datetime.now(UTC)
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": job["apiVersion"],
                "kind": job["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "type": type_,
            "reason": reason[:128],
            "message": message[:1024],
            "firstTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": 1,
            "source": {"component": MANAGER},
            "reportingComponent": MANAGER,
            "reportingInstance": MANAGER,
        }
        self.core.create_namespaced_event(meta["namespace"], body, _preload_content=False)  # type: ignore[arg-type]  # stub wrong: the client also takes a plain dict body
