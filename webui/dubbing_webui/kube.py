"""Kubernetes API clients built from a kubeconfig or the in-cluster service account."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client

from dubbing.kubeconfig import client_configuration


@dataclass
class Kube:
    api: client.ApiClient
    custom: client.CustomObjectsApi
    core: client.CoreV1Api

    @classmethod
    def connect(cls, kubeconfig: str | None) -> Kube:
        api = client.ApiClient(client_configuration(kubeconfig))
        return cls(api, client.CustomObjectsApi(api), client.CoreV1Api(api))

    def healthy(self) -> bool:
        try:
            client.VersionApi(self.api).get_code(_request_timeout=3)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
