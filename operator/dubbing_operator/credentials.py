"""Job-scoped object store keys: minted through the store's STS ``AssumeRole`` with a session
policy (:mod:`.s3policy`), and handed to the job's stage Pods in a Secret the job owns.

The operator holds the store's admin keys; stage Pods never see them. The Secret is written
(create, else replace) and never read back: the operator remembers when the keys it wrote expire,
and mints new ones before a stage starts that could outlive them (after a restart it does not
know, so it mints once more).
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dubbing.api.v1alpha1 import DubbingJob

from .naming import MANAGER, credentials_secret_name, label_value
from .s3policy import JobScope, session_policy

log = logging.getLogger("dubbing_operator")

ACCESS_KEY, SECRET_KEY, SESSION_TOKEN = "accessKey", "secretKey", "sessionToken"


@dataclass(frozen=True)
class TemporaryKeys:
    access_key: str
    secret_key: str
    session_token: str
    expires: datetime | None


class CredentialsError(RuntimeError):
    """The object store would not mint keys (unreachable, or it refused)."""


def sts_endpoint(endpoint: str, secure: bool) -> str:
    """``host:port`` or a URL -> the URL STS requests go to (the S3 endpoint itself, for MinIO)."""
    if "://" in endpoint:
        return endpoint.rstrip("/")
    return f"{'https' if secure else 'http'}://{endpoint}"


def mint(
    scope: JobScope,
    *,
    endpoint: str,
    secure: bool,
    access_key: str,
    secret_key: str,
    lifetime_seconds: int,
    region: str | None = None,
) -> TemporaryKeys:
    """Temporary keys limited to ``scope``, valid for ``lifetime_seconds``."""
    import urllib3
    from minio.credentials import AssumeRoleProvider

    provider = AssumeRoleProvider(
        sts_endpoint=sts_endpoint(endpoint, secure),
        access_key=access_key,
        secret_key=secret_key,
        duration_seconds=lifetime_seconds,
        policy=json.dumps(session_policy(scope), separators=(",", ":")),
        region=region,
        http_client=urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=20), retries=urllib3.Retry(total=2)),
    )
    try:
        creds = provider.retrieve()
    except Exception as err:
        raise CredentialsError(f"the object store did not mint job-scoped keys: {type(err).__name__}: {err}") from err
    if not creds.session_token:
        raise CredentialsError("the object store answered AssumeRole without a session token")
    return TemporaryKeys(creds.access_key, creds.secret_key, creds.session_token, creds.expiration)


def secret_manifest(job: DubbingJob, keys: TemporaryKeys) -> dict[str, Any]:
    """The Secret holding ``keys`` for ``job``'s stage Pods, owned by the job (deleted with it)."""
    meta = job.metadata
    assert meta.name and meta.namespace and meta.uid

    def b64(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    annotations = {"dubbing.dev/expires": keys.expires.isoformat()} if keys.expires else {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": credentials_secret_name(meta.name),
            "namespace": meta.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": MANAGER,
                "app.kubernetes.io/part-of": "dubbing",
                "dubbing.dev/job": label_value(meta.name),
            },
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": job.apiVersion,
                    "kind": job.kind,
                    "name": meta.name,
                    "uid": meta.uid,
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "data": {
            ACCESS_KEY: b64(keys.access_key),
            SECRET_KEY: b64(keys.secret_key),
            SESSION_TOKEN: b64(keys.session_token),
        },
    }
