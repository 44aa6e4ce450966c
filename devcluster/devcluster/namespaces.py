"""Deleting a namespace that holds DubbingJobs after the operator has stopped."""

from __future__ import annotations

import sys
from typing import Any

GROUP, VERSION, PLURAL = "dubbing.dev", "v1alpha1", "dubbingjobs"


def clear_job_finalizers(custom: Any, namespace: str) -> int:
    """Take the finalizer off every DubbingJob in ``namespace``; return how many were cleared.

    The operator removes its own finalizer when a job is deleted. Once it has stopped
    (a test or a benchmark is over) nobody will, so the jobs, and a namespace being
    deleted with them, would stay Terminating forever. ``custom`` is a
    ``kubernetes.client.CustomObjectsApi``.
    """
    cleared = 0
    for item in custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]:
        if item["metadata"].get("finalizers"):
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, item["metadata"]["name"], {"metadata": {"finalizers": None}}
            )
            cleared += 1
    return cleared


def clear_job_finalizers_quietly(custom: Any, namespace: str) -> None:
    """``clear_job_finalizers``, best effort: no CRD, no namespace or a job already gone is not an error."""
    try:
        clear_job_finalizers(custom, namespace)
    except Exception as err:  # noqa: BLE001 - clean-up; say what failed and go on
        print(f"could not clear the DubbingJobs' finalizers in {namespace}: {err}", file=sys.stderr)
