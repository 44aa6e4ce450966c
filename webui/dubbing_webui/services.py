"""Everything the routes use, built once per app from the settings."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .accounts import Accounts
from .config import Settings
from .db import DatabaseUnavailable, open_database
from .editor import EditorService, artifacts_store
from .events import JobEventHub
from .glossaries import GlossaryService
from .jobs import JobService
from .kube import Kube
from .limits import RateLimit, StreamSlots
from .metrics import Metrics
from .model_pulls import ModelPulls
from .objects import ObjectStore
from .quotas import Limits
from .redisconn import RedisLink
from .scorecards import ScorecardService
from .store import Store
from .throttle import LoginThrottle
from .uploads import UploadService

log = logging.getLogger(__name__)
#: How long a replica waits at start for its database (a bundled PostgreSQL starts with it).
DATABASE_WAIT_S = 120.0


def _open_store(settings: Settings) -> Store:
    """The store, once its database answers (tried every 2 s for :data:`DATABASE_WAIT_S`)."""
    deadline = time.monotonic() + DATABASE_WAIT_S
    while True:
        db = open_database(settings.database_url, settings.data_dir, settings.database_pool_size)
        try:
            return Store(db)
        except DatabaseUnavailable as exc:
            db.close()
            if time.monotonic() > deadline:
                raise
            log.warning("%s; trying again", exc)
            time.sleep(2)


@dataclass
class Services:
    settings: Settings
    store: Store
    redis: RedisLink
    accounts: Accounts
    objects: ObjectStore
    uploads: UploadService
    kube: Kube
    jobs: JobService
    hub: JobEventHub
    metrics: Metrics
    scorecards: ScorecardService
    pulls: ModelPulls
    streams: StreamSlots
    notify_tests: RateLimit
    glossaries: GlossaryService
    editor: EditorService | None = None

    @classmethod
    def build(cls, settings: Settings) -> Services:
        store = _open_store(settings)
        link = RedisLink(settings.redis_url)
        throttle = LoginThrottle(
            link,
            settings.login_max_failures,
            settings.login_window_s,
            max_failures_per_client=settings.login_max_failures_per_client,
        )
        accounts = Accounts(
            store, throttle, settings.session_hours, settings.session_idle_minutes or None, settings.api_token_days
        )
        objects = ObjectStore(settings)
        kube = Kube.connect(settings.kubeconfig, settings.kube_timeout_seconds)
        limits = Limits(settings.quota_stored_bytes, settings.quota_open_uploads, settings.quota_active_jobs)
        glossaries = GlossaryService(store)
        artifacts = artifacts_store(settings, objects)
        jobs = JobService(kube, settings.namespace, store, objects, limits, glossaries, logs=artifacts)
        return cls(
            settings=settings,
            store=store,
            redis=link,
            accounts=accounts,
            objects=objects,
            uploads=UploadService(settings, store, objects),
            kube=kube,
            jobs=jobs,
            editor=EditorService(jobs, objects, artifacts),
            hub=JobEventHub(kube, settings.namespace),
            metrics=Metrics(),
            scorecards=ScorecardService(jobs, objects),
            pulls=ModelPulls(kube, settings.model_pull_job, settings.model_pull_namespace, settings.model_pull_prefix),
            streams=StreamSlots(store, settings.max_streams_per_user),
            notify_tests=RateLimit(
                store, "test notifications", settings.notify_tests_per_window, settings.notify_test_window_s
            ),
            glossaries=glossaries,
        )
