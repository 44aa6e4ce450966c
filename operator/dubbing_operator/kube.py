"""Thin wrappers over the Kubernetes client: the operator's only reads and writes.

Every call sends and reads plain JSON through the client's authenticated connection
pool (``Kube.request``), never the generated API methods: those validate a dict body
into the client's pydantic models and back, and build models of the answer, which
cost several times the CPU of the JSON itself (measured on hollow nodes: the Pod
create alone was a seventh of the operator's CPU).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlencode

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from dubbing.api.v1alpha1 import GROUP, JOB_LABEL, PLURAL, VERSION
from dubbing.kubeconfig import DEFAULT_TIMEOUT, api_client

from . import metrics
from .jobcopies import JobCopy, copy_of
from .naming import MANAGER, label_value

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _same(obj: dict[str, Any]) -> Any:
    return obj


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
        self.core = client.CoreV1Api(api)  # for the one text answer: a Pod's log

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
        stream: bool = False,
        timeout: Any = None,
    ) -> Any:
        """One call as JSON: the parsed answer (a dict), or the open response when ``stream``.
        An answer outside 2xx raises ``ApiException`` with its status, like the generated methods."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        _, url, headers, _, _ = self.api.param_serialize(
            method=method, resource_path=path, header_params=headers, auth_settings=["BearerToken"]
        )
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        resp = self.api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=timeout
        ).response  # the urllib3 response: not read yet
        if not 200 <= resp.status <= 299:
            data = resp.data
            resp.release_conn()
            raise ApiException(status=resp.status, reason=resp.reason, body=data.decode("utf-8", "replace"))
        if stream:
            return resp
        data = resp.data
        return json.loads(data) if data else {}

    @counted
    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return cast("dict[str, Any]", self.request("GET", _job_path(namespace, name)))
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def list_all(
        self, path: str, query: dict[str, Any], call: str, keep: Callable[[dict[str, Any]], T] = _same
    ) -> tuple[list[T], str]:
        """Every object of a LIST, a page of ``LIST_PAGE`` at a time (each request stays small and within
        the timeout: one answer of 5,000 jobs took longer than that on a busy API server), and the
        list's resourceVersion; each page counts as one ``call``.  ``keep`` turns each object into
        what is kept of it as its page comes in.  A continue token that expired (410) starts the
        list again."""
        items: list[T] = []
        token: str | None = None
        while True:
            metrics.API_CALLS.labels(call=call).inc()
            try:
                page = self.request("GET", path, query={**query, "limit": str(LIST_PAGE), "continue": token})
            except ApiException as err:
                if err.status != 410 or token is None:
                    raise
                items, token = [], None
                continue
            items += [keep(obj) for obj in page.get("items") or []]
            meta = page.get("metadata") or {}
            token = meta.get("continue") or None
            if token is None:
                return items, str(meta.get("resourceVersion") or "")

    def list_jobs(self, namespace: str | None) -> list[JobCopy]:
        """Every job, in the compact form the operator keeps (made a page at a time)."""
        return self.list_all(_job_path(namespace), {}, "list_jobs", copy_of)[0]

    @counted
    def job_pods(self, namespace: str, name: str, uid: str) -> list[dict[str, Any]]:
        res = self.request("GET", _pod_path(namespace), query={"labelSelector": f"{JOB_LABEL}={label_value(name)}"})
        return [
            p for p in res.get("items") or []
            if any(r.get("uid") == uid for r in (p["metadata"].get("ownerReferences") or []))
        ]  # fmt: skip

    def list_stage_pods(self, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        """Every stage Pod (in ``namespace``, else everywhere) and the list's resourceVersion."""
        return self.list_all(_pod_path(namespace), {"labelSelector": JOB_LABEL}, "list_stage_pods")

    @counted
    def watch_stage_pods(self, namespace: str | None, resource_version: str, timeout: int) -> Iterator[dict[str, Any]]:
        """The watch events of stage Pods after ``resource_version``, bookmarks included, for up to ``timeout`` s."""
        query = {
            "labelSelector": JOB_LABEL,
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout),
        }
        res = self.request("GET", _pod_path(namespace), query=query, stream=True, timeout=(10, timeout + 30))
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
            self.request("POST", _pod_path(manifest["metadata"]["namespace"]), manifest)
            return True
        except ApiException as err:
            if err.status == 409:
                return False
            raise

    @counted
    def write_secret(self, manifest: dict[str, Any]) -> None:
        """Create the Secret, or replace it when it exists (the operator never reads Secrets)."""
        meta = manifest["metadata"]
        path = f"/api/v1/namespaces/{quote(meta['namespace'])}/secrets"
        try:
            self.request("POST", path, manifest)
        except ApiException as err:
            if err.status != 409:
                raise
            self.request("PUT", f"{path}/{quote(meta['name'])}", manifest)

    @counted
    def delete_pod(self, namespace: str, name: str, grace: int | None) -> None:
        try:
            self.request("DELETE", f"{_pod_path(namespace)}/{quote(name)}", query={"gracePeriodSeconds": grace})
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
        return cast("dict[str, Any]", self.request("PUT", _job_path(meta["namespace"], meta["name"]) + "/status", body))

    @counted
    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            self.request("PATCH", _job_path(namespace, name) + "/status", {"status": status}, content_type=MERGE_PATCH),
        )

    @counted
    def set_finalizers(self, job: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
        """Merge patch guarded by the resourceVersion read (a concurrent change is a 409, retried); the job after."""
        meta = job["metadata"]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
        return cast(
            "dict[str, Any]",
            self.request("PATCH", _job_path(meta["namespace"], meta["name"]), patch, content_type=MERGE_PATCH),
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
        self.request("POST", f"/api/v1/namespaces/{quote(meta['namespace'])}/events", body)


MERGE_PATCH = "application/merge-patch+json"
#: Objects per page of a full LIST.
LIST_PAGE = 500


def _job_path(namespace: str | None, name: str | None = None) -> str:
    base = f"/apis/{GROUP}/{VERSION}" + (f"/namespaces/{quote(namespace)}" if namespace else "") + f"/{PLURAL}"
    return f"{base}/{quote(name)}" if name else base


def _pod_path(namespace: str | None) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}/pods" if namespace else "/api/v1/pods"
