"""A small JSON REST client for the kube-apiserver, used by the development kubelet.

The kubelet works with plain dicts (the wire format) rather than generated model
classes: its status documents are built by pure functions and sent as they are.
Credentials come from a kubeconfig through the official client's loader.
"""

from __future__ import annotations

import json
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config


class ApiError(Exception):
    """A non-2xx answer from the apiserver."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"apiserver answered {status}: {body[:500]}")
        self.status = status
        self.body = body


class KubeApi:
    """Minimal apiserver client: get/list/create/patch/delete and watch streams."""

    def __init__(self, kubeconfig: str, timeout: float = 30.0, files_dir: Path | None = None) -> None:
        """``files_dir``: where the client library writes a kubeconfig's embedded CA, certificate and
        key (default: the temp folder). It removes them at exit, which a SIGKILL skips: a kubelet
        gives its own folder, emptied here first, so a killed one leaves nothing on the host."""
        cfg = k8s_client.Configuration()
        if files_dir is not None:
            shutil.rmtree(files_dir, ignore_errors=True)
            files_dir.mkdir(parents=True, mode=0o700)
        k8s_config.load_kube_config(
            config_file=kubeconfig,
            client_configuration=cfg,
            temp_file_path=None if files_dir is None else str(files_dir),
        )
        self.base_url = cfg.host.rstrip("/")
        headers = {"Accept": "application/json"}
        token = (cfg.api_key or {}).get("authorization")
        if token:
            headers["Authorization"] = token
        if cfg.verify_ssl:
            ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        self._ssl = ctx
        self._headers = headers
        self._client = httpx.Client(base_url=self.base_url, verify=ctx, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        content = json.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if content is not None else {}
        resp = self._client.request(method, path, content=content, params=params, headers=headers)
        if resp.status_code >= 300:
            raise ApiError(resp.status_code, resp.text)
        return resp.json() if resp.content else {}

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body=body)

    def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", path, body=body)

    def delete(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("DELETE", path, body=body)

    def watch(self, path: str, params: dict[str, Any], timeout_seconds: int = 240) -> Iterator[dict[str, Any]]:
        """Yield watch events ({type, object}) until the server closes the stream."""
        query = dict(params, watch="true", timeoutSeconds=str(timeout_seconds), allowWatchBookmarks="true")
        timeout = httpx.Timeout(30.0, read=timeout_seconds + 30.0)
        with httpx.Client(
            base_url=self.base_url, verify=self._ssl, headers=self._headers, timeout=timeout
        ) as stream_client:
            with stream_client.stream("GET", path, params=query) as resp:
                if resp.status_code >= 300:
                    raise ApiError(resp.status_code, resp.read().decode(errors="replace"))
                for line in resp.iter_lines():
                    if line.strip():
                        yield json.loads(line)


def pod_path(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{quote(namespace)}/pods"
    return f"{base}/{quote(name)}" if name else base


def namespaced_path(kind_plural: str, namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}/{kind_plural}/{quote(name)}"
