"""kopf wiring: watch events only trigger reconciles; the work is in ``engine``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from dubbing.api.v1alpha1 import GROUP, JOB_LABEL, PLURAL, VERSION

from . import metrics
from .admission import Admission, RedisSlots
from .engine import Engine, job_key
from .kube import Kube, load
from .settings import Settings

log = logging.getLogger("dubbing_operator")


class State:
    engine: Engine | None = None
    kubeconfig: str | None = None
    namespace: str | None = None
    settings: Settings | None = None


STATE = State()


def build_engine(settings: Settings, kubeconfig: str | None, namespace: str | None) -> Engine:
    store = RedisSlots(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
    admission = Admission(settings.max_running_gpu_jobs, settings.max_running_jobs_per_user, store, metrics.set_mode)
    metrics.set_mode(admission.mode)
    return Engine(Kube(load(kubeconfig, settings.api_workers)), settings, admission, namespace)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.peering.standalone = True
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.dubbing.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="kopf.dubbing.dev")
    settings.posting.enabled = False  # the operator posts its own, meaningful Events
    settings.watching.server_timeout = 300
    assert STATE.settings is not None
    STATE.engine = build_engine(STATE.settings, STATE.kubeconfig, STATE.namespace)
    mode = STATE.engine.admission.mode
    log.info("dubbing operator started; queue backend: %s", mode)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def job_event(event: dict[str, Any], namespace: str, name: str, **_: Any) -> None:
    if STATE.engine is None:
        return
    key = job_key(namespace, name)
    if event.get("type") == "DELETED":
        STATE.engine.admission.update(None, key)
        return
    version = ((event.get("object") or {}).get("metadata") or {}).get("resourceVersion")
    if STATE.engine.is_own_write(key, version):
        return
    STATE.engine.trigger(key)


@kopf.on.event("", "v1", "pods", labels={JOB_LABEL: kopf.PRESENT})
async def pod_event(body: kopf.Body, namespace: str, **_: Any) -> None:
    if STATE.engine is None:
        return
    for ref in body.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("kind") == "DubbingJob" and ref.get("controller"):
            STATE.engine.trigger(job_key(namespace, ref["name"]))


async def resync_loop(interval: float) -> None:
    """List everything once as soon as the engine exists (nothing is admitted before), then every ``interval``."""
    while STATE.engine is None:
        await asyncio.sleep(0.05)
    while True:
        engine = STATE.engine
        try:
            await engine.resync()
        except Exception:  # noqa: BLE001
            log.exception("resync failed")
        await asyncio.sleep(interval)
