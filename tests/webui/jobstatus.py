"""Write a DubbingJob's status as the operator would, so a web UI test can show any state."""

from __future__ import annotations

from typing import Any

from dubbing.api import v1alpha1 as api


def set_status(kube: Any, namespace: str, name: str, status: dict[str, Any]) -> None:
    kube.custom().patch_namespaced_custom_object_status(
        api.GROUP, api.VERSION, namespace, api.PLURAL, name, {"status": status}
    )
