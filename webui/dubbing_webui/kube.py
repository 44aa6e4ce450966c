"""Kubernetes API clients built from a kubeconfig or the in-cluster service account."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client

from dubbing.kubeconfig import DEFAULT_TIMEOUT, api_client


@dataclass
class Kube:
    api: client.ApiClient
    custom: client.CustomObjectsApi
    core: client.CoreV1Api

    @classmethod
    def connect(cls, kubeconfig: str | None, timeout: float = DEFAULT_TIMEOUT[1]) -> Kube:
        # no call waits without end for a hanging API server
        api = api_client(kubeconfig, timeout=(min(DEFAULT_TIMEOUT[0], timeout), timeout))
        return cls(api, client.CustomObjectsApi(api), client.CoreV1Api(api))

    def healthy(self) -> bool:
        try:
            client.VersionApi(self.api).get_code(_request_timeout=3)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
