"""kopf wiring: job watch events only trigger reconciles; the work is in ``engine``.

Stage Pods are watched by ``podwatch`` (not kopf): it keeps the cache the reconciles
read and triggers the owning job on each change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import kopf

from dubbing.api.v1alpha1 import GROUP, PLURAL, VERSION

from . import metrics
from .admission import Admission, RedisSlots
from .engine import Engine, job_key
from .kube import Kube, load
from .podcache import PodCache
from .podwatch import PodWatch
from .settings import Settings

log = logging.getLogger("dubbing_operator")


class State:
    engine: Engine | None = None
    kubeconfig: str | None = None
    namespace: str | None = None
    settings: Settings | None = None
    pod_watch: PodWatch | None = None


STATE = State()


class NoDiffBase(kopf.DiffBaseStorage):
    """No handler here reacts to what changed since an object was last handled (there is only
    ``on.event``), so kopf keeps no last-handled state and builds none: its default built one
    on every watch event by deep-copying the whole job, which showed on hollow nodes."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return cast(kopf.BodyEssence, {})

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def build_engine(settings: Settings, kubeconfig: str | None, namespace: str | None) -> tuple[Engine, PodWatch]:
    """The engine, and the Pod watch that feeds its cache and triggers it (started by the caller)."""
    store = RedisSlots(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
    admission = Admission(settings.max_running_gpu_jobs, settings.max_running_jobs_per_user, store, metrics.set_mode)
    metrics.set_mode(admission.mode)
    cache = PodCache()
    timeout = settings.api_timeout_seconds
    engine = Engine(Kube(load(kubeconfig, settings.api_workers, timeout)), settings, admission, namespace, cache)
    # its own client: the stream holds a connection for minutes
    watch = PodWatch(Kube(load(kubeconfig, 2, timeout)), namespace, cache, engine.trigger)
    return engine, watch


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.peering.standalone = True
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.dubbing.dev")
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.enabled = False  # the operator posts its own, meaningful Events
    settings.watching.server_timeout = 300
    # kopf's own calls (the DubbingJob watch, its annotations) never wait without end either
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = STATE.settings.api_timeout_seconds if STATE.settings else 20.0
    settings.networking.connect_timeout = 10
    assert STATE.settings is not None
    engine, watch = build_engine(STATE.settings, STATE.kubeconfig, STATE.namespace)
    watch.start(asyncio.get_running_loop())
    STATE.engine, STATE.pod_watch = engine, watch
    mode = STATE.engine.admission.mode
    log.info("dubbing operator started; queue backend: %s", mode)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def job_event(event: kopf.RawEvent, namespace: str | None, name: str, **_: Any) -> None:
    if STATE.engine is None:
        return
    key = job_key(cast(str, namespace), name)  # DubbingJobs are namespaced: kopf always passes one
    if event.get("type") == "DELETED":
        STATE.engine.observe_job(key, None)
        STATE.engine.admission.update(None, key)
        return
    obj = event.get("object") or {}
    if obj.get("metadata"):
        STATE.engine.observe_job(key, dict(obj))
    version = (obj.get("metadata") or {}).get("resourceVersion")
    if STATE.engine.is_own_write(key, version):
        return
    STATE.engine.trigger(key)


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if STATE.pod_watch is not None:
        STATE.pod_watch.stop()


async def resync_loop(interval: float) -> None:
    """List everything once as soon as the engine exists (nothing is admitted before), then every ``interval``."""
    while STATE.engine is None:
        await asyncio.sleep(0.05)
    while True:
        engine = STATE.engine
        try:
            await engine.resync()
        except Exception:
            log.exception("resync failed")
        await asyncio.sleep(interval)
